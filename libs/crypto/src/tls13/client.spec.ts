/**
 * Interop: the sans-I/O client against OpenSSL (through node:tls servers and the `openssl s_server`
 * CLI) over real loopback TCP, and hostile input built from real handshakes: a man in the middle
 * that mutates the server's records, a decrypting one that holds the server's traffic secrets
 * (node:tls `keylog`) and seals forged records under the real keys, or bytes fed to `receive`.
 * Certificates are made by the openssl CLI per run; every socket, server and child process is
 * closed after each test.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { createCipheriv, createDecipheriv, createPrivateKey, X509Certificate } from 'node:crypto';
import type { CipherGCMTypes } from 'node:crypto';
import { Tls13Client, TlsAlert, TlsError } from './client';
import type { ServerCheck, Tls13ClientOptions, TlsEvents } from './client';
import { cipherSuite, nextTrafficSecret, trafficKey } from './key-schedule';
import type { CipherSuite, TrafficKey } from './key-schedule';

jest.setTimeout(15_000);

const HOST = '127.0.0.1';
const WAIT_MS = 5_000;
const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------------------------
// Certificates (self-signed, made by the openssl CLI)
// ---------------------------------------------------------------------------------------------

interface Pem {
  name: string;
  cert: string;
  key: string;
  der: Buffer;
  certFile: string;
  keyFile: string;
}

let dir = '';

const KEY_ARGS = {
  p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  rsaPss: ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'],
  ed25519: ['-algorithm', 'ED25519'],
} as const;

async function makeCert(
  name: string,
  keyArgs: readonly string[],
  reqArgs: readonly string[] = [],
): Promise<Pem> {
  const keyFile = path.join(dir, `${name}.key`);
  const certFile = path.join(dir, `${name}.crt`);
  await execFileAsync('openssl', ['genpkey', ...keyArgs, '-out', keyFile]);
  await execFileAsync('openssl', [
    'req',
    '-new',
    '-x509',
    '-key',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    ...reqArgs,
  ]);
  const cert = readFileSync(certFile, 'utf8');
  return {
    name,
    cert,
    key: readFileSync(keyFile, 'utf8'),
    der: new X509Certificate(cert).raw,
    certFile,
    keyFile,
  };
}

let serverP256: Pem;
let serverP384: Pem;
let serverRsa: Pem;
let serverRsaPss: Pem;
let serverEd25519: Pem;
let client: Pem;
let clientP384: Pem;
let clientRsa: Pem;
let clientRsaPss: Pem;
let clientEd25519: Pem;
/** A certificate nobody trusts as a CA for the client. */
let stranger: Pem;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'tls13-'));
  [
    serverP256,
    serverP384,
    serverRsa,
    serverRsaPss,
    serverEd25519,
    client,
    clientP384,
    clientRsa,
    clientRsaPss,
    clientEd25519,
    stranger,
  ] = await Promise.all([
    makeCert('server-p256', KEY_ARGS.p256),
    makeCert('server-p384', KEY_ARGS.p384),
    makeCert('server-rsa', KEY_ARGS.rsa),
    makeCert('server-rsa-pss', KEY_ARGS.rsaPss),
    makeCert('server-ed25519', KEY_ARGS.ed25519),
    makeCert('client-p256', KEY_ARGS.p256),
    makeCert('client-p384', KEY_ARGS.p384),
    makeCert('client-rsa', KEY_ARGS.rsa),
    makeCert('client-rsa-pss', KEY_ARGS.rsaPss),
    makeCert('client-ed25519', KEY_ARGS.ed25519),
    makeCert('stranger', KEY_ARGS.p256),
  ]);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Everything a test opened (sockets, servers, child processes), closed after each test. */
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function pinned(pem: Pem): (chain: readonly Buffer[]) => ServerCheck {
  return (chain) =>
    chain[0]?.equals(pem.der) === true ? { ok: true } : { ok: false, reason: 'not pinned' };
}

// ---------------------------------------------------------------------------------------------
// Record framing (headers are in the clear) and a few record builders
// ---------------------------------------------------------------------------------------------

/** Splits complete records off `buf`; returns them and the incomplete rest. */
function splitRecords(buf: Buffer): { records: Buffer[]; rest: Buffer } {
  const records: Buffer[] = [];
  let off = 0;
  while (buf.length - off >= 5) {
    const length = buf.readUInt16BE(off + 3);
    if (buf.length - off - 5 < length) break;
    records.push(buf.subarray(off, off + 5 + length));
    off += 5 + length;
  }
  return { records, rest: buf.subarray(off) };
}

function record(type: number, body: Buffer): Buffer {
  const header = Buffer.of(type, 3, 3, 0, 0);
  header.writeUInt16BE(body.length, 3);
  return Buffer.concat([header, body]);
}

const CCS_RECORD = Buffer.of(20, 3, 3, 0, 1, 1);
/** An encrypted (outer type 23) record's length for `n` bytes of content: + type byte + tag. */
const sealedLength = (n: number): number => 5 + n + 1 + 16;

interface ServerHello {
  version: number;
  random: Buffer;
  sessionId: Buffer;
  suite: number;
  compression: number;
  extensions: [number, Buffer][];
}

/** Parses a plaintext ServerHello record (one message, as OpenSSL sends it). */
function parseServerHello(rec: Buffer): ServerHello {
  expect(rec[0]).toBe(22);
  expect(rec[5]).toBe(2);
  let off = 9;
  const version = rec.readUInt16BE(off);
  off += 2;
  const random = rec.subarray(off, off + 32);
  off += 32;
  const sessionId = rec.subarray(off + 1, off + 1 + (rec[off] ?? 0));
  off += 1 + sessionId.length;
  const suite = rec.readUInt16BE(off);
  off += 2;
  const compression = rec[off] ?? 0;
  off += 1;
  const end = off + 2 + rec.readUInt16BE(off);
  off += 2;
  const extensions: [number, Buffer][] = [];
  while (off < end) {
    const type = rec.readUInt16BE(off);
    const length = rec.readUInt16BE(off + 2);
    extensions.push([type, rec.subarray(off + 4, off + 4 + length)]);
    off += 4 + length;
  }
  expect(off).toBe(rec.length);
  return { version, random, sessionId, suite, compression, extensions };
}

function buildServerHello(sh: ServerHello): Buffer {
  const u16 = (v: number) => Buffer.of(v >> 8, v & 0xff);
  const extensions = Buffer.concat(
    sh.extensions.map(([type, body]) => Buffer.concat([u16(type), u16(body.length), body])),
  );
  const body = Buffer.concat([
    u16(sh.version),
    sh.random,
    Buffer.of(sh.sessionId.length),
    sh.sessionId,
    u16(sh.suite),
    Buffer.of(sh.compression),
    u16(extensions.length),
    extensions,
  ]);
  const message = Buffer.concat([Buffer.of(2, 0, body.length >> 8, body.length & 0xff), body]);
  return record(22, message);
}

/** The extensions of a plaintext ClientHello record, by type. */
function clientHelloExtensions(rec: Buffer): Map<number, Buffer> {
  expect(rec[0]).toBe(22);
  expect(rec[5]).toBe(1);
  let off = 9 + 2 + 32;
  off += 1 + (rec[off] ?? 0); // legacy_session_id
  off += 2 + rec.readUInt16BE(off); // cipher_suites
  off += 1 + (rec[off] ?? 0); // legacy_compression_methods
  const end = off + 2 + rec.readUInt16BE(off);
  off += 2;
  const out = new Map<number, Buffer>();
  while (off < end) {
    const length = rec.readUInt16BE(off + 2);
    out.set(rec.readUInt16BE(off), rec.subarray(off + 4, off + 4 + length));
    off += 4 + length;
  }
  expect(off).toBe(rec.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The engine's side of a TCP connection
// ---------------------------------------------------------------------------------------------

/** How a TCP chunk is handed to `receive`. */
type Feed = (chunk: Buffer) => Buffer[];
const whole: Feed = (chunk) => [chunk];
const byteByByte: Feed = (chunk) => Array.from(chunk, (b) => Buffer.of(b));

interface ConnectOptions extends Partial<Tls13ClientOptions> {
  /** The server certificate the client pins (default: the P-256 server's). */
  pin?: Pem;
  /** The client certificate and key (default: P-256). */
  identity?: Pem;
  feed?: Feed;
}

class Peer {
  readonly engine: Tls13Client;
  readonly socket: net.Socket;
  /** Application data received, concatenated. */
  data = Buffer.alloc(0);
  /** The `send` of every `receive` call that returned, in order. */
  readonly sends: Buffer[][] = [];
  /** Every `receive` call's events (the last one of a throwing call is absent). */
  readonly events: TlsEvents[] = [];
  /** Server records seen on the wire (framing only), and how many when the handshake ended. */
  records = 0;
  recordsAtEstablished = -1;
  established = false;
  closed = false;
  error: unknown = undefined;
  ended = false;
  private framing = Buffer.alloc(0);
  private readonly feed: Feed;
  private readonly waiters = new Set<() => void>();

  constructor(port: number, options: ConnectOptions = {}) {
    const { pin = serverP256, identity = client, feed = whole, ...engineOptions } = options;
    this.feed = feed;
    this.engine = new Tls13Client({
      certificateChain: [identity.der],
      privateKey: createPrivateKey(identity.key),
      checkServer: pinned(pin),
      ...engineOptions,
    });
    this.socket = net.connect({ host: HOST, port }, () => this.socket.write(this.engine.start()));
    this.socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.ended = true;
      this.notify();
    });
    cleanups.push(() => {
      this.socket.destroy();
    });
  }

  private onChunk(chunk: Buffer): void {
    const { records, rest } = splitRecords(Buffer.concat([this.framing, chunk]));
    this.records += records.length;
    this.framing = Buffer.from(rest);
    if (this.error === undefined) {
      for (const piece of this.feed(chunk)) {
        try {
          const ev = this.engine.receive(piece);
          this.events.push(ev);
          this.sends.push(ev.send);
          for (const b of ev.send) this.socket.write(b);
          if (ev.established) {
            this.established = true;
            this.recordsAtEstablished = this.records;
          }
          if (ev.data.length > 0) this.data = Buffer.concat([this.data, ...ev.data]);
          if (ev.closed) this.closed = true;
        } catch (e) {
          this.error = e;
          const alert = this.engine.alertFor(e);
          if (alert === undefined) this.socket.end();
          else this.socket.end(alert);
          break;
        }
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  write(data: string | Buffer): void {
    this.socket.write(this.engine.seal(typeof data === 'string' ? Buffer.from(data) : data));
  }

  /** Resolves once `cond` holds; rejects on an engine error, the connection's end, or time. */
  until(what: string, cond: () => boolean, ms = WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const check = () => {
        if (cond()) {
          done();
          resolve();
        } else if (this.error !== undefined) {
          done();
          reject(this.error instanceof Error ? this.error : new Error('non-Error thrown'));
        } else if (this.ended) {
          done();
          reject(new Error(`the connection ended before ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, ms);
      this.waiters.add(check);
      check();
    });
  }

  /** The TlsError that `receive` threw. */
  async failure(): Promise<TlsError> {
    await this.until('a TLS error', () => this.error !== undefined);
    expect(this.error).toBeInstanceOf(TlsError);
    return this.error as TlsError;
  }

  /** Handshake, one request, its echo. */
  async roundTrip(text = 'GET / HTTP/1.1\r\n\r\n', expected = text): Promise<void> {
    await this.until('the handshake', () => this.established);
    const before = this.data.length;
    this.write(text);
    await this.until(
      `the answer to ${JSON.stringify(text)}`,
      () => this.data.length >= before + expected.length,
    );
    expect(this.data.subarray(before).toString()).toBe(expected);
  }
}

function connect(port: number, options: ConnectOptions = {}): Peer {
  return new Peer(port, options);
}

/** Polls `cond` (for state on the server side). */
async function eventually(what: string, cond: () => boolean, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const EMPTY_EVENTS: TlsEvents = { send: [], data: [], established: false, closed: false };

// ---------------------------------------------------------------------------------------------
// Servers: node:tls, openssl s_server, a man in the middle, plain TCP
// ---------------------------------------------------------------------------------------------

interface Session {
  socket: tls.TLSSocket;
  authorized: boolean;
  received: Buffer;
  errors: Error[];
  ended: boolean;
}

type SessionHandler = (session: Session) => void;

/** Echoes every byte back. */
const echo: SessionHandler = (s) => s.socket.on('data', (d: Buffer) => s.socket.write(d));

class NodeServer {
  readonly sessions: Session[] = [];
  /** Errors before the handshake completed (`tlsClientError`). */
  readonly clientErrors: Error[] = [];
  /** NSS key log lines (the server's traffic secrets), for the decrypting man in the middle. */
  readonly keylog: string[] = [];
  port = 0;

  private constructor(readonly server: tls.Server) {}

  static async start(options: tls.TlsOptions, handler: SessionHandler = echo): Promise<NodeServer> {
    const sockets = new Set<net.Socket>();
    const server = tls.createServer({
      cert: serverP256.cert,
      key: serverP256.key,
      requestCert: true,
      rejectUnauthorized: false,
      ca: [client.cert],
      ...options,
    });
    const ns = new NodeServer(server);
    server.on('connection', (s: net.Socket) => sockets.add(s));
    server.on('tlsClientError', (e: Error) => ns.clientErrors.push(e));
    server.on('keylog', (line: Buffer) => ns.keylog.push(line.toString('latin1').trim()));
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      const session: Session = {
        socket,
        authorized: socket.authorized,
        received: Buffer.alloc(0),
        errors: [],
        ended: false,
      };
      ns.sessions.push(session);
      socket.on('data', (d: Buffer) => {
        session.received = Buffer.concat([session.received, d]);
      });
      socket.on('error', (e: Error) => session.errors.push(e));
      socket.on('end', () => {
        session.ended = true;
      });
      handler(session);
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    ns.port = (server.address() as net.AddressInfo).port;
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return ns;
  }

  /** A traffic secret from the key log (the last connection's). */
  secret(label: string): Buffer {
    const line = this.keylog.filter((l) => l.startsWith(`${label} `)).at(-1);
    if (line === undefined) throw new Error(`no ${label} in the key log`);
    return Buffer.from(line.split(' ')[2] ?? '', 'hex');
  }

  /** The OpenSSL error codes the server reported (e.g. ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC). */
  errorCodes(): string[] {
    return [...this.clientErrors, ...this.sessions.flatMap((s) => s.errors)].map(
      (e) => (e as NodeJS.ErrnoException).code ?? e.message,
    );
  }
}

/** `openssl s_server` on a free port, interactive (stdin lines go to the client). */
class SServer {
  out = '';
  port = 0;

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {}

  static async start(args: string[]): Promise<SServer> {
    // `-accept 127.0.0.1:0` binds a free port and prints it ("ACCEPT 127.0.0.1:PORT") once it
    // listens, so there is no window in which another process could take the port.
    const proc = spawn('openssl', ['s_server', '-accept', `${HOST}:0`, ...args], {
      stdio: 'pipe',
    });
    const s = new SServer(proc);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
          proc.once('exit', () => resolve());
          proc.kill('SIGKILL');
        }),
    );
    proc.stdout.on('data', (d: Buffer) => {
      s.out += d.toString('latin1');
    });
    proc.stderr.on('data', (d: Buffer) => {
      s.out += d.toString('latin1');
    });
    proc.stdin.on('error', () => undefined);
    await s.waitFor(/^ACCEPT .*:(\d+)\s*$/m);
    s.port = Number(/^ACCEPT .*:(\d+)\s*$/m.exec(s.out)?.[1]);
    return s;
  }

  /** Waits for `pattern` on s_server's output; fails early when `peer` fails or ends. */
  async waitFor(pattern: RegExp | string, peer?: Peer, ms = WAIT_MS): Promise<void> {
    const found = () =>
      typeof pattern === 'string' ? this.out.includes(pattern) : pattern.test(this.out);
    const deadline = Date.now() + ms;
    while (!found()) {
      if (peer?.error !== undefined) throw peer.error as Error;
      if (peer?.ended === true)
        throw new Error(`the connection ended; s_server said:\n${this.out}`);
      if (this.proc.exitCode !== null)
        throw new Error(`s_server exited (${this.proc.exitCode}):\n${this.out}`);
      if (Date.now() > deadline)
        throw new Error(`s_server never printed ${String(pattern)}:\n${this.out}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  input(text: string | Buffer): void {
    this.proc.stdin.write(text);
  }
}

/** s_server with this suite's P-256 server certificate, requiring the P-256 client certificate. */
function sServerArgs(extra: string[] = [], serverPem?: Pem, clientCa?: Pem): string[] {
  const s = serverPem ?? serverP256;
  const ca = clientCa ?? client;
  return [
    '-tls1_3',
    '-cert',
    s.certFile,
    '-key',
    s.keyFile,
    '-Verify',
    '1',
    '-verify_return_error',
    '-CAfile',
    ca.certFile,
    ...extra,
  ];
}

/**
 * A TCP man in the middle: client bytes pass untouched, each server record goes through `mutate`
 * (index counts server records from 0, the ServerHello). `onServerEnd` may write to the client
 * after the server's FIN.
 */
async function mitm(
  target: number,
  mutate: (index: number, rec: Buffer) => Buffer,
  onServerEnd?: (toClient: net.Socket) => void,
): Promise<number> {
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((down) => {
    const up = net.connect({ host: HOST, port: target });
    sockets.add(down).add(up);
    let pending = Buffer.alloc(0);
    let index = 0;
    down.on('data', (d: Buffer) => up.write(d));
    up.on('data', (d: Buffer) => {
      const { records, rest } = splitRecords(Buffer.concat([pending, d]));
      pending = Buffer.from(rest);
      const out = records.map((r) => mutate(index++, Buffer.from(r)));
      if (out.length > 0) down.write(Buffer.concat(out));
    });
    up.on('end', () => {
      onServerEnd?.(down);
      down.end();
    });
    down.on('end', () => up.end());
    up.on('error', () => down.destroy());
    down.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, HOST, resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  return (proxy.address() as net.AddressInfo).port;
}

/** A decrypted TLS 1.3 record: content, inner type, zero padding. */
interface Inner {
  type: number;
  content: Buffer;
  padding?: number;
}

/**
 * One direction's AEAD record protection, written here independently of record.ts (RFC 8446
 * §5.2-5.4), for the AES-GCM suites; the keys come from OpenSSL's key log.
 */
class TestAead {
  seq = 0;

  constructor(
    private readonly suite: CipherSuite,
    private key: TrafficKey,
    private secret: Buffer,
  ) {}

  private nonce(): Buffer {
    const nonce = Buffer.from(this.key.iv);
    const seq = BigInt(this.seq++);
    const x = nonce.readBigUInt64BE(4) ^ seq;
    nonce.writeBigUInt64BE(x, 4);
    return nonce;
  }

  open(rec: Buffer): Inner {
    const decipher = createDecipheriv(
      this.suite.aead as CipherGCMTypes,
      this.key.key,
      this.nonce(),
      {
        authTagLength: 16,
      },
    );
    decipher.setAAD(rec.subarray(0, 5));
    decipher.setAuthTag(rec.subarray(rec.length - 16));
    const plain = Buffer.concat([
      decipher.update(rec.subarray(5, rec.length - 16)),
      decipher.final(),
    ]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    return {
      type: plain[end] ?? 0,
      content: plain.subarray(0, end),
      padding: plain.length - end - 1,
    };
  }

  /** `type` 0 with no content seals an inner plaintext of zeros only. */
  seal(inner: Inner): Buffer {
    const plain = Buffer.concat([
      inner.content,
      inner.type === 0 ? Buffer.alloc(0) : Buffer.of(inner.type),
      Buffer.alloc(inner.padding ?? 0),
    ]);
    const header = Buffer.of(23, 3, 3, 0, 0);
    header.writeUInt16BE(plain.length + 16, 3);
    const cipher = createCipheriv(this.suite.aead as CipherGCMTypes, this.key.key, this.nonce(), {
      authTagLength: 16,
    });
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return Buffer.concat([header, body]);
  }

  /** After a KeyUpdate: the next traffic secret (§7.2). */
  update(): void {
    this.secret = nextTrafficSecret(this.suite.hash, this.secret);
    this.key = trafficKey(this.suite, this.secret);
    this.seq = 0;
  }
}

/** The handshake messages of one record's content (OpenSSL never splits them). */
function handshakeMessages(content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < content.length) {
    const length = content.readUIntBE(off + 1, 3);
    out.push(content.subarray(off, off + 4 + length));
    off += 4 + length;
  }
  expect(off).toBe(content.length);
  return out;
}

function handshakeMessage(type: number, body: Buffer): Buffer {
  const header = Buffer.of(type, 0, 0, 0);
  header.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([header, body]);
}

type Epoch = 'handshake' | 'application';
/** What to send the client for one decrypted server record: inner plaintexts to seal, or raw bytes. */
type Rewrite = (inner: Inner, epoch: Epoch) => (Inner | Buffer)[];

/**
 * A man in the middle holding the server's traffic secrets (node:tls `keylog`): every protected
 * server record is decrypted, passed to `rewrite`, and what it returns is sealed again under the
 * same keys with the client's view of the sequence numbers. The client's bytes pass untouched.
 * A sealed KeyUpdate moves the client-facing key on. Only the AES-GCM suites.
 */
async function decryptingMitm(server: NodeServer, rewrite: Rewrite): Promise<number> {
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((down) => {
    const up = net.connect({ host: HOST, port: server.port });
    sockets.add(down).add(up);
    let pending = Buffer.alloc(0);
    let suite: CipherSuite | undefined;
    let epoch: Epoch | undefined;
    let fromServer: TestAead | undefined;
    let toClient: TestAead | undefined;
    const keys = (label: string) => {
      const secret = server.secret(label);
      if (suite === undefined) throw new Error('no suite');
      return [
        new TestAead(suite, trafficKey(suite, secret), secret),
        new TestAead(suite, trafficKey(suite, secret), secret),
      ] as const;
    };
    down.on('data', (d: Buffer) => up.write(d));
    up.on('data', (d: Buffer) => {
      const { records, rest } = splitRecords(Buffer.concat([pending, d]));
      pending = Buffer.from(rest);
      const out: Buffer[] = [];
      for (const rec of records) {
        if (rec[0] !== 23) {
          if (rec[0] === 22) suite = cipherSuite(parseServerHello(rec).suite);
          out.push(rec);
          continue;
        }
        if (epoch === undefined) {
          epoch = 'handshake';
          [fromServer, toClient] = keys('SERVER_HANDSHAKE_TRAFFIC_SECRET');
        }
        const inner = fromServer!.open(rec);
        const recordEpoch = epoch;
        const sealer = toClient!;
        // The server's Finished ends its handshake epoch.
        const finished =
          epoch === 'handshake' &&
          inner.type === 22 &&
          handshakeMessages(inner.content).some((m) => m[0] === 20);
        for (const item of rewrite(inner, recordEpoch)) {
          if (Buffer.isBuffer(item)) {
            out.push(item);
            continue;
          }
          out.push(sealer.seal(item));
          if (item.type === 22 && item.content[0] === 24 && item.content.length === 5)
            sealer.update();
        }
        if (finished) {
          epoch = 'application';
          [fromServer, toClient] = keys('SERVER_TRAFFIC_SECRET_0');
        }
      }
      if (out.length > 0) down.write(Buffer.concat(out));
    });
    up.on('end', () => down.end());
    down.on('end', () => up.end());
    up.on('error', () => down.destroy());
    down.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, HOST, resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  });
  return (proxy.address() as net.AddressInfo).port;
}

/** A plain TCP server that answers every connection with `reply`. */
async function plainServer(reply: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('data', () => s.end(reply));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

function flip(buf: Buffer, index: number, mask: number): void {
  buf[index] = (buf[index] ?? 0) ^ mask;
}

/** Deterministic, non-repeating-looking bytes. */
function pattern(n: number, seed = 0): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed + (i >> 8)) & 0xff;
  return b;
}

/** Digits and newlines only: safe on s_server's stdin (letters at a line start are commands). */
function digits(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 64 === 63 ? 0x0a : 0x30 + (i % 10);
  return b;
}

// =============================================================================================
// Tests
// =============================================================================================

describe('Tls13Client against OpenSSL', () => {
  it('completes an mTLS handshake and carries data both ways', async () => {
    const server = await NodeServer.start({}, (s) =>
      s.socket.on('data', (d: Buffer) => s.socket.write(`echo:${d.toString()}`)),
    );
    const peer = connect(server.port);
    await peer.roundTrip('GET / HTTP/1.1\r\n\r\n', 'echo:GET / HTTP/1.1\r\n\r\n');
    expect(server.sessions[0]?.authorized).toBe(true);
    expect(peer.engine.cipherSuite).toBe('TLS_AES_256_GCM_SHA384'); // OpenSSL's server preference
    // The client's close_notify is accepted as a clean end.
    const close = peer.engine.close();
    expect(close).toBeInstanceOf(Buffer);
    peer.socket.end(close!);
    await eventually('the server to see the end', () => server.sessions[0]?.ended === true);
    expect(server.errorCodes()).toEqual([]);
  });

  it('rejects a server whose certificate is not the pinned one', async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port, {
      checkServer: () => ({ ok: false, reason: 'certificate is not the enrolled one' }),
    });
    const error = await peer.failure();
    expect(error).toEqual(new TlsError('certificate is not the enrolled one', 42));
    expect(error.alert).toBe(TlsAlert.BadCertificate);
  });
});

describe('interop matrix: server keys (node:tls, mTLS)', () => {
  it.each([
    ['ECDSA P-256', () => serverP256],
    ['ECDSA P-384', () => serverP384],
    ['RSA-2048 (rsa_pss_rsae)', () => serverRsa],
    ['RSA-PSS key (rsa_pss_pss)', () => serverRsaPss],
    ['Ed25519', () => serverEd25519],
  ])('%s', async (_name, pem) => {
    const server = await NodeServer.start({ cert: pem().cert, key: pem().key });
    const peer = connect(server.port, { pin: pem() });
    await peer.roundTrip('ping\n');
    expect(server.sessions).toHaveLength(1);
    expect(server.sessions[0]?.authorized).toBe(true);
    expect(server.sessions[0]?.received.toString()).toBe('ping\n');
  });

  it.each([
    ['ECDSA P-256', '0403', () => serverP256],
    ['ECDSA P-384', '0503', () => serverP384],
    ['RSA-2048', '0804', () => serverRsa], // rsa_pss_rsae_sha256
    ['RSA-PSS key', '0809', () => serverRsaPss], // rsa_pss_pss_sha256
    ['Ed25519', '0807', () => serverEd25519],
  ])('%s: the server signs CertificateVerify with scheme 0x%s', async (_name, scheme, pem) => {
    const server = await NodeServer.start({ cert: pem().cert, key: pem().key });
    const schemes: string[] = [];
    // A decrypting observer: every record is passed through unchanged.
    const port = await decryptingMitm(server, (inner, epoch) => {
      if (epoch === 'handshake' && inner.type === 22) {
        for (const m of handshakeMessages(inner.content))
          if (m[0] === 15) schemes.push(m.subarray(4, 6).toString('hex'));
      }
      return [inner];
    });
    const peer = connect(port, { pin: pem() });
    await peer.roundTrip();
    expect(schemes).toEqual([scheme]);
    expect(peer.engine.cipherSuite).toBe('TLS_AES_256_GCM_SHA384');
  });
});

describe('interop matrix: client keys (the client CertificateVerify is checked by OpenSSL)', () => {
  it.each([
    ['ECDSA P-256', () => client],
    ['ECDSA P-384', () => clientP384],
    ['RSA-2048', () => clientRsa],
    ['RSA-PSS key', () => clientRsaPss],
    ['Ed25519', () => clientEd25519],
  ])('%s accepted by a node:tls server', async (_name, pem) => {
    const server = await NodeServer.start({ ca: [pem().cert] });
    const peer = connect(server.port, { identity: pem() });
    await peer.roundTrip();
    expect(server.sessions[0]?.authorized).toBe(true);
    const peerCert = server.sessions[0]?.socket.getPeerX509Certificate();
    expect(peerCert?.raw.equals(pem().der)).toBe(true);
    // The client's second flight: CCS, Certificate, CertificateVerify, Finished.
    expect(peer.sends[0]?.[0]).toEqual(CCS_RECORD);
    expect(peer.sends[0]).toHaveLength(4);
  });

  it.each([
    ['ECDSA P-256', () => client, 'ECDSA', 'SHA256'],
    ['ECDSA P-384', () => clientP384, 'ECDSA', 'SHA384'],
    ['RSA-2048', () => clientRsa, 'RSA-PSS', 'SHA256'],
    ['RSA-PSS key', () => clientRsaPss, 'RSA-PSS', 'SHA256'],
    ['Ed25519', () => clientEd25519, 'ed25519', undefined],
  ])(
    '%s accepted by openssl s_server -Verify 1 -verify_return_error',
    async (_name, pem, sigType, digest) => {
      const s = await SServer.start(sServerArgs([], serverP256, pem()));
      const peer = connect(s.port, { identity: pem() });
      await peer.until('the handshake', () => peer.established);
      peer.write('hello from the client\n');
      await s.waitFor('hello from the client\n', peer);
      // What OpenSSL verified the client's CertificateVerify with.
      expect(s.out).toContain(`Peer signature type: ${sigType}\n`);
      if (digest === undefined) expect(s.out).not.toContain('Peer signing digest');
      else expect(s.out).toContain(`Peer signing digest: ${digest}\n`);
      expect(s.out).toContain(`subject=CN = ${pem().name}`);
      expect(s.out).not.toMatch(/verify error/);
      s.input('hello from s_server\n');
      await peer.until('data', () => peer.data.toString() === 'hello from s_server\n');
    },
  );
});

describe('interop matrix: cipher suites forced by the server', () => {
  it.each(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'])(
    '%s (node:tls)',
    async (suite) => {
      const server = await NodeServer.start({ ciphers: suite });
      const peer = connect(server.port);
      await peer.roundTrip('x'.repeat(1000));
      expect(peer.engine.cipherSuite).toBe(suite);
      expect(server.sessions[0]?.socket.getCipher().standardName).toBe(suite);
      expect(server.sessions[0]?.authorized).toBe(true);
    },
  );

  it('TLS_CHACHA20_POLY1305_SHA256 (openssl s_server -ciphersuites)', async () => {
    const s = await SServer.start(sServerArgs(['-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256']));
    const peer = connect(s.port);
    await peer.until('the handshake', () => peer.established);
    expect(peer.engine.cipherSuite).toBe('TLS_CHACHA20_POLY1305_SHA256');
    peer.write('chacha\n');
    await s.waitFor('chacha\n', peer);
    s.input('poly\n');
    await peer.until('data', () => peer.data.toString() === 'poly\n');
  });
});

describe('interop: HelloRetryRequest', () => {
  /** The second ClientHello offers exactly the requested group's uncompressed point. */
  function expectRetry(peer: Peer, group: number, pointBytes: number): void {
    const first = peer.sends[0] ?? [];
    expect(first).toHaveLength(2);
    expect(first[0]).toEqual(CCS_RECORD);
    const hello = first[1] ?? Buffer.alloc(0);
    expect(hello[0]).toBe(22); // plaintext handshake record
    expect(hello[5]).toBe(1); // ClientHello
    const shares = clientHelloExtensions(hello).get(51) ?? Buffer.alloc(0);
    // client_shares: one entry, the requested group's uncompressed point
    expect(shares.readUInt16BE(0)).toBe(4 + pointBytes);
    expect(shares.subarray(2, 7)).toEqual(Buffer.of(group >> 8, group & 0xff, 0, pointBytes, 4));
    expect(shares.length).toBe(2 + 4 + pointBytes);
    // The client's Finished flight follows on the next non-empty send.
    const second = peer.sends.find((s, i) => i > 0 && s.length > 0) ?? [];
    expect(second).toHaveLength(3); // Certificate, CertificateVerify, Finished: no second CCS
    expect(second.every((r) => r[0] === 23)).toBe(true);
  }

  it.each([
    ['P-256', 0x0017, 65],
    ['P-384', 0x0018, 97],
  ])('node:tls server restricted to %s', async (curve, group, pointBytes) => {
    const server = await NodeServer.start({ ecdhCurve: curve });
    const peer = connect(server.port);
    await peer.roundTrip();
    expect(server.sessions[0]?.authorized).toBe(true);
    expectRetry(peer, group, pointBytes);
  });

  it('openssl s_server -groups P-384', async () => {
    const s = await SServer.start(sServerArgs(['-groups', 'P-384']));
    const peer = connect(s.port);
    await peer.until('the handshake', () => peer.established);
    expectRetry(peer, 0x0018, 97);
    peer.write('after retry\n');
    await s.waitFor('after retry\n', peer);
    expect(s.out).toContain('Shared groups: secp384r1\n');
  });

  it('no retry when the server takes x25519: the first answer is the Finished flight', async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port);
    await peer.roundTrip();
    expect(peer.sends[0]?.[0]).toEqual(CCS_RECORD);
    expect(peer.sends[0]?.slice(1).every((r) => r[0] === 23)).toBe(true);
  });
});

describe('interop: large and fragmented data', () => {
  const big = pattern(100_000);

  it('a 100 000-byte response arrives intact across several records', async () => {
    const server = await NodeServer.start({}, (s) =>
      s.socket.on('data', () => s.socket.write(big)),
    );
    const peer = connect(server.port);
    await peer.until('the handshake', () => peer.established);
    const before = peer.records;
    peer.write('send it');
    await peer.until('100 000 bytes', () => peer.data.length >= big.length);
    expect(peer.data.equals(big)).toBe(true);
    expect(peer.records - before).toBeGreaterThanOrEqual(Math.ceil(big.length / 16384));
  });

  it('a 100 000-byte response in 512-byte records (node setMaxSendFragment)', async () => {
    const server = await NodeServer.start({}, (s) => {
      expect(s.socket.setMaxSendFragment(512)).toBe(true);
      s.socket.on('data', () => s.socket.write(big));
    });
    const peer = connect(server.port);
    await peer.until('the handshake', () => peer.established);
    const before = peer.records;
    peer.write('send it');
    await peer.until('100 000 bytes', () => peer.data.length >= big.length);
    expect(peer.data.equals(big)).toBe(true);
    expect(peer.records - before).toBeGreaterThanOrEqual(Math.ceil(big.length / 512));
  });

  it('a 100 000-byte response from openssl s_server -max_send_frag 512', async () => {
    const s = await SServer.start(sServerArgs(['-max_send_frag', '512']));
    const peer = connect(s.port);
    await peer.until('the handshake', () => peer.established);
    peer.write('ready\n');
    await s.waitFor('ready\n', peer);
    const before = peer.records;
    const payload = digits(100_000);
    s.input(payload);
    await peer.until('100 000 bytes', () => peer.data.length >= payload.length);
    expect(peer.data.equals(payload)).toBe(true);
    expect(peer.records - before).toBeGreaterThanOrEqual(Math.ceil(payload.length / 512));
  });

  it('a server certificate chain larger than one record (Certificate split by OpenSSL)', async () => {
    const names = Array.from({ length: 900 }, (_, i) => `DNS:host-${i}.example.test`).join(',');
    const large = await makeCert('server-large', KEY_ARGS.p256, [
      '-addext',
      `subjectAltName=${names}`,
    ]);
    expect(large.der.length).toBeGreaterThan(16384);
    const chains: (readonly Buffer[])[] = [];
    const server = await NodeServer.start({ cert: large.cert + stranger.cert, key: large.key });
    const peer = connect(server.port, {
      checkServer: (chain) => {
        chains.push(chain);
        return { ok: true };
      },
    });
    await peer.roundTrip();
    // ServerHello, CCS, EE, CR, Certificate (2 records), CV, Finished
    expect(peer.recordsAtEstablished).toBe(8);
    expect(chains).toHaveLength(1);
    expect(chains[0]).toHaveLength(2);
    expect(chains[0]?.[0]?.equals(large.der)).toBe(true);
    expect(chains[0]?.[1]?.equals(stranger.der)).toBe(true);
  });

  it.each([16_384, 16_385, 70_000])(
    'the client sends %i bytes: seal splits at 2^14, the server gets them intact',
    async (n) => {
      const server = await NodeServer.start({});
      const peer = connect(server.port);
      await peer.until('the handshake', () => peer.established);
      const data = pattern(n, 7);
      const sealed = peer.engine.seal(data);
      const full = Math.floor(n / 16384);
      const tail = n % 16384;
      expect(sealed.length).toBe(full * sealedLength(16384) + (tail > 0 ? sealedLength(tail) : 0));
      const { records, rest } = splitRecords(sealed);
      expect(rest.length).toBe(0);
      expect(records).toHaveLength(Math.ceil(n / 16384));
      peer.socket.write(sealed);
      await peer.until('the echo', () => peer.data.length >= n);
      expect(server.sessions[0]?.received.equals(data)).toBe(true);
      expect(peer.data.equals(data)).toBe(true);
    },
  );
});

describe('interop: KeyUpdate (openssl s_server k / K)', () => {
  it('follows server key updates, answers update_requested, and keeps both directions', async () => {
    const s = await SServer.start(sServerArgs());
    const peer = connect(s.port);
    await peer.until('the handshake', () => peer.established);
    peer.write('client line 0\n');
    await s.waitFor('client line 0\n', peer);
    s.input('server line 0\n');
    await peer.until('line 0', () => peer.data.toString().endsWith('server line 0\n'));

    for (let round = 1; round <= 3; round++) {
      for (const command of ['k', 'K'] as const) {
        const records = peer.records;
        const calls = peer.sends.length;
        s.input(`${command}\n`);
        await peer.until(`the KeyUpdate (${command})`, () => peer.records > records);
        expect(peer.records).toBe(records + 1);
        const answers = peer.sends.slice(calls).flat();
        if (command === 'k') {
          expect(answers).toEqual([]);
        } else {
          // One protected KeyUpdate(update_not_requested): 5-byte message + type + tag.
          expect(answers).toHaveLength(1);
          expect(answers[0]?.length).toBe(sealedLength(5));
          expect(answers[0]?.[0]).toBe(23);
        }
        const tag = `${round}${command === 'k' ? 'a' : 'b'}`;
        s.input(`server line ${tag}\n`);
        await peer.until(`server line ${tag}`, () =>
          peer.data.toString().endsWith(`server line ${tag}\n`),
        );
        peer.write(`client line ${tag}\n`);
        await s.waitFor(`client line ${tag}\n`, peer);
      }
    }
    expect(peer.error).toBeUndefined();
    expect(s.out).not.toMatch(/bad record mac|decryption failed|ERROR/i);
  });
});

describe('interop: session tickets', () => {
  it('tolerates the two NewSessionTickets a node:tls server sends', async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port);
    await peer.roundTrip('ping');
    // After the server Finished: 2 tickets, then the echo record.
    expect(peer.records - peer.recordsAtEstablished).toBe(3);
    expect(peer.events.flatMap((e) => e.send)).toHaveLength(4); // only the client's Finished flight
  });

  it('tolerates openssl s_server -num_tickets 5 (-rev echo)', async () => {
    const s = await SServer.start(sServerArgs(['-rev', '-num_tickets', '5']));
    const peer = connect(s.port);
    await peer.roundTrip('abcdef\n', 'fedcba\n');
    expect(peer.records - peer.recordsAtEstablished).toBe(5 + 1);
  });
});

describe('interop: refusals', () => {
  it('a TLS 1.2-only node:tls server: fallback, no alert of ours', async () => {
    const server = await NodeServer.start({ maxVersion: 'TLSv1.2' });
    const peer = connect(server.port);
    const error = await peer.failure();
    expect(error.fallback).toBe(true);
    expect(error.alert).toBeUndefined();
    expect(error.message).toBe('the peer sent TLS alert protocol_version');
    expect(peer.sends).toEqual([]);
  });

  it('a TLS 1.2-only openssl s_server: fallback', async () => {
    const s = await SServer.start([
      '-tls1_2',
      '-cert',
      serverP256.certFile,
      '-key',
      serverP256.keyFile,
    ]);
    const peer = connect(s.port);
    const error = await peer.failure();
    expect(error.fallback).toBe(true);
    expect(error.alert).toBeUndefined();
    expect(error.message).toBe('the peer sent TLS alert protocol_version');
  });

  it('a server that asks for no client certificate: CCS + Finished only', async () => {
    const server = await NodeServer.start({ requestCert: false });
    const peer = connect(server.port);
    await peer.roundTrip();
    expect(peer.sends[0]).toHaveLength(2);
    expect(peer.sends[0]?.[0]).toEqual(CCS_RECORD);
    expect(peer.sends[0]?.[1]?.length).toBe(sealedLength(4 + 48)); // Finished, SHA-384
    expect(server.sessions[0]?.socket.getPeerX509Certificate()).toBeUndefined();
  });

  it('a client without a key sends an empty Certificate; node:tls sees no peer certificate', async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port, { privateKey: undefined });
    await peer.roundTrip();
    expect(peer.sends[0]).toHaveLength(3); // CCS, empty Certificate, Finished
    expect(peer.sends[0]?.[1]?.length).toBe(sealedLength(4 + 4));
    expect(server.sessions[0]?.authorized).toBe(false);
  });

  it('a client without a key, s_server -Verify 1: certificate_required from the peer', async () => {
    const s = await SServer.start(sServerArgs());
    const peer = connect(s.port, { privateKey: undefined });
    const error = await peer.failure();
    expect(error.alert).toBeUndefined();
    expect(error.message).toBe('the peer sent TLS alert certificate_required');
  });

  it('s_server whose CA does not include the client certificate: the peer alert, no hang', async () => {
    const s = await SServer.start(sServerArgs([], serverP256, stranger));
    const peer = connect(s.port);
    const error = await peer.failure();
    // In TLS 1.3 the client is done before the server judges its certificate: the alert comes
    // under the server's application key, after `established`.
    expect(peer.established).toBe(true);
    expect(error.alert).toBeUndefined();
    expect(error.fallback).toBe(false);
    expect(error.message).toBe('the peer sent TLS alert unknown_ca');
  });

  it('node:tls with rejectUnauthorized whose CA does not include the client: TCP close, no hang', async () => {
    const server = await NodeServer.start({ rejectUnauthorized: true, ca: [stranger.cert] });
    const peer = connect(server.port);
    // OpenSSL completes the handshake (node's verify callback accepts everything); node then
    // checks the result and destroys the socket without an alert. The client learns it from the
    // transport, at once: there is nothing for the engine to report.
    await peer.until('the handshake', () => peer.established);
    peer.write('should not be answered');
    await expect(peer.until('an answer', () => peer.data.length > 0)).rejects.toThrow(
      'the connection ended before an answer',
    );
    expect(peer.error).toBeUndefined();
    expect(peer.records).toBe(peer.recordsAtEstablished); // no alert, no ticket, no data
    expect(server.sessions).toHaveLength(0);
  });

  it('a plain-HTTP server: decode_error that names plain HTTP', async () => {
    const port = await plainServer('HTTP/1.1 400 Bad Request\r\n\r\n');
    const peer = connect(port);
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.DecodeError);
    expect(error.message).toMatch(/plain HTTP/);
    expect(error.fallback).toBe(false);
  });
});

describe('hostile input', () => {
  it('seal() before the handshake throws, and receive() before start()', () => {
    const engine = new Tls13Client({
      certificateChain: [],
      privateKey: undefined,
      checkServer: () => ({ ok: true }),
    });
    expect(() => engine.seal(Buffer.from('x'))).toThrow('TLS connection is not established');
    expect(() => engine.receive(Buffer.alloc(5))).toThrow('TLS client not started');
    engine.start();
    expect(() => engine.seal(Buffer.from('x'))).toThrow('TLS connection is not established');
    expect(() => engine.start()).toThrow('TLS client already started');
  });

  describe('without a server', () => {
    function started(): Tls13Client {
      const engine = new Tls13Client({
        certificateChain: [],
        privateKey: undefined,
        checkServer: () => ({ ok: true }),
      });
      engine.start();
      return engine;
    }

    function alertOf(fn: () => unknown): number | undefined {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(TlsError);
        return (e as TlsError).alert;
      }
      throw new Error('did not throw');
    }

    it('a record header declaring 2^14+257 bytes: record_overflow at once', () => {
      const engine = started();
      expect(alertOf(() => engine.receive(Buffer.of(22, 3, 3, 0x41, 0x01)))).toBe(22);
      // The engine is dead afterwards: more bytes produce nothing.
      expect(engine.receive(Buffer.of(22, 3, 3, 0, 1, 0))).toEqual(EMPTY_EVENTS);
    });

    it('a header declaring exactly 2^14+256 bytes is waited for, not refused', () => {
      const engine = started();
      expect(engine.receive(Buffer.of(22, 3, 3, 0x41, 0x00))).toEqual(EMPTY_EVENTS);
    });

    it('a plaintext record of 2^14+1 bytes: record_overflow', () => {
      const engine = started();
      const body = Buffer.alloc(16385);
      expect(alertOf(() => engine.receive(record(22, body)))).toBe(22);
    });

    it('application data before the ServerHello: unexpected_message', () => {
      const engine = started();
      expect(alertOf(() => engine.receive(record(23, Buffer.alloc(20))))).toBe(10);
    });

    it('a non-TLS first byte: decode_error naming plain HTTP', () => {
      const engine = started();
      let error: unknown;
      try {
        engine.receive(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TlsError);
      expect((error as TlsError).alert).toBe(50);
      expect((error as TlsError).message).toMatch(/plain HTTP/);
      // The alert to send is a plaintext fatal decode_error.
      expect(engine.alertFor(error)).toEqual(Buffer.of(21, 3, 3, 0, 2, 2, 50));
    });
  });

  it("the server's real flight fed one byte at a time completes the handshake", async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port, { feed: byteByByte });
    await peer.roundTrip('one byte at a time');
    // Exactly one call produced output (the client's Finished flight); all others were empty.
    const nonEmpty = peer.events.filter((e) => e.send.length > 0);
    expect(nonEmpty).toHaveLength(1);
    expect(peer.events.filter((e) => e.established)).toHaveLength(1);
    expect(peer.events.length).toBeGreaterThan(500);
    expect(server.sessions[0]?.authorized).toBe(true);
  });

  it('one byte at a time through a HelloRetryRequest', async () => {
    const server = await NodeServer.start({ ecdhCurve: 'P-384' });
    const peer = connect(server.port, { feed: byteByByte });
    await peer.roundTrip('retry, byte by byte');
    expect(peer.events.filter((e) => e.send.length > 0)).toHaveLength(2);
  });

  it('one bit flipped in an encrypted handshake record: bad_record_mac, then nothing', async () => {
    const server = await NodeServer.start({});
    const port = await mitm(server.port, (i, r) => {
      if (i === 2) flip(r, r.length - 20, 0x01); // EncryptedExtensions' ciphertext
      return r;
    });
    const peer = connect(port);
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadRecordMac);
    expect(peer.sends.flat()).toEqual([]);
    // The alert went out under the client handshake key, and OpenSSL read it.
    await eventually('the server to get the alert', () => server.errorCodes().length > 0);
    expect(server.errorCodes()).toEqual(['ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC']);
    // A failed engine ignores further bytes, refuses to seal, and has no close_notify to send.
    expect(peer.engine.receive(Buffer.of(23, 3, 3, 0, 17, ...Buffer.alloc(17)))).toEqual(
      EMPTY_EVENTS,
    );
    expect(() => peer.engine.seal(Buffer.from('x'))).toThrow('not established');
    expect(peer.engine.close()).toBeUndefined();
  });

  it('one bit flipped in the record header (authenticated data): bad_record_mac', async () => {
    const server = await NodeServer.start({});
    const port = await mitm(server.port, (i, r) => {
      if (i === 3) flip(r, 2, 0x02); // legacy_record_version 0x0303 -> 0x0301
      return r;
    });
    const peer = connect(port);
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadRecordMac);
  });

  it('one bit flipped in an application data record: bad_record_mac, data before it kept', async () => {
    const server = await NodeServer.start({});
    let armed = false;
    const port = await mitm(server.port, (_i, r) => {
      if (armed) {
        flip(r, 10, 0x80);
        armed = false;
      }
      return r;
    });
    const peer = connect(port);
    await peer.roundTrip('first');
    armed = true;
    peer.write('second');
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadRecordMac);
    expect(peer.data.toString()).toBe('first');
    await eventually('the server to get the alert', () => server.errorCodes().length > 0);
    expect(server.errorCodes()).toEqual(['ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC']);
  });

  it('a replayed encrypted record (sequence numbers): bad_record_mac', async () => {
    const server = await NodeServer.start({});
    const port = await mitm(server.port, (i, r) => (i === 2 ? Buffer.concat([r, r]) : r));
    const peer = connect(port);
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadRecordMac);
  });

  it('a dropped encrypted record: bad_record_mac on the next', async () => {
    const server = await NodeServer.start({});
    const port = await mitm(server.port, (i, r) => (i === 3 ? Buffer.alloc(0) : r));
    const peer = connect(port);
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadRecordMac);
  });

  it('a live record header declaring 2^14+257 bytes: record_overflow', async () => {
    const server = await NodeServer.start({});
    const port = await mitm(server.port, (i, r) => {
      if (i === 2) r.writeUInt16BE(16384 + 257, 3);
      return i === 2 ? r.subarray(0, 5) : r;
    });
    const peer = connect(port);
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.RecordOverflow);
    await eventually('the server to get the alert', () => server.errorCodes().length > 0);
    expect(server.errorCodes()).toEqual(['ERR_SSL_TLSV1_ALERT_RECORD_OVERFLOW']);
  });

  describe('a real ServerHello, modified', () => {
    async function withServerHello(
      change: (sh: ServerHello) => void,
      serverOptions: tls.TlsOptions = {},
    ): Promise<{ peer: Peer; error: TlsError; server: NodeServer }> {
      const server = await NodeServer.start(serverOptions);
      const port = await mitm(server.port, (i, r) => {
        if (i !== 0) return r;
        const sh = parseServerHello(r);
        change(sh);
        return buildServerHello(sh);
      });
      const peer = connect(port);
      const error = await peer.failure();
      return { peer, error, server };
    }

    it('the unmodified rebuild completes (the parser is faithful)', async () => {
      const server = await NodeServer.start({});
      const port = await mitm(server.port, (i, r) =>
        i === 0 ? buildServerHello(parseServerHello(r)) : r,
      );
      const peer = connect(port);
      await peer.roundTrip();
    });

    it('a different session id echo: illegal_parameter, sent in the clear', async () => {
      const { peer, error, server } = await withServerHello((sh) => {
        sh.sessionId = Buffer.from(sh.sessionId);
        sh.sessionId[0] = (sh.sessionId[0] ?? 0) ^ 0xff;
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toBe('ServerHello does not echo the session id');
      expect(peer.sends.flat()).toEqual([]);
      await eventually('the server to get the alert', () => server.errorCodes().length > 0);
      expect(server.errorCodes()).toEqual(['ERR_SSL_SSLV3_ALERT_ILLEGAL_PARAMETER']);
    });

    it('a cipher suite that was not offered: illegal_parameter', async () => {
      const { error } = await withServerHello((sh) => {
        sh.suite = 0x1304; // TLS_AES_128_CCM_SHA256
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/cipher suite/);
    });

    it('legacy_version 0x0302: illegal_parameter', async () => {
      const { error } = await withServerHello((sh) => {
        sh.version = 0x0302;
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/legacy_version/);
    });

    it('compression method 1: illegal_parameter', async () => {
      const { error } = await withServerHello((sh) => {
        sh.compression = 1;
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/compression/);
    });

    it('no supported_versions (a TLS 1.2 ServerHello): protocol_version with fallback', async () => {
      const { error } = await withServerHello((sh) => {
        sh.extensions = sh.extensions.filter(([type]) => type !== 43);
      });
      expect(error.alert).toBe(TlsAlert.ProtocolVersion);
      expect(error.fallback).toBe(true);
    });

    it('an all-zero x25519 key share: illegal_parameter', async () => {
      const { error } = await withServerHello((sh) => {
        sh.extensions = sh.extensions.map(([type, body]) =>
          type === 51
            ? [type, Buffer.concat([body.subarray(0, 4), Buffer.alloc(32)])]
            : [type, body],
        );
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/key share|all-zero/);
    });

    it('a key share for a group that was not sent: illegal_parameter', async () => {
      const { error } = await withServerHello((sh) => {
        sh.extensions = sh.extensions.map(([type, body]) => {
          if (type !== 51) return [type, body];
          const changed = Buffer.from(body);
          changed.writeUInt16BE(0x0017, 0); // secp256r1, with an x25519-sized key
          return [type, changed];
        });
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/group 23 that was not sent/);
    });

    it('an extension that was not offered: unsupported_extension', async () => {
      const { error } = await withServerHello((sh) => {
        sh.extensions.push([16, Buffer.of(0, 3, 2, 0x68, 0x32)]); // ALPN "h2"
      });
      expect(error.alert).toBe(TlsAlert.UnsupportedExtension);
      expect(error.message).toMatch(/extension 16/);
    });

    it('a repeated extension: illegal_parameter', async () => {
      const { error } = await withServerHello((sh) => {
        const versions = sh.extensions.find(([type]) => type === 43);
        if (versions) sh.extensions.push(versions);
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/repeats extension 43/);
    });

    it('supported_versions selecting TLS 1.2: illegal_parameter (§4.2.1)', async () => {
      const { error } = await withServerHello((sh) => {
        sh.extensions = sh.extensions.map(([type, body]) =>
          type === 43 ? [type, Buffer.of(3, 3)] : [type, body],
        );
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toMatch(/version that was not offered/);
    });

    // §4.1.3: TLS 1.3 clients receiving a ServerHello indicating TLS 1.2 or below MUST check the
    // last 8 bytes of random for DOWNGRD\x01/\x00 and, on a match, abort with illegal_parameter.
    it('a TLS 1.2 ServerHello carrying the downgrade sentinel: illegal_parameter, no fallback (§4.1.3)', async () => {
      const { error } = await withServerHello((sh) => {
        sh.extensions = sh.extensions.filter(([type]) => type !== 43);
        sh.random = Buffer.concat([
          sh.random.subarray(0, 24),
          Buffer.from('444f574e47524401', 'hex'),
        ]);
      });
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.fallback).toBe(false);
    });

    it('legacy_record_version 0x0301 on the ServerHello record is ignored (§5.1)', async () => {
      const server = await NodeServer.start({});
      const port = await mitm(server.port, (i, r) => {
        if (i === 0) r[2] = 1;
        return r;
      });
      const peer = connect(port);
      await peer.roundTrip();
    });

    it('the ServerHello split over two plaintext records, after a stray CCS, is accepted (§5, §5.1)', async () => {
      const server = await NodeServer.start({});
      const port = await mitm(server.port, (i, r) =>
        i === 0
          ? Buffer.concat([CCS_RECORD, record(22, r.subarray(5, 25)), record(22, r.subarray(25))])
          : r,
      );
      const peer = connect(port);
      await peer.roundTrip();
    });

    it('change_cipher_spec with the value 2: unexpected_message (§5)', async () => {
      const server = await NodeServer.start({});
      const port = await mitm(server.port, (i, r) =>
        r[0] === 20 ? Buffer.of(20, 3, 3, 0, 1, 2) : r,
      );
      const peer = connect(port);
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });
  });

  describe('a real HelloRetryRequest flow, modified (server restricted to P-256)', () => {
    /** `change` gets each plaintext server handshake record: the HRR first, then the ServerHello. */
    async function withRetry(change: (sh: ServerHello, n: number) => Buffer | undefined) {
      const server = await NodeServer.start({ ecdhCurve: 'P-256' });
      let n = 0;
      const port = await mitm(server.port, (_i, r) => {
        if (r[0] !== 22) return r;
        const sh = parseServerHello(r);
        return change(sh, n++) ?? buildServerHello(sh);
      });
      const peer = connect(port);
      return { peer, server };
    }

    it('unmodified: completes (the rewrite is faithful)', async () => {
      const { peer } = await withRetry(() => undefined);
      await peer.roundTrip();
    });

    it('the HRR asks for x25519, whose share was sent: illegal_parameter (§4.1.4)', async () => {
      const { peer } = await withRetry((sh, n) => {
        if (n === 0)
          sh.extensions = sh.extensions.map(([t, b]) =>
            t === 51 ? [t, Buffer.of(0, 0x1d)] : [t, b],
          );
        return undefined;
      });
      expect((await peer.failure()).alert).toBe(TlsAlert.IllegalParameter);
    });

    it('the HRR asks for a group that was not offered: illegal_parameter (§4.1.4)', async () => {
      const { peer } = await withRetry((sh, n) => {
        if (n === 0)
          sh.extensions = sh.extensions.map(([t, b]) =>
            t === 51 ? [t, Buffer.of(0, 0x19)] : [t, b],
          );
        return undefined;
      });
      expect((await peer.failure()).alert).toBe(TlsAlert.IllegalParameter);
    });

    it('the ServerHello changes the HRR cipher suite: illegal_parameter (§4.1.4)', async () => {
      const { peer } = await withRetry((sh, n) => {
        if (n === 1) sh.suite = sh.suite === 0x1301 ? 0x1302 : 0x1301;
        return undefined;
      });
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
      expect(error.message).toBe('ServerHello cipher suite differs from the HelloRetryRequest');
    });

    it('a second HelloRetryRequest: unexpected_message (§4.1.4)', async () => {
      let first: Buffer | undefined;
      const { peer } = await withRetry((sh, n) => {
        if (n === 0) {
          first = buildServerHello(sh);
          return first;
        }
        return first;
      });
      expect((await peer.failure()).alert).toBe(TlsAlert.UnexpectedMessage);
    });
  });

  it('checkServer rejects: bad_certificate, nothing sent after the ClientHello but the alert', async () => {
    const server = await NodeServer.start({});
    const seen: Buffer[][] = [];
    const peer = connect(server.port, {
      checkServer: (chain) => {
        seen.push([...chain]);
        return { ok: false, reason: 'not the enrolled certificate' };
      },
    });
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadCertificate);
    expect(error.message).toBe('not the enrolled certificate');
    expect(error.fallback).toBe(false);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toHaveLength(1);
    expect(seen[0]?.[0]?.equals(serverP256.der)).toBe(true);
    expect(peer.sends.flat()).toEqual([]);
    // The protected alert reached OpenSSL and decrypted there.
    await eventually('the server to get the alert', () => server.errorCodes().length > 0);
    expect(server.errorCodes()).toEqual(['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE']);
  });

  it('checkServer asks for fallback: the error carries it', async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port, {
      checkServer: () => ({ ok: false, reason: 'needs a CA chain', fallback: true }),
    });
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.BadCertificate);
    expect(error.fallback).toBe(true);
  });

  it('close_notify followed by garbage: closed, the garbage ignored', async () => {
    const server = await NodeServer.start({}, (s) =>
      s.socket.on('data', (d: Buffer) =>
        d.toString() === 'bye' ? s.socket.end('goodbye') : s.socket.write(d),
      ),
    );
    const garbage = Buffer.from('\x00\xffgarbage after close_notify, not a TLS record');
    let handshakeDone = false;
    const port = await mitm(
      server.port,
      // After the handshake, an encrypted 2-byte alert (close_notify) gets garbage appended in the
      // same write; more garbage follows the server's FIN.
      (_i, r) => (handshakeDone && r.length === sealedLength(2) ? Buffer.concat([r, garbage]) : r),
      (down) => down.write(garbage),
    );
    const peer = connect(port);
    await peer.roundTrip('hello');
    handshakeDone = true;
    peer.write('bye');
    await peer.until('close_notify', () => peer.closed, WAIT_MS);
    await peer.until('the TCP end', () => peer.ended);
    expect(peer.error).toBeUndefined();
    expect(peer.data.toString()).toBe('hellogoodbye');
    expect(peer.events.filter((e) => e.closed)).toHaveLength(1);
    expect(peer.engine.established).toBe(false);
    expect(peer.engine.receive(garbage)).toEqual(EMPTY_EVENTS);
    expect(() => peer.engine.seal(Buffer.from('x'))).toThrow('not established');
    expect(peer.engine.close()).toBeUndefined();
  });

  it('after the handshake: change_cipher_spec or an unprotected record is unexpected_message', async () => {
    const server = await NodeServer.start({});
    const peer = connect(server.port);
    await peer.roundTrip();
    let error: unknown;
    try {
      peer.engine.receive(CCS_RECORD);
    } catch (e) {
      error = e;
    }
    expect((error as TlsError).alert).toBe(TlsAlert.UnexpectedMessage);

    const other = connect(server.port);
    await other.roundTrip();
    try {
      other.engine.receive(record(22, Buffer.of(24, 0, 0, 1, 0)));
    } catch (e) {
      error = e;
    }
    expect((error as TlsError).alert).toBe(TlsAlert.UnexpectedMessage);
    expect((error as TlsError).message).toBe('unprotected record after ServerHello');
  });

  it('s_server "P" (plain text after the handshake): decode_error', async () => {
    const s = await SServer.start(sServerArgs());
    const peer = connect(s.port);
    await peer.until('the handshake', () => peer.established);
    peer.write('hi\n');
    await s.waitFor('hi\n', peer);
    s.input('P\n');
    const error = await peer.failure();
    expect(error.alert).toBe(TlsAlert.DecodeError);
    expect(error.message).toBe('not a TLS record');
  });
});

describe('hostile records sealed under the real keys (decrypting man in the middle)', () => {
  const AES128 = { ciphers: 'TLS_AES_128_GCM_SHA256' };

  /** A node:tls server (AES-128-GCM, echo) behind a decrypting man in the middle. */
  async function through(rewrite: Rewrite, options: ConnectOptions = {}) {
    const server = await NodeServer.start(AES128);
    const port = await decryptingMitm(server, rewrite);
    const peer = connect(port, options);
    return { server, peer };
  }

  const pass: Rewrite = (inner) => [inner];

  /** Rewrites the first handshake message of `type` (in the handshake epoch). */
  function onMessage(type: number, change: (message: Buffer) => Buffer[]): Rewrite {
    return (inner, epoch) => {
      if (epoch !== 'handshake' || inner.type !== 22) return [inner];
      const messages = handshakeMessages(inner.content);
      if (!messages.some((m) => m[0] === type)) return [inner];
      const content = Buffer.concat(messages.flatMap((m) => (m[0] === type ? change(m) : [m])));
      return content.length === 0 ? [] : [{ type: 22, content }];
    };
  }

  /** After the handshake, the first NewSessionTicket record is replaced by `replace(ticket)`. */
  function onFirstTicket(replace: (ticket: Buffer) => (Inner | Buffer)[]): Rewrite {
    let done = false;
    return (inner, epoch) => {
      if (done || epoch !== 'application' || inner.type !== 22 || inner.content[0] !== 4)
        return [inner];
      done = true;
      return replace(inner.content);
    };
  }

  /** The error after a handshake and a request (for rewrites that act after the handshake). */
  async function failureAfterRequest(peer: Peer): Promise<TlsError> {
    await peer.until('the handshake', () => peer.established);
    peer.write('request');
    return peer.failure();
  }

  it('control: passing every record through re-encrypted changes nothing', async () => {
    const { peer, server } = await through(pass);
    await peer.roundTrip('through the middle');
    expect(peer.engine.cipherSuite).toBe('TLS_AES_128_GCM_SHA256');
    expect(server.sessions[0]?.authorized).toBe(true);
  });

  it('control: rewriting a handshake message to itself changes nothing', async () => {
    const { peer } = await through(onMessage(11, (m) => [Buffer.from(m)]));
    await peer.roundTrip();
  });

  describe('legal variations are accepted', () => {
    it('the whole encrypted server flight in one record', async () => {
      let held: Buffer[] = [];
      const { peer } = await through((inner, epoch) => {
        if (epoch !== 'handshake') return [inner];
        held.push(inner.content);
        if (!handshakeMessages(inner.content).some((m) => m[0] === 20)) return [];
        const content = Buffer.concat(held);
        held = [];
        return [{ type: 22, content }];
      });
      await peer.roundTrip();
      expect(peer.recordsAtEstablished).toBe(3); // ServerHello, CCS, one protected record
    });

    it('the Certificate message split over three records', async () => {
      const { peer } = await through((inner, epoch) => {
        if (epoch !== 'handshake' || inner.content[0] !== 11) return [inner];
        const c = inner.content;
        return [
          { type: 22, content: c.subarray(0, 3) }, // not even the whole 4-byte header
          { type: 22, content: c.subarray(3, 200) },
          { type: 22, content: c.subarray(200) },
        ];
      });
      await peer.roundTrip();
    });

    it('zero-length and padded application data records', async () => {
      const { peer } = await through((inner, epoch) =>
        epoch === 'application' && inner.type === 23
          ? [
              { type: 23, content: Buffer.alloc(0) },
              { type: 23, content: Buffer.alloc(0), padding: 300 },
              { ...inner, padding: 1000 },
              { type: 23, content: Buffer.alloc(0) },
            ]
          : [inner],
      );
      await peer.roundTrip('padded');
    });

    it('both NewSessionTickets in one record, then a ticket split over two records', async () => {
      let first: Buffer | undefined;
      let tickets = 0;
      const { peer } = await through((inner, epoch) => {
        if (epoch !== 'application' || inner.type !== 22 || inner.content[0] !== 4) return [inner];
        tickets++;
        if (first === undefined) {
          first = inner.content;
          return [];
        }
        const half = Math.floor(inner.content.length / 2);
        return [
          { type: 22, content: Buffer.concat([first, inner.content]) },
          { type: 22, content: inner.content.subarray(0, half) },
          { type: 22, content: inner.content.subarray(half) },
        ];
      });
      await peer.roundTrip();
      expect(tickets).toBe(2);
    });

    it('a KeyUpdate(update_not_requested) injected by the server side is followed', async () => {
      const { peer } = await through((inner, epoch) =>
        epoch === 'application' && inner.type === 23
          ? [{ type: 22, content: handshakeMessage(24, Buffer.of(0)) }, inner]
          : [inner],
      );
      await peer.roundTrip('after a key update');
      expect(peer.events.flatMap((e) => e.send)).toHaveLength(4); // no KeyUpdate answer
    });

    it('a user_canceled alert is ignored', async () => {
      const { peer } = await through((inner, epoch) =>
        epoch === 'application' && inner.type === 23
          ? [{ type: 21, content: Buffer.of(1, 90) }, inner]
          : [inner],
      );
      await peer.roundTrip();
    });
  });

  describe('the handshake flight', () => {
    it('EncryptedExtensions carrying key_share: illegal_parameter (§4.2)', async () => {
      const { peer } = await through(
        onMessage(8, () => [handshakeMessage(8, Buffer.of(0, 8, 0, 51, 0, 4, 0, 0x1d, 0, 0))]),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
    });

    it('EncryptedExtensions carrying an unrequested ALPN: unsupported_extension (§4.2)', async () => {
      const { peer } = await through(
        onMessage(8, () => [
          handshakeMessage(8, Buffer.of(0, 9, 0, 16, 0, 5, 0, 3, 2, 0x68, 0x32)),
        ]),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.UnsupportedExtension);
    });

    it('an empty server Certificate: decode_error (§4.4.2.4)', async () => {
      const { peer } = await through(
        onMessage(11, () => [handshakeMessage(11, Buffer.of(0, 0, 0, 0))]),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.DecodeError);
    });

    it('the Certificate message left out: unexpected_message', async () => {
      const { peer } = await through(onMessage(11, () => []));
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    it('a CertificateVerify signature with one bit flipped: decrypt_error (§4.4.3)', async () => {
      const { peer } = await through(
        onMessage(15, (m) => {
          const changed = Buffer.from(m);
          flip(changed, changed.length - 5, 0x01);
          return [changed];
        }),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.DecryptError);
      expect(error.message).toMatch(/CertificateVerify signature does not verify/);
    });

    it('a CertificateVerify scheme that does not match the key: illegal_parameter', async () => {
      const { peer } = await through(
        onMessage(15, (m) => {
          const changed = Buffer.from(m);
          changed.writeUInt16BE(0x0804, 4); // rsa_pss_rsae_sha256 for a P-256 key
          return [changed];
        }),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
    });

    it('a server Finished with one bit flipped: decrypt_error (§4.4.4)', async () => {
      const { peer } = await through(
        onMessage(20, (m) => {
          const changed = Buffer.from(m);
          flip(changed, 10, 0x01);
          return [changed];
        }),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.DecryptError);
      expect(error.message).toMatch(/Finished does not verify/);
      expect(peer.sends.flat()).toEqual([]);
    });

    it('a protected change_cipher_spec: unexpected_message (§5)', async () => {
      const { peer } = await through((inner, epoch) =>
        epoch === 'handshake' && inner.content[0] === 8
          ? [inner, { type: 20, content: Buffer.of(1) }]
          : [inner],
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    it('bytes after the server Finished in its record: unexpected_message (§5.1)', async () => {
      const { peer } = await through(
        onMessage(20, (m) => [m, handshakeMessage(4, Buffer.alloc(12))]),
      );
      const error = await peer.failure();
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });
  });

  describe('after the handshake', () => {
    it('an inner plaintext of zeros only (no content type): unexpected_message (§5.4)', async () => {
      const { peer } = await through(
        onFirstTicket(() => [{ type: 0, content: Buffer.alloc(0), padding: 10 }]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    it('a zero-length handshake record: unexpected_message (§5.1)', async () => {
      const { peer } = await through(onFirstTicket(() => [{ type: 22, content: Buffer.alloc(0) }]));
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    it('application data of 2^14+1 bytes in one record: record_overflow (§5.1, §6.2)', async () => {
      const { peer } = await through(
        onFirstTicket(() => [{ type: 23, content: Buffer.alloc(16385, 0x61) }]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.RecordOverflow);
    });

    // §5.4: "the full encoded TLSInnerPlaintext MUST NOT exceed 2^14 + 1 octets" (padding
    // included); Go's crypto/tls answers record_overflow.
    it('an inner plaintext over 2^14+1 bytes because of padding: record_overflow (§5.4)', async () => {
      const { peer } = await through(
        onFirstTicket(() => [{ type: 23, content: Buffer.alloc(16384, 0x61), padding: 10 }]),
      );
      await peer.until('the handshake', () => peer.established);
      peer.write('request');
      await peer.until('an error or data', () => peer.error !== undefined || peer.data.length > 0);
      expect(peer.data.length).toBe(0);
      expect((peer.error as TlsError | undefined)?.alert).toBe(TlsAlert.RecordOverflow);
    });

    it('application data of exactly 2^14 bytes, unpadded, is accepted', async () => {
      const { peer } = await through(
        onFirstTicket(() => [{ type: 23, content: Buffer.alloc(16384, 0x61) }]),
      );
      await peer.until('the handshake', () => peer.established);
      await peer.until('2^14 bytes', () => peer.data.length === 16384);
      expect(peer.data.equals(Buffer.alloc(16384, 0x61))).toBe(true);
    });

    it('a KeyUpdate with request_update 2: illegal_parameter (§4.6.3)', async () => {
      const { peer } = await through(
        onFirstTicket(() => [{ type: 22, content: handshakeMessage(24, Buffer.of(2)) }]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.IllegalParameter);
    });

    it('a KeyUpdate not at the end of its record: unexpected_message (§5.1)', async () => {
      const { peer } = await through(
        onFirstTicket((ticket) => [
          { type: 22, content: Buffer.concat([handshakeMessage(24, Buffer.of(0)), ticket]) },
        ]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    it('a post-handshake CertificateRequest (not offered): unexpected_message (§4.6.2)', async () => {
      const { peer } = await through(
        onFirstTicket(() => [
          {
            type: 22,
            content: handshakeMessage(13, Buffer.of(1, 7, 0, 8, 0, 13, 0, 4, 0, 2, 4, 3)),
          },
        ]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    it('a NewSessionTicket with an empty ticket: decode_error (§4.6.1)', async () => {
      const { peer } = await through(
        onFirstTicket(() => [
          {
            type: 22,
            content: handshakeMessage(4, Buffer.of(0, 0, 0, 60, 1, 2, 3, 4, 1, 9, 0, 0, 0, 0)),
          },
        ]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.DecodeError);
    });

    it('a fatal alert from the server: TlsError naming it, no alert of ours', async () => {
      const { peer } = await through(
        onFirstTicket(() => [{ type: 21, content: Buffer.of(2, 80) }]),
      );
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBeUndefined();
      expect(error.message).toBe('the peer sent TLS alert internal_error');
      expect(peer.engine.alertFor(error)).toBeUndefined();
    });

    // §5.1: "if a handshake message is split over two or more records, there MUST NOT be any other
    // records between them" (Go's crypto/tls: unexpected_message).
    it('application data between two fragments of a handshake message: unexpected_message (§5.1)', async () => {
      const { peer } = await through(
        onFirstTicket((ticket) => [
          { type: 22, content: ticket.subarray(0, 10) },
          { type: 23, content: Buffer.from('interleaved') },
          { type: 22, content: ticket.subarray(10) },
        ]),
      );
      await peer.until('the handshake', () => peer.established);
      peer.write('request');
      await peer.until('an error or data', () => peer.error !== undefined || peer.data.length > 0);
      expect(peer.data.toString()).toBe('');
      expect((peer.error as TlsError | undefined)?.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    // Same rule (§5.1): a close_notify cannot end a half-received handshake message cleanly.
    it('close_notify in the middle of a handshake message: unexpected_message, not a clean close (§5.1)', async () => {
      const { peer } = await through(
        onFirstTicket((ticket) => [
          { type: 22, content: ticket.subarray(0, 10) },
          { type: 21, content: Buffer.of(1, 0) },
        ]),
      );
      await peer.until('the handshake', () => peer.established);
      peer.write('request');
      await peer.until('an outcome', () => peer.error !== undefined || peer.closed);
      expect(peer.closed).toBe(false);
      expect((peer.error as TlsError | undefined)?.alert).toBe(TlsAlert.UnexpectedMessage);
    });

    // §5: "If a TLS implementation receives an unexpected record type, it MUST terminate the
    // connection with an unexpected_message alert."
    it('a record of an undefined content type (24, heartbeat): unexpected_message (§5)', async () => {
      const { peer } = await through(onFirstTicket(() => [Buffer.of(24, 3, 3, 0, 3, 1, 0, 0)]));
      const error = await failureAfterRequest(peer);
      expect(error.alert).toBe(TlsAlert.UnexpectedMessage);
    });
  });
});
