/**
 * @module tls-memory: what one kept-alive client connection costs in memory, by transport — the
 * floor under the verifier's memory per agent (docs/performance.md, "Memory"). An mTLS server
 * (P-256 certificates, client certificate required) runs in a child process; each variant runs in
 * a fresh client process that opens N connections, sends one request on each and keeps them idle.
 * Printed per variant: RSS and V8 heap per idle connection (after a full GC), then client CPU per
 * request over R more rounds on the open connections. Variants: plain TCP; TLS 1.3 and 1.2 on the
 * socket as the verifier uses them; TLS 1.3 with session tickets refused by the server; TLS 1.3
 * over a JavaScript Duplex around the socket (Node then sizes its ciphertext buffers by chunk);
 * TLS 1.3 through @keylime/crypto's builtin client on a plain socket (what the verifier uses).
 * Run: `tools/bench tls-memory [--connections N] [--rounds R]`.
 */
import { fork } from 'node:child_process';
import { constants, createPrivateKey, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { Tls13Client } from '@keylime/crypto';
import { createTestPki } from '@keylime/server/src/testing/openssl-pki';
import { fullGc, positiveIntArg } from './support/process';

const VARIANTS = [
  'tcp',
  'tls1.3',
  'tls1.2',
  'tls1.3-no-tickets',
  'tls1.3-js-stream',
  'tls1.3-builtin',
] as const;
type Variant = (typeof VARIANTS)[number];

interface Pki {
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly caCert: string;
}

interface Figures {
  readonly variant: Variant;
  readonly rssKiB: number;
  readonly heapKiB: number;
  readonly usPerRequest: number;
}

/** A quote-sized answer. */
const BODY = `{"code":200,"status":"Success","results":{"quote":"r${'A'.repeat(1400)}"}}`;
const ANSWER = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;
const REQUEST = 'GET /v2.6/quotes/integrity?nonce=abc HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';

function runServer(pki: Pki, variant: Variant): void {
  const onSocket = (s: net.Socket): void => {
    s.on('data', () => s.write(ANSWER));
    s.on('error', () => undefined);
  };
  const server =
    variant === 'tcp'
      ? net.createServer(onSocket)
      : tls.createServer(
          {
            cert: pki.serverCert,
            key: pki.serverKey,
            ca: pki.caCert,
            requestCert: true,
            rejectUnauthorized: true,
            ...(variant === 'tls1.3-no-tickets'
              ? { secureOptions: constants.SSL_OP_NO_TICKET }
              : {}),
          },
          onSocket,
        );
  server.maxConnections = 1 << 20;
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
}

/** A Duplex around a socket: TLS on top of it runs over Node's JavaScript stream wrapper. */
class SocketDuplex extends Duplex {
  constructor(private readonly socket: net.Socket) {
    super();
    socket.on('data', (d: Buffer) => {
      if (!this.push(d)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
  }
  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.socket.write(chunk, cb);
  }
  override _final(cb: () => void): void {
    this.socket.end();
    cb();
  }
  override _destroy(e: Error | null, cb: (e: Error | null) => void): void {
    this.socket.destroy();
    cb(e);
  }
}

/** What a request needs of a connection: a net.Socket, or the builtin client on one. */
interface Channel {
  write(data: string): unknown;
  on(event: 'data', listener: (d: Buffer) => void): unknown;
  off(event: 'data', listener: (d: Buffer) => void): unknown;
  destroy(): unknown;
}

/** @keylime/crypto's TLS 1.3 client on a plain socket, emitting decrypted 'data'. */
class BuiltinChannel extends EventEmitter implements Channel {
  constructor(
    private readonly socket: net.Socket,
    private readonly engine: Tls13Client,
    onReady: () => void,
    onError: (e: Error) => void,
  ) {
    super();
    socket.once('connect', () => socket.write(engine.start()));
    socket.on('data', (d: Buffer) => {
      try {
        const events = engine.receive(d);
        for (const record of events.send) socket.write(record);
        if (events.established) onReady();
        for (const data of events.data) this.emit('data', data);
      } catch (e) {
        socket.destroy();
        onError(e as Error);
      }
    });
    socket.once('error', onError);
  }
  write(data: string): void {
    this.socket.write(this.engine.seal(Buffer.from(data)));
  }
  destroy(): void {
    this.socket.destroy();
  }
}

/** Sends one request and resolves when the whole answer is in. */
function exchange(s: Channel): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      got += d.length;
      if (got >= ANSWER.length) {
        s.off('data', onData);
        resolve();
      }
    };
    s.on('data', onData);
    s.write(REQUEST);
  });
}

interface ClientIdentity {
  readonly context: tls.SecureContext;
  readonly chain: Buffer[];
  readonly key: ReturnType<typeof createPrivateKey>;
}

function open(variant: Variant, port: number, id: ClientIdentity): Promise<Channel> {
  const context = id.context;
  return new Promise((resolve, reject) => {
    const target = { host: '127.0.0.1', port };
    if (variant === 'tls1.3-builtin') {
      const engine = new Tls13Client({
        certificateChain: id.chain,
        privateKey: id.key,
        checkServer: () => ({ ok: true }),
      });
      const c: BuiltinChannel = new BuiltinChannel(
        net.connect(target),
        engine,
        () => resolve(c),
        reject,
      );
      return;
    }
    const secure = { secureContext: context, rejectUnauthorized: false };
    const s =
      variant === 'tcp'
        ? net.connect(target)
        : variant === 'tls1.3-js-stream'
          ? tls.connect({ ...secure, socket: new SocketDuplex(net.connect(target)) })
          : tls.connect({ ...target, ...secure });
    s.once(variant === 'tcp' ? 'connect' : 'secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

async function runClient(pki: Pki, variant: Variant, port: number, n: number, rounds: number) {
  const id: ClientIdentity = {
    context: tls.createSecureContext({
      cert: pki.clientCert,
      key: pki.clientKey,
      ca: pki.caCert,
      maxVersion: variant === 'tls1.2' ? 'TLSv1.2' : 'TLSv1.3',
    }),
    chain: [new X509Certificate(pki.clientCert).raw],
    key: createPrivateKey(pki.clientKey),
  };
  const sockets: Channel[] = [];
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < n) {
      started++;
      const s = await open(variant, port, id);
      sockets.push(s);
      await exchange(s);
    }
  };
  // Warm the code paths outside the measurement.
  for (let i = 0; i < 20; i++) {
    const s = await open(variant, port, id);
    await exchange(s);
    s.destroy();
  }
  await new Promise((r) => setTimeout(r, 100));
  fullGc();
  const before = process.memoryUsage();
  await Promise.all(Array.from({ length: 20 }, lane));
  await new Promise((r) => setTimeout(r, 300));
  fullGc();
  const idle = process.memoryUsage();
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) await Promise.all(sockets.map(exchange));
  const cpu = process.cpuUsage(cpu0);
  const figures: Figures = {
    variant,
    rssKiB: (idle.rss - before.rss) / n / 1024,
    heapKiB: (idle.heapUsed - before.heapUsed) / n / 1024,
    usPerRequest: (cpu.user + cpu.system) / (rounds * sockets.length),
  };
  for (const s of sockets) s.destroy();
  return figures;
}

function child(role: string, variant: Variant, env: Record<string, string>) {
  return fork(__filename, [role, variant], {
    execArgv: ['-r', '@swc-node/register', '--expose-gc'],
    env: { ...process.env, ...env },
  });
}

async function main(): Promise<void> {
  const n = positiveIntArg('--connections', 2000);
  const rounds = positiveIntArg('--rounds', 5);
  const made = createTestPki();
  const pki: Pki = {
    serverCert: made.serverCert,
    serverKey: made.serverKey,
    clientCert: made.clientCert,
    clientKey: made.clientKey,
    caCert: made.caCert,
  };
  const env = { TLS_MEMORY_PKI: JSON.stringify(pki), TLS_MEMORY_N: String(n) };
  console.log(
    `tls-memory: ${n} kept-alive client connections per variant, one ${ANSWER.length} B answer each, server in another process`,
  );
  console.log('variant              RSS KiB/conn  heap KiB/conn  CPU µs/request');
  for (const variant of VARIANTS) {
    const server = child('--server', variant, env);
    try {
      const port = await new Promise<number>((r) => server.once('message', (m) => r(m as number)));
      const client = child('--client', variant, {
        ...env,
        TLS_MEMORY_PORT: String(port),
        TLS_MEMORY_ROUNDS: String(rounds),
      });
      const f = await new Promise<Figures>((resolve, reject) => {
        client.once('message', (m) => resolve(m as Figures));
        client.once('exit', (code) => reject(new Error(`${variant} client exited (${code})`)));
      });
      client.kill();
      console.log(
        `${f.variant.padEnd(20)} ${f.rssKiB.toFixed(1).padStart(12)}  ${f.heapKiB.toFixed(1).padStart(13)}  ${f.usPerRequest.toFixed(1).padStart(14)}`,
      );
    } finally {
      server.kill();
    }
  }
}

const role = process.argv[2];
const variantArg = process.argv[3] as Variant;
if (role === '--server') {
  runServer(JSON.parse(process.env['TLS_MEMORY_PKI'] ?? '{}') as Pki, variantArg);
} else if (role === '--client') {
  const env = process.env;
  runClient(
    JSON.parse(env['TLS_MEMORY_PKI'] ?? '{}') as Pki,
    variantArg,
    Number(env['TLS_MEMORY_PORT']),
    Number(env['TLS_MEMORY_N']),
    Number(env['TLS_MEMORY_ROUNDS']),
  ).then(
    (f) => process.send?.(f),
    (e: unknown) => {
      console.error(`tls-memory client: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
} else {
  main().catch((e: unknown) => {
    console.error(`tls-memory: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
