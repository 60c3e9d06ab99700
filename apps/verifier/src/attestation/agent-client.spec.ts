/**
 * AgentClient against real local servers (Node https/http and raw TLS/TCP servers that write exact
 * bytes): keep-alive reuse, trust decisions (pinned enrolled cert, configured CA, verifyPeer off),
 * HTTP framing (chunked, Connection: close, EOF bodies, limits, malformed input), the deadline,
 * stale keep-alive retry, overlapping requests and close().
 */
import { createPrivateKey, webcrypto } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import fs from 'node:fs';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createSelfSignedLeaf, createTestPki } from '@keylime/server/src/testing/openssl-pki';
import type { TestPki } from '@keylime/server/src/testing/openssl-pki';
import { AgentClient, mtlsPinOf } from './agent-client';
import type { AgentClientOptions, ClientTls } from './agent-client';

interface Identity {
  cert: string;
  key: string;
}

/** A self-signed certificate whose validity ended yesterday. */
async function expiredSelfSigned(): Promise<Identity> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=expired-agent',
    notBefore: new Date(Date.now() - 2 * 86_400_000),
    notAfter: new Date(Date.now() - 86_400_000),
    keys,
    signingAlgorithm: alg,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return {
    cert: cert.toString('pem'),
    key: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Running {
  port: number;
  /** TLS handshakes (or TCP connections for plain servers). */
  connections: number;
  seen: Seen[];
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

let pki: TestPki;
let agentA: Identity;
let agentB: Identity;
let clientTls: ClientTls;
const opts: AgentClientOptions = { timeoutMs: 2000, maxResponseBytes: 64 * 1024 };

beforeAll(() => {
  pki = createTestPki();
  agentA = createSelfSignedLeaf(pki.dir, 'agent-a');
  agentB = createSelfSignedLeaf(pki.dir, 'agent-b');
  clientTls = { cert: pki.clientCert, key: pki.clientKey, cas: [pki.caCert], verifyPeer: true };
});

afterAll(() => fs.rmSync(pki.dir, { recursive: true, force: true }));

function listenOn(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function jsonReply(res: http.ServerResponse, status: number, results: unknown): void {
  const body = JSON.stringify({ code: status, status: 'Success', results });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

const echo: Handler = (req, res, seen) => jsonReply(res, 200, { path: req.url, body: seen.body });

/** An mTLS https server (agents require the verifier's CA-issued client certificate). */
async function httpsAgent(id: Identity, handler: Handler = echo): Promise<Running> {
  const server = https.createServer({
    cert: id.cert,
    key: id.key,
    ca: pki.caCert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  return serve(server, 'secureConnection', handler);
}

async function httpAgent(handler: Handler = echo): Promise<Running> {
  return serve(http.createServer(), 'connection', handler);
}

async function serve(
  server: http.Server | https.Server,
  connEvent: string,
  handler: Handler,
): Promise<Running> {
  const r: Running = { port: 0, connections: 0, seen: [], close: () => Promise.resolve() };
  server.on(connEvent, () => r.connections++);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      r.seen.push(seen);
      handler(req, res, seen);
    });
  });
  r.port = await listenOn(server);
  r.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return r;
}

/**
 * A server that answers with exact bytes: `reply(socket, n, head)` gets each request head (the
 * n-th on its connection, from 0) and writes whatever it likes.
 */
async function rawAgent(
  secure: boolean,
  reply: (socket: net.Socket, n: number, head: string) => void,
): Promise<Running> {
  const sockets = new Set<net.Socket>();
  const r: Running = { port: 0, connections: 0, seen: [], close: () => Promise.resolve() };
  const onSocket = (socket: net.Socket): void => {
    r.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    let n = 0;
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        const len = /content-length: (\d+)/i.exec(head)?.[1];
        const total = end + 4 + Number(len ?? '0');
        if (buf.length < total) return;
        buf = buf.slice(total);
        const [method = '', url = ''] = head.split(' ');
        r.seen.push({ method, url, headers: {}, body: '' });
        reply(socket, n++, head);
      }
    });
  };
  const server = secure
    ? tls.createServer(
        { cert: agentA.cert, key: agentA.key, ca: pki.caCert, requestCert: true },
        onSocket,
      )
    : net.createServer(onSocket);
  r.port = await listenOn(server);
  r.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return r;
}

const ok = (body: string, extra = ''): string =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const OK_BODY = '{"code":200,"status":"Success","results":{"ok":true}}';

function client(port: number, mtlsCert: string | null = agentA.cert, t = clientTls, o = opts) {
  return new AgentClient({ ip: '127.0.0.1', port, mtlsPin: mtlsPinOf(mtlsCert) }, t, o);
}

/** Cipher suites offered by each ClientHello that passes through a TCP relay to `target`. */
async function helloSniffer(
  target: number,
): Promise<{ port: number; offers: number[][]; close(): Promise<void> }> {
  const offers: number[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect({ host: '127.0.0.1', port: target });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.once('data', (hello: Buffer) => {
      // record(5) type(1) length(3) version(2) random(32) session id(1+n) cipher suites(2+n)
      const sid = hello[43] ?? 0;
      const n = hello.readUInt16BE(44 + sid);
      const suites: number[] = [];
      for (let i = 0; i < n; i += 2) suites.push(hello.readUInt16BE(46 + sid + i));
      offers.push(suites);
      outbound.write(hello);
      inbound.pipe(outbound);
    });
    outbound.pipe(inbound);
  });
  const port = await listenOn(server);
  return {
    port,
    offers,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const TLS13_SUITES_ONLY = [0x1301, 0x1302, 0x1303];

describe('AgentClient TLS engine choice', () => {
  it("speaks the builtin TLS 1.3 client by default and Node's TLS when configured", async () => {
    const agent = await httpsAgent(agentA);
    const sniffer = await helloSniffer(agent.port);
    const builtin = client(sniffer.port);
    const openssl = client(sniffer.port, agentA.cert, { ...clientTls, engine: 'openssl' });
    try {
      expect((await builtin.get('/a')).kind).toBe('response');
      expect((await openssl.get('/b')).kind).toBe('response');
      expect(sniffer.offers[0]).toEqual(TLS13_SUITES_ONLY);
      // OpenSSL's hello also offers TLS 1.2 suites.
      expect(sniffer.offers[1]?.length).toBeGreaterThan(TLS13_SUITES_ONLY.length);
      expect(agent.connections).toBe(2);
    } finally {
      builtin.close();
      openssl.close();
      await sniffer.close();
      await agent.close();
    }
  });

  it("falls back to Node's TLS for an agent that only speaks TLS 1.2, and stays there", async () => {
    const server = https.createServer({
      cert: agentA.cert,
      key: agentA.key,
      ca: pki.caCert,
      requestCert: true,
      rejectUnauthorized: true,
      maxVersion: 'TLSv1.2',
    });
    const refused: string[] = [];
    server.on('tlsClientError', (e: Error) => refused.push(e.message));
    const agent = await serve(server, 'secureConnection', echo);
    const sniffer = await helloSniffer(agent.port);
    const c = client(sniffer.port);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await c.get(`/q${i}`);
        expect(r).toMatchObject({ kind: 'response', status: 200, results: { path: `/q${i}` } });
      }
      // One refused builtin hello, then one kept-alive OpenSSL connection for all three requests.
      expect(sniffer.offers.map((o) => o.length > TLS13_SUITES_ONLY.length)).toEqual([false, true]);
      expect(refused).toHaveLength(1);
      expect(agent.connections).toBe(1);
    } finally {
      c.close();
      await sniffer.close();
      await agent.close();
    }
  });
});

describe.each(['builtin', 'openssl'] as const)('AgentClient over mTLS (%s TLS)', (engine) => {
  let saved: ClientTls;
  beforeAll(() => {
    saved = clientTls;
    clientTls = { ...saved, engine };
  });
  afterAll(() => {
    clientTls = saved;
  });

  it('keeps one connection alive across sequential requests (one handshake)', async () => {
    const agent = await httpsAgent(agentA);
    const c = client(agent.port);
    try {
      for (let i = 0; i < 5; i++) {
        const r = await c.get(`/v2.1/quotes/integrity?nonce=${i}`);
        expect(r).toEqual({
          kind: 'response',
          status: 200,
          statusText: 'Success',
          results: { path: `/v2.1/quotes/integrity?nonce=${i}`, body: '' },
        });
      }
      expect(agent.connections).toBe(1);
      expect(agent.seen[0]?.headers.host).toBe(`127.0.0.1:${agent.port}`);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('accepts the enrolled self-signed certificate even when no CA is configured', async () => {
    const agent = await httpsAgent(agentA);
    const c = client(agent.port, agentA.cert, { ...clientTls, cas: [] });
    try {
      expect((await c.get('/x')).kind).toBe('response');
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('refuses a different self-signed certificate before sending anything', async () => {
    const agent = await httpsAgent(agentB);
    const c = client(agent.port, agentA.cert);
    try {
      const r = await c.post('/v2.1/keys/vkey', { encrypted_key: 'secret' });
      expect(r).toMatchObject({ kind: 'unreachable', code: 599 });
      expect(r.kind === 'unreachable' && r.reason).toMatch(/does not match/);
      expect(agent.seen).toHaveLength(0);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('refuses the enrolled certificate once it has expired (as a trust anchor would be)', async () => {
    const expired = await expiredSelfSigned();
    const agent = await httpsAgent(expired);
    const c = client(agent.port, expired.cert);
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'unreachable', code: 599 });
      expect(agent.seen).toHaveLength(0);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('accepts an agent certificate signed by a configured CA', async () => {
    const agent = await httpsAgent({ cert: pki.serverCert, key: pki.serverKey });
    const c = client(agent.port, agentA.cert);
    try {
      expect((await c.get('/x')).kind).toBe('response');
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('refuses a CA-signed certificate when that CA is not configured', async () => {
    const agent = await httpsAgent({ cert: pki.serverCert, key: pki.serverKey });
    const c = client(agent.port, agentA.cert, { ...clientTls, cas: [] });
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'unreachable', code: 599 });
      expect(agent.seen).toHaveLength(0);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it("answers 599 at once, not 408, when the agent refuses the verifier's client certificate", async () => {
    // TLS 1.3 judges the client certificate after the client's Finished: the client has finished
    // its handshake and sent the request when the agent closes (or alerts).
    const agent = await httpsAgent(agentA);
    const stranger = { ...clientTls, cert: pki.strangerCert, key: pki.strangerKey };
    const c = client(agent.port, agentA.cert, stranger, { ...opts, timeoutMs: 5000 });
    try {
      const started = Date.now();
      expect(await c.get('/x')).toMatchObject({ kind: 'unreachable', code: 599 });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(agent.seen).toHaveLength(0);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('accepts any certificate when verifyPeer is off', async () => {
    const agent = await httpsAgent(agentB);
    const c = client(agent.port, agentA.cert, { ...clientTls, cas: [], verifyPeer: false });
    try {
      expect((await c.get('/x')).kind).toBe('response');
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('delivers a POST body intact with JSON headers', async () => {
    const agent = await httpsAgent(agentA);
    const c = client(agent.port);
    const body = { encrypted_key: 'QUJD', note: 'ünïcödé ✓' };
    try {
      const r = await c.post('/v2.1/keys/vkey', body);
      expect(r.kind).toBe('response');
      const seen = agent.seen[0]!;
      expect(seen.method).toBe('POST');
      expect(seen.headers['content-type']).toBe('application/json');
      expect(seen.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(body))));
      expect(JSON.parse(seen.body)).toEqual(body);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('reads a chunked response and keeps the connection', async () => {
    const agent = await httpsAgent(agentA, (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"code":200,"status":"Success",');
      setTimeout(() => res.end(`"results":{"big":"${'x'.repeat(5000)}"}}`), 10);
    });
    const c = client(agent.port);
    try {
      for (let i = 0; i < 2; i++) {
        const r = await c.get('/chunked');
        expect(r.kind === 'response' && r.results).toEqual({ big: 'x'.repeat(5000) });
      }
      expect(agent.connections).toBe(1);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('honours Connection: close and reconnects for the next request', async () => {
    const agent = await httpsAgent(agentA, (_req, res) => {
      res.setHeader('Connection', 'close');
      jsonReply(res, 200, 1);
    });
    const c = client(agent.port);
    try {
      expect((await c.get('/a')).kind).toBe('response');
      expect((await c.get('/b')).kind).toBe('response');
      expect(agent.connections).toBe(2);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('reconnects after the agent closed the idle kept-alive connection', async () => {
    // Answers, then closes the idle connection 50 ms later (an agent's keep-alive timeout).
    const agent = await rawAgent(true, (s) => {
      s.write(ok(OK_BODY));
      setTimeout(() => s.end(), 50);
    });
    const c = client(agent.port);
    try {
      expect((await c.get('/a')).kind).toBe('response');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await c.get('/b')).kind).toBe('response');
      expect(agent.connections).toBe(2);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('retries once on a fresh connection when a reused one closes before any answer', async () => {
    // Answers the first request on each connection, hangs up on the second without a byte.
    const agent = await rawAgent(true, (s, n) => (n === 0 ? s.write(ok(OK_BODY)) : s.destroy()));
    const c = client(agent.port);
    try {
      expect((await c.get('/1')).kind).toBe('response');
      expect((await c.get('/2')).kind).toBe('response');
      expect(agent.connections).toBe(2);
      expect(agent.seen.map((s) => s.url)).toEqual(['/1', '/2', '/2']);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('does not retry on a fresh connection, nor once response bytes arrived', async () => {
    const hangUp = await rawAgent(true, (s) => s.destroy());
    const c1 = client(hangUp.port);
    const partial = await rawAgent(true, (s, n) => {
      if (n === 0) s.write(ok(OK_BODY));
      else s.end('HTTP/1.1 200 OK\r\nContent-Le');
    });
    const c2 = client(partial.port);
    try {
      expect(await c1.get('/x')).toMatchObject({ kind: 'unreachable', code: 599 });
      expect(hangUp.connections).toBe(1);
      expect((await c2.get('/1')).kind).toBe('response');
      expect(await c2.get('/2')).toMatchObject({ kind: 'unreachable', code: 599 });
      expect(partial.connections).toBe(1);
    } finally {
      c1.close();
      c2.close();
      await hangUp.close();
      await partial.close();
    }
  });

  it('answers 408 at the deadline and the next request still works', async () => {
    const agent = await httpsAgent(agentA, (req, res, seen) => {
      if (req.url !== '/hang') echo(req, res, seen);
    });
    const c = client(agent.port, agentA.cert, clientTls, { ...opts, timeoutMs: 300 });
    try {
      const t0 = Date.now();
      const r = await c.get('/hang');
      const elapsed = Date.now() - t0;
      expect(r).toEqual({ kind: 'unreachable', code: 408, reason: 'no answer within 300 ms' });
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1000);
      expect((await c.get('/ok')).kind).toBe('response');
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('keeps each deadline when requests with the same timeout start, end and expire in turn', async () => {
    const agent = await httpsAgent(agentA, (req, res, seen) => {
      if (req.url === '/slow') setTimeout(() => echo(req, res, seen), 100);
      else if (req.url !== '/hang') echo(req, res, seen);
    });
    // Clients of one thread with one timeout share a deadline list: the first hangs, the second
    // starts 150 ms later and hangs too, the third answers in between and must leave no deadline.
    const o = { ...opts, timeoutMs: 400 };
    const a = client(agent.port, agentA.cert, clientTls, o);
    const b = client(agent.port, agentA.cert, clientTls, o);
    const c = client(agent.port, agentA.cert, clientTls, o);
    try {
      const t0 = Date.now();
      const first = a.get('/hang').then((r) => ({ r, at: Date.now() - t0 }));
      await new Promise((resolve) => setTimeout(resolve, 150));
      const second = b.get('/hang').then((r) => ({ r, at: Date.now() - t0 }));
      expect((await c.get('/slow')).kind).toBe('response');
      const [x, y] = await Promise.all([first, second]);
      expect(x.r).toMatchObject({ kind: 'unreachable', code: 408 });
      expect(y.r).toMatchObject({ kind: 'unreachable', code: 408 });
      expect(x.at).toBeGreaterThanOrEqual(390);
      expect(y.at).toBeGreaterThanOrEqual(540);
      expect(y.at - x.at).toBeGreaterThanOrEqual(100);
      expect(y.at).toBeLessThan(1500);
      // The clients still work after their deadlines.
      expect((await a.get('/ok')).kind).toBe('response');
      expect((await b.get('/ok')).kind).toBe('response');
    } finally {
      for (const k of [a, b, c]) k.close();
      await agent.close();
    }
  });

  it('keeps a request_timeout longer than a Node timer can wait', async () => {
    const agent = await httpsAgent(agentA, (req, res, seen) => {
      setTimeout(() => echo(req, res, seen), 50);
    });
    // 2^31 ms and more: a setTimeout per request fired after 1 ms and answered 408.
    const c = client(agent.port, agentA.cert, clientTls, { ...opts, timeoutMs: 3e9 });
    try {
      expect((await c.get('/late')).kind).toBe('response');
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('answers 408 when the TLS handshake never completes', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s)); // accepts, never speaks TLS
    const port = await listenOn(server);
    const c = client(port, agentA.cert, clientTls, { ...opts, timeoutMs: 200 });
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'unreachable', code: 408 });
    } finally {
      c.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers 599 when nothing listens', async () => {
    const server = net.createServer();
    const port = await listenOn(server);
    await new Promise((resolve) => server.close(resolve));
    const c = client(port);
    expect(await c.get('/x')).toMatchObject({ kind: 'unreachable', code: 599 });
    c.close();
  });

  it('runs an overlapping request on its own connection instead of queueing it', async () => {
    const agent = await httpsAgent(agentA, (req, res, seen) => {
      if (req.url === '/slow') setTimeout(() => echo(req, res, seen), 300);
      else echo(req, res, seen);
    });
    const c = client(agent.port);
    try {
      const order: string[] = [];
      const slow = c.get('/slow').then((r) => (order.push('slow'), r));
      const fast = c.post('/notify', { msg: 'm' }).then((r) => (order.push('fast'), r));
      const [a, b] = await Promise.all([slow, fast]);
      expect(a.kind).toBe('response');
      expect(b.kind).toBe('response');
      expect(order).toEqual(['fast', 'slow']);
      expect(agent.connections).toBe(2);
      // The kept-alive connection is still the one for the next request.
      expect((await c.get('/again')).kind).toBe('response');
      expect(agent.connections).toBe(2);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('close() fails in-flight requests with 599; a later request reconnects', async () => {
    const agent = await httpsAgent(agentA, (req, res, seen) => {
      if (req.url !== '/hang') echo(req, res, seen);
    });
    const c = client(agent.port);
    try {
      expect((await c.get('/a')).kind).toBe('response');
      const pending = c.get('/hang');
      await new Promise((resolve) => setTimeout(resolve, 50));
      c.close();
      expect(await pending).toMatchObject({ kind: 'unreachable', code: 599 });
      expect((await c.get('/b')).kind).toBe('response');
      expect(agent.connections).toBe(2);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('does not accumulate listeners on a kept-alive socket', async () => {
    const agent = await httpsAgent(agentA);
    const c = client(agent.port);
    try {
      for (let i = 0; i < 30; i++) await c.get('/x');
      const socket = (c as unknown as { pool: { idle: { socket: net.Socket } } }).pool.idle.socket;
      // The builtin client reads through the socket's `onread` callback, not 'data' listeners.
      expect(socket.listenerCount('data')).toBe(engine === 'builtin' ? 0 : 1);
      expect(socket.listenerCount('close')).toBeLessThanOrEqual(3);
      expect(socket.listenerCount('error')).toBeLessThanOrEqual(2);
    } finally {
      c.close();
      await agent.close();
    }
  });
});

describe('AgentClient over plain HTTP', () => {
  it('uses HTTP when mtls_cert is disabled or no client TLS is configured', async () => {
    const agent = await httpAgent();
    const c1 = client(agent.port, 'disabled');
    const c2 = new AgentClient(
      { ip: '127.0.0.1', port: agent.port, mtlsPin: mtlsPinOf(agentA.cert) },
      undefined,
      opts,
    );
    const c3 = client(agent.port, null);
    try {
      for (const c of [c1, c2, c3]) {
        expect((await c.get('/x')).kind).toBe('response');
        expect((await c.get('/y')).kind).toBe('response');
      }
      expect(agent.connections).toBe(3);
    } finally {
      for (const c of [c1, c2, c3]) c.close();
      await agent.close();
    }
  });
});

describe('AgentClient response parsing', () => {
  async function once(wire: string | Buffer, o = opts) {
    const agent = await rawAgent(false, (s) => s.write(wire));
    const c = client(agent.port, 'disabled', clientTls, o);
    try {
      return { r: await c.get('/x'), agent, c };
    } finally {
      c.close();
      await agent.close();
    }
  }

  it('returns status, status text and results', async () => {
    const { r } = await once(ok(OK_BODY));
    expect(r).toEqual({
      kind: 'response',
      status: 200,
      statusText: 'Success',
      results: { ok: true },
    });
  });

  it('skips interim 1xx responses', async () => {
    const { r } = await once(`HTTP/1.1 100 Continue\r\n\r\n${ok(OK_BODY)}`);
    expect(r.kind).toBe('response');
  });

  it('parses strict chunked bodies with extensions and trailers', async () => {
    const wire =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
      `5;ext=1\r\n{"cod\r\n${(OK_BODY.length - 5).toString(16)}\r\n${OK_BODY.slice(5)}\r\n` +
      '0\r\nX-Trailer: 1\r\n\r\n';
    const { r } = await once(wire);
    expect(r).toMatchObject({ kind: 'response', status: 200, results: { ok: true } });
  });

  it('parses a response split into single bytes', async () => {
    const wire = Buffer.from(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${OK_BODY.length.toString(16)}\r\n${OK_BODY}\r\n0\r\n\r\n`,
    );
    const agent = await rawAgent(false, (s) => {
      s.setNoDelay(true);
      let i = 0;
      const tick = (): void => {
        if (i < wire.length) s.write(wire.subarray(i, ++i), () => setImmediate(tick));
      };
      tick();
    });
    const c = client(agent.port, 'disabled');
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'response', results: { ok: true } });
      expect(await c.get('/x')).toMatchObject({ kind: 'response', results: { ok: true } });
      expect(agent.connections).toBe(1);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('reads to EOF when there is no length', async () => {
    const agent = await rawAgent(false, (s) =>
      s.end(`HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${OK_BODY}`),
    );
    const c = client(agent.port, 'disabled');
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'response', results: { ok: true } });
      expect(await c.get('/x')).toMatchObject({ kind: 'response', results: { ok: true } });
      expect(agent.connections).toBe(2);
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('answers too-large for a declared Content-Length over the cap', async () => {
    const { r } = await once('HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n{', {
      ...opts,
      maxResponseBytes: 1000,
    });
    expect(r).toEqual({ kind: 'too-large', limit: 1000 });
  });

  it('answers too-large for a chunked stream over the cap', async () => {
    const chunk = `100\r\n${'a'.repeat(256)}\r\n`;
    const agent = await rawAgent(false, (s) =>
      s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(8)}`),
    );
    const c = client(agent.port, 'disabled', clientTls, { ...opts, maxResponseBytes: 1000 });
    try {
      expect(await c.get('/x')).toEqual({ kind: 'too-large', limit: 1000 });
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('answers too-large for an EOF-delimited stream over the cap', async () => {
    const { r } = await once(`HTTP/1.1 200 OK\r\n\r\n${'a'.repeat(3000)}`, {
      ...opts,
      maxResponseBytes: 1000,
    });
    expect(r).toEqual({ kind: 'too-large', limit: 1000 });
  });

  it('reports a body that is not JSON, or not an object, with the status', async () => {
    expect((await once(ok('not json'))).r).toEqual({
      kind: 'malformed',
      status: 200,
      reason: 'response body is not JSON',
    });
    expect((await once(ok('[1,2]'))).r).toEqual({
      kind: 'malformed',
      status: 200,
      reason: 'response body is not a JSON object',
    });
  });

  it('treats an empty body as an empty envelope', async () => {
    const { r } = await once('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(r).toEqual({ kind: 'response', status: 200, statusText: '', results: undefined });
  });

  it.each([
    ['garbage status line', 'FOO BAR BAZ\r\n\r\n'],
    ['HTTP/2 status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['two-digit status', 'HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n'],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'],
    ['non-numeric length', 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n{}'],
    ['negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    [
      'length with chunked',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    ['gzip encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n'],
    ['oversized chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n'],
    [
      'missing chunk CRLF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n',
    ],
    ['header without colon', 'HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n'],
    ['folded header', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n'],
    ['bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'],
    ['101 upgrade', 'HTTP/1.1 101 Switching Protocols\r\n\r\n'],
    ['huge header', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
  ])('rejects %s as malformed', async (_name, wire) => {
    const { r } = await once(wire);
    expect(r).toMatchObject({ kind: 'malformed', status: 599 });
  });

  it('answers 599 for a body cut short', async () => {
    const agent = await rawAgent(false, (s) =>
      s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"a":'),
    );
    const c = client(agent.port, 'disabled');
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'unreachable', code: 599 });
    } finally {
      c.close();
      await agent.close();
    }
  });

  it('refuses request paths that would break the request line', async () => {
    const c = client(1, 'disabled');
    expect(await c.get('/a b')).toMatchObject({ kind: 'unreachable', code: 599 });
    expect(await c.post('/a\r\nX: y', {})).toMatchObject({ kind: 'unreachable', code: 599 });
  });

  it('writes the IPv6 Host header in brackets', async () => {
    const server = http.createServer((req, res) => jsonReply(res, 200, req.headers.host));
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!listening) return; // no IPv6 loopback on this machine
    const port = (server.address() as AddressInfo).port;
    const c = new AgentClient({ ip: '::1', port, mtlsPin: null }, undefined, opts);
    try {
      expect(await c.get('/x')).toMatchObject({ kind: 'response', results: `[::1]:${port}` });
    } finally {
      c.close();
      await new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      });
    }
  });
});
