/**
 * @module agent-client: the verifier's client for pull agents, measured alone. An mTLS HTTPS "agent"
 * server (self-signed agent cert, requires the verifier's CA-issued client cert, no keep-alive
 * timeout) runs in a child process; each client variant runs in its own child process with a fresh
 * heap, so its CPU (process.cpuUsage) and memory are the client's only. Per variant: N clients each
 * open one kept-alive connection (connect CPU per connection), then RSS and heap per idle connection
 * after a GC, then R rounds of one GET per client on the warm connections (CPU µs per request).
 * Variants: `builtin` = AgentClient as the verifier runs it (@keylime/crypto's TLS 1.3 client on a
 * plain socket, hand-written HTTP/1.1); `openssl` = AgentClient on Node's TLS (one shared
 * SecureContext, `engine: 'openssl'`);
 * `old` = the previous https.Agent-per-agent client (inlined below, a SecureContext per connection).
 * Run: `tools/bench agent-client [--agents N] [--rounds R] [--profile DIR]` (--profile: node
 * --cpu-prof of each client process, written to DIR).
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createSelfSignedLeaf, createTestPki } from '@keylime/server/src/testing/openssl-pki';
import { AgentClient, mtlsPinOf } from '../../apps/verifier/src/attestation/agent-client';
import type {
  AgentClientOptions,
  AgentEndpoint,
  AgentResponse,
  ClientTls,
} from '../../apps/verifier/src/attestation/agent-client';
import { fullGc, positiveIntArg } from './support/process';

type Variant = 'builtin' | 'openssl' | 'old';

interface ServerSetup {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

interface ClientSetup {
  readonly variant: Variant;
  readonly port: number;
  readonly tls: ClientTls;
  readonly agentCert: string;
  readonly agents: number;
  readonly rounds: number;
}

interface ClientResult {
  readonly variant: Variant;
  readonly connectUsPerConn: number;
  readonly rssKiBPerConn: number;
  readonly heapKiBPerConn: number;
  readonly externalKiBPerConn: number;
  readonly requests: number;
  readonly usPerRequest: number;
  readonly requestsPerWallSecond: number;
  readonly failures: number;
}

const OPTIONS: AgentClientOptions = { timeoutMs: 30_000, maxResponseBytes: 1 << 20 };
/** A quote-sized answer (~1.5 KiB): quote string, hash algorithms, a short IMA excerpt. */
const BODY = JSON.stringify({
  code: 200,
  status: 'Success',
  results: {
    quote: `r${'A'.repeat(900)}`,
    hash_alg: 'sha256',
    enc_alg: 'rsa',
    sign_alg: 'rsassa',
    ima_measurement_list: '10 '.repeat(150),
  },
});

// ---------------------------------------------------------------- the previous client, inlined

/** The https.Agent-per-agent client this module replaced (same options, same parsing). */
class OldAgentClient {
  private readonly agent: https.Agent;

  constructor(
    readonly endpoint: { readonly ip: string; readonly port: number; readonly mtlsCert: string },
    tls: ClientTls,
    private readonly options: AgentClientOptions,
  ) {
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 2,
      cert: tls.cert,
      key: tls.key,
      ca: [...tls.cas, endpoint.mtlsCert ?? ''],
      rejectUnauthorized: tls.verifyPeer,
      checkServerIdentity: () => undefined,
      minVersion: 'TLSv1.2',
    });
  }

  get(path: string): Promise<AgentResponse> {
    const { timeoutMs, maxResponseBytes } = this.options;
    return new Promise<AgentResponse>((resolve) => {
      let settled = false;
      const done = (r: AgentResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const req = https.request(
        {
          host: this.endpoint.ip,
          port: this.endpoint.port,
          method: 'GET',
          path,
          agent: this.agent,
        },
        (res) => {
          const declared = Number(res.headers['content-length'] ?? '0');
          if (declared > maxResponseBytes) {
            req.destroy();
            done({ kind: 'too-large', limit: maxResponseBytes });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxResponseBytes) {
              req.destroy();
              done({ kind: 'too-large', limit: maxResponseBytes });
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            const o = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
            done({
              kind: 'response',
              status: res.statusCode ?? 0,
              statusText: typeof o['status'] === 'string' ? o['status'] : '',
              results: o['results'],
            });
          });
          res.on('error', (e) => done({ kind: 'unreachable', code: 599, reason: e.message }));
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        done({ kind: 'unreachable', code: 408, reason: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      req.on('error', (e) => done({ kind: 'unreachable', code: 599, reason: e.message }));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

// ---------------------------------------------------------------- child roles

function runServer(setup: ServerSetup): void {
  const server = https.createServer(
    { cert: setup.cert, key: setup.key, ca: setup.ca, requestCert: true, rejectUnauthorized: true },
    (_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': BODY.length });
      res.end(BODY);
    },
  );
  server.keepAliveTimeout = 0; // idle connections stay open for the memory measurement
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over all clients, at most `width` at a time; counts non-200 answers. */
async function each<C>(
  clients: readonly C[],
  width: number,
  fn: (c: C) => Promise<AgentResponse>,
): Promise<number> {
  let next = 0;
  let failures = 0;
  const lane = async (): Promise<void> => {
    while (next < clients.length) {
      const c = clients[next++] as C;
      const r = await fn(c);
      if (r.kind !== 'response' || r.status !== 200) failures++;
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return failures;
}

async function runClient(setup: ClientSetup): Promise<ClientResult> {
  const address = { ip: '127.0.0.1', port: setup.port };
  const endpoint: AgentEndpoint = { ...address, mtlsPin: mtlsPinOf(setup.agentCert) };
  // One ClientTls object for every client, as the verifier has: per-object caches stay shared.
  const tls: ClientTls = {
    ...setup.tls,
    ...(setup.variant === 'old' ? {} : { engine: setup.variant }),
  };
  const make = (): AgentClient | OldAgentClient =>
    setup.variant === 'old'
      ? new OldAgentClient({ ...address, mtlsCert: setup.agentCert }, tls, OPTIONS)
      : new AgentClient(endpoint, tls, OPTIONS);
  // Warm the code paths (and the shared context or identity) outside the measurement.
  const warm = make();
  for (let i = 0; i < 20; i++) await warm.get('/v2.6/quotes/integrity?nonce=warm');
  warm.close();
  await sleep(100);

  fullGc();
  const before = process.memoryUsage();
  const clients = Array.from({ length: setup.agents }, make);
  let cpu = process.cpuUsage();
  let failures = await each(clients, 50, (c) => c.get('/v2.6/quotes/integrity?nonce=open'));
  const connectCpu = process.cpuUsage(cpu);
  await sleep(200);
  fullGc();
  const idle = process.memoryUsage();

  const path = '/v2.6/quotes/integrity?nonce=abcdefghij0123456789&mask=0x400&partial=1';
  const t0 = process.hrtime.bigint();
  cpu = process.cpuUsage();
  for (let r = 0; r < setup.rounds; r++) failures += await each(clients, 200, (c) => c.get(path));
  const reqCpu = process.cpuUsage(cpu);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const c of clients) c.close();

  const n = setup.agents;
  const requests = n * setup.rounds;
  return {
    variant: setup.variant,
    connectUsPerConn: (connectCpu.user + connectCpu.system) / n,
    rssKiBPerConn: (idle.rss - before.rss) / 1024 / n,
    heapKiBPerConn: (idle.heapUsed - before.heapUsed) / 1024 / n,
    externalKiBPerConn: (idle.external - before.external) / 1024 / n,
    requests,
    usPerRequest: (reqCpu.user + reqCpu.system) / requests,
    requestsPerWallSecond: requests / wallS,
    failures,
  };
}

// ---------------------------------------------------------------- orchestration

function child(role: string, profileDir?: string): ChildProcess {
  const prof = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  return fork(__filename, [role], {
    execArgv: ['-r', '@swc-node/register', '--expose-gc', ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function ask<T>(proc: ChildProcess, message: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as T));
    proc.once('exit', (code) => reject(new Error(`child exited with ${String(code)}`)));
    proc.send(message as object);
  });
}

async function main(): Promise<void> {
  const agents = positiveIntArg('--agents', 1000);
  const rounds = positiveIntArg('--rounds', 5);
  const p = process.argv.indexOf('--profile');
  const profileDir =
    p >= 0 ? path.resolve(process.argv[p + 1] ?? 'tmp/agent-client-prof') : undefined;
  const pki = createTestPki();
  const agent = createSelfSignedLeaf(pki.dir, 'agent');
  const tls: ClientTls = {
    cert: pki.clientCert,
    key: pki.clientKey,
    cas: [pki.caCert],
    verifyPeer: true,
  };
  console.log(
    `agent-client: ${agents} keep-alive clients, ${rounds} rounds of one GET each ` +
      `(${BODY.length} B answers), server in a separate process; client-side figures only`,
  );
  const server = child('--server');
  try {
    const { port } = await ask<{ port: number }>(server, {
      cert: agent.cert,
      key: agent.key,
      ca: pki.caCert,
    } satisfies ServerSetup);
    const results: ClientResult[] = [];
    for (const variant of ['old', 'openssl', 'builtin'] as const) {
      const proc = child('--client', profileDir);
      results.push(
        await ask<ClientResult>(proc, {
          variant,
          port,
          tls,
          agentCert: agent.cert,
          agents,
          rounds,
        } satisfies ClientSetup),
      );
      // A profiled child writes its profile on a normal exit only.
      if (profileDir === undefined) proc.kill();
      else proc.disconnect();
    }
    const f = (x: number, d = 1): string => x.toFixed(d).padStart(9);
    console.log(
      'variant  connect µs/conn  RSS KiB/conn  heap KiB/conn  ext KiB/conn  CPU µs/req   req/s wall  failures',
    );
    for (const r of results)
      console.log(
        `${r.variant.padEnd(7)}  ${f(r.connectUsPerConn, 0)}        ${f(r.rssKiBPerConn)}     ${f(r.heapKiBPerConn)}      ${f(r.externalKiBPerConn)}    ${f(r.usPerRequest)}   ${f(r.requestsPerWallSecond, 0)}  ${r.failures}`,
      );
  } finally {
    server.kill();
    fs.rmSync(pki.dir, { recursive: true, force: true });
  }
}

const role = process.argv[2];
if (role === '--server') {
  process.once('message', (m) => runServer(m as ServerSetup));
} else if (role === '--client') {
  process.once('message', (m) => {
    void runClient(m as ClientSetup).then((r) => {
      process.send?.(r);
    });
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
