/**
 * @module agent-client: HTTP(S) calls from the verifier to one pull agent (verifier §1.8): quotes,
 * V delivery and revocation notifications, each bounded by one deadline and a response-size cap, so
 * a hanging, slow or flooding agent costs one bounded request and never the loop.
 *
 * Design, for a verifier that keeps thousands of agents connected:
 * - TLS is @keylime/crypto's sans-I/O TLS 1.3 client on a plain socket (`engine: 'builtin'`, the
 *   default): once the handshake is done it keeps two traffic keys per connection, where Node's TLS
 *   keeps ≈ 50 KiB of OpenSSL and NodeBIO buffers per idle connection (`tools/bench tls-memory`).
 *   An agent that answers with TLS 1.2, or whose certificate is not the pinned one while CAs are
 *   configured (a chain only OpenSSL validates here), moves to Node's TLS for the client's lifetime.
 *   `engine: 'openssl'` (`[verifier] agent_tls_engine`) uses Node's TLS for every agent.
 * - Node's TLS runs on one `tls.SecureContext` per `ClientTls` object (the verifier's client cert
 *   and the configured CAs), shared by every agent. The `https.Agent` per agent this replaced built
 *   a context (and its certificate store) per connection: ~100 vs ~55 KiB RSS per idle connection,
 *   twice the connect CPU and three times the CPU per request (`tools/bench agent-client`).
 * - Upstream loads the agent's self-signed `mtls_cert` as an extra trust anchor of a per-agent
 *   context. Here the client decides itself, before writing anything: accept iff the peer
 *   certificate is byte-for-byte the enrolled `mtls_cert` (compared by SHA-256, the digest being
 *   all that is kept per agent) and inside its validity period (what OpenSSL checks for a
 *   self-signed anchor), or (Node's TLS) it chains to a configured CA. No hostname check, as
 *   upstream. The builtin client then checks the agent's CertificateVerify and Finished.
 * - One kept-alive raw socket per agent with a hand-written HTTP/1.1 exchange: one request at a
 *   time; a request arriving while another is in flight (a revocation POST during a quote) gets its
 *   own short-lived connection instead of queueing behind it. A request that finds the reused
 *   socket closed by the agent before any response byte is retried once on a fresh connection.
 * - Each socket has its listeners installed once; a request only sets the socket's current
 *   exchange, so a kept-alive socket never accumulates listeners.
 *
 * Response parsing is strict and bounded: status line, at most 16 KiB of header, Content-Length
 * (duplicates must agree) or chunked, or read-to-EOF when neither is given. Interim 1xx responses
 * (other than 101) are skipped. A framing error is `malformed` with status 599, so the engine retries
 * it like upstream's connection errors; a body that is not a JSON object is `malformed` with the
 * real status. After close() in-flight requests answer 599 and a later request opens a new
 * connection (as `https.Agent.destroy()` did).
 */
import { createHash, createPrivateKey } from 'node:crypto';
import type { KeyObject, X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { errorMessage } from '@keylime/core';
import { parseCertificates, Tls13Client, TlsError } from '@keylime/crypto';
import type { ServerCheck } from '@keylime/crypto';

/** The verifier's client identity for calls to agents. */
export interface ClientTls {
  readonly cert: string;
  readonly key: string;
  readonly passphrase?: string;
  /** Trusted server CAs (PEM); empty with verifyPeer false = `trusted_server_ca = all`. */
  readonly cas: readonly string[];
  readonly verifyPeer: boolean;
  /**
   * Which TLS speaks to agents: `builtin` (default) is @keylime/crypto's TLS 1.3 client, which keeps
   * ≈ 50 KiB less per idle connection than `openssl` (Node's TLS). A builtin connection falls back to
   * Node's TLS for an agent that only speaks TLS 1.2 or whose certificate needs a CA chain checked.
   */
  readonly engine?: 'builtin' | 'openssl';
}

/**
 * What the client keeps of an agent's enrolled `mtls_cert` (see mtlsPinOf): null for plain HTTP;
 * otherwise TLS, and the base64 SHA-256 of the certificate's DER, or '' when the enrolled text is
 * no PEM certificate (then only a configured CA vouches for the agent).
 */
export type MtlsPin = string | null;

export interface AgentEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly mtlsPin: MtlsPin;
}

export type AgentResponse =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly statusText: string;
      readonly results: unknown;
    }
  /** Connection, TLS or timeout problem: upstream's 599 (408 for a timeout), both retried. */
  | { readonly kind: 'unreachable'; readonly code: 408 | 599; readonly reason: string }
  | { readonly kind: 'too-large'; readonly limit: number }
  | { readonly kind: 'malformed'; readonly status: number; readonly reason: string };

export interface AgentClientOptions {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE = 1024;
/** Status for framing errors: the engine retries it like a connection error (upstream: 599). */
const FRAMING_STATUS = 599;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: .*)?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Controls other than HTAB, and CR or LF outside a CRLF pair. */
const BAD_HEADER_BYTES = /[\0-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const DECIMAL = /^\d{1,15}$/;
const CLOSE_TOKEN = /(?:^|,)[\t ]*close[\t ]*(?:,|$)/i;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[\t ]*(?:;[^\0-\x08\x0a-\x1f\x7f]*)?$/;
const REQUEST_PATH = /^[\x21-\x7e]+$/;

/** Shared client contexts, one per ClientTls object (the verifier builds that object once). */
const contexts = new WeakMap<ClientTls, tls.SecureContext>();

function secureContextFor(t: ClientTls): tls.SecureContext {
  let ctx = contexts.get(t);
  if (ctx === undefined) {
    ctx = tls.createSecureContext({
      cert: t.cert,
      key: t.key,
      ...(t.passphrase ? { passphrase: t.passphrase } : {}),
      // Always a list, even empty: Node's bundled public roots must never vouch for an agent.
      ca: [...t.cas],
      minVersion: 'TLSv1.2',
    });
    contexts.set(t, ctx);
  }
  return ctx;
}

/** The client identity as the builtin TLS client needs it: DER chain and key object. */
interface Tls13Identity {
  readonly chain: readonly Buffer[];
  readonly key: KeyObject;
}

const identities = new WeakMap<ClientTls, Tls13Identity>();

function tls13IdentityFor(t: ClientTls): Tls13Identity {
  let id = identities.get(t);
  if (id === undefined) {
    id = {
      chain: parseCertificates(t.cert).map((c) => c.raw),
      key: createPrivateKey({
        key: t.key,
        ...(t.passphrase ? { passphrase: t.passphrase } : {}),
      }),
    };
    identities.set(t, id);
  }
  return id;
}

const TRUSTED: ServerCheck = { ok: true };

/** The read buffer of every builtin-TLS socket of this thread (see Pool.open). */
const sharedReadBuffer = Buffer.allocUnsafeSlow(64 * 1024);

/** A sequential copy of a string built by concatenation (which V8 keeps as a tree of parts). */
function flat(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** The connection a socket carries (module-level listeners find it here: no closures per socket). */
const CONN = Symbol('keylime.agent-connection');
type ConnSocket = net.Socket & { [CONN]?: Conn };

function connOf(socket: net.Socket): Conn | undefined {
  return (socket as ConnSocket)[CONN];
}

// Listeners shared by every connection (Node calls them with the socket as `this`).
function onConnectTls13(this: net.Socket): void {
  const conn = connOf(this);
  if (conn?.tls13 !== undefined) conn.startTls13(conn.tls13);
}

function onConnected(this: net.Socket): void {
  connOf(this)?.onReady(this instanceof tls.TLSSocket);
}

function onSocketData(this: net.Socket, d: Buffer): void {
  connOf(this)?.onData(d);
}

function onSocketEnd(this: net.Socket): void {
  const ex = connOf(this)?.ex;
  if (ex !== undefined) ex.onEnd();
  else this.destroy();
}

function onSocketError(this: net.Socket, e: Error): void {
  connOf(this)?.ex?.onError(e);
}

function onSocketClose(this: net.Socket): void {
  const conn = connOf(this);
  if (conn === undefined) return;
  if (conn.pool.idle === conn) conn.pool.idle = undefined;
  conn.ex?.onEnd();
}

/**
 * Ciphertext of every builtin connection of this thread is read into one shared buffer, not a
 * fresh 64 KiB allocation per read: the client consumes it synchronously and copies what it keeps
 * (an incomplete record). Node calls the callback with the socket as `this`.
 */
const BUILTIN_ONREAD = {
  buffer: sharedReadBuffer,
  callback(this: net.Socket, n: number, buf: Uint8Array): boolean {
    connOf(this)?.onRecords(Buffer.from(buf.buffer, buf.byteOffset, n));
    return true;
  },
};

const UNTRUSTED_AGENT =
  'agent certificate does not match the enrolled mtls_cert and is not signed by a trusted CA';

const noIdentityCheck = (): undefined => undefined;

function hostFor(ip: string): string {
  return ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/**
 * The pin of an enrolled `mtls_cert` (null or "disabled": plain HTTP). Taken when the agent's
 * runtime is built, so no PEM stays in memory per agent (44 bytes, not ≈ 0.5–1 KiB of text).
 */
export function mtlsPinOf(mtlsCert: string | null): MtlsPin {
  if (mtlsCert === null || mtlsCert === '' || mtlsCert === 'disabled') return null;
  // A regex and base64 decode: new X509Certificate() costs ~0.1 ms per agent on Node 20.
  const b64 = PEM_CERTIFICATE.exec(mtlsCert)?.[1];
  const der = b64 === undefined ? undefined : Buffer.from(b64, 'base64');
  return der !== undefined && der.length > 0 ? certificateDigest(der) : '';
}

function certificateDigest(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64');
}

/** One agent's HTTP(S) client: a kept-alive connection plus short-lived ones for overlaps. */
export class AgentClient {
  private readonly pool: Pool;
  /** ` HTTP/1.1\r\nHost: …\r\n`, built once; a request is `METHOD path` + this + the rest. */
  private readonly requestTail: string;

  constructor(
    readonly endpoint: AgentEndpoint,
    tls: ClientTls | undefined,
    options: AgentClientOptions,
  ) {
    this.pool = new Pool(endpoint, endpoint.mtlsPin !== null ? tls : undefined, options);
    // Flattened: the template's string tree cost ≈ 130 bytes more per agent for as long as it lives.
    this.requestTail = flat(` HTTP/1.1\r\nHost: ${hostFor(endpoint.ip)}:${endpoint.port}\r\n`);
  }

  get(path: string): Promise<AgentResponse> {
    if (!REQUEST_PATH.test(path)) return Promise.resolve(invalidPath);
    return this.pool.run(`GET ${path}${this.requestTail}\r\n`);
  }

  post(path: string, body: unknown): Promise<AgentResponse> {
    if (!REQUEST_PATH.test(path)) return Promise.resolve(invalidPath);
    let json: string | undefined;
    try {
      json = JSON.stringify(body);
    } catch (e) {
      return Promise.resolve(unreachable(`request body is not serialisable: ${errorMessage(e)}`));
    }
    const payload =
      json === undefined
        ? `POST ${path}${this.requestTail}Content-Length: 0\r\n\r\n`
        : `POST ${path}${this.requestTail}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
    return this.pool.run(payload);
  }

  /** Destroys every connection; in-flight requests answer 599. Later requests reconnect. */
  close(): void {
    this.pool.close();
  }
}

const invalidPath: AgentResponse = {
  kind: 'unreachable',
  code: 599,
  reason: 'request path contains characters not allowed in a request line',
};

function unreachable(reason: string): AgentResponse {
  return { kind: 'unreachable', code: 599, reason };
}

/** Connection state of one agent. */
class Pool {
  /** The kept-alive connection while no request uses it. */
  idle: Conn | undefined = undefined;
  /** A request owns the kept-alive slot (its connection is not in `idle`). */
  busy = false;
  /** The request on the kept-alive slot, and overlapping ones (rare: no Set per request). */
  private primaryEx: Exchange | undefined = undefined;
  private overlapping: Set<Exchange> | undefined = undefined;
  private readonly host: string;
  /** Connections use the builtin TLS 1.3 client (until the agent needs Node's TLS). */
  builtinTls: boolean;

  constructor(
    readonly endpoint: AgentEndpoint,
    readonly tls: ClientTls | undefined,
    readonly options: AgentClientOptions,
  ) {
    const ip = endpoint.ip;
    this.host = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
    this.builtinTls = tls !== undefined && tls.engine !== 'openssl';
  }

  run(payload: string): Promise<AgentResponse> {
    return new Promise<AgentResponse>((resolve) => {
      const primary = !this.busy;
      if (primary) this.busy = true;
      const ex = new Exchange(this, payload, primary, resolve);
      if (primary) this.primaryEx = ex;
      else (this.overlapping ??= new Set()).add(ex);
      ex.start();
    });
  }

  /** The idle kept-alive connection if it is still usable. */
  takeIdle(): Conn | undefined {
    const conn = this.idle;
    this.idle = undefined;
    if (conn === undefined) return undefined;
    const s = conn.socket;
    if (s.destroyed || !s.writable || s.readableEnded) {
      s.destroy();
      return undefined;
    }
    s.ref();
    return conn;
  }

  /** Opens a connection; throws only on invalid options (the caller answers 599). */
  open(): Conn {
    const port = this.endpoint.port;
    if (this.tls === undefined)
      return new Conn(this, net.connect({ host: this.host, port }), 'plain');
    if (this.builtinTls) {
      const identity = tls13IdentityFor(this.tls);
      const engine = new Tls13Client({
        certificateChain: identity.chain,
        privateKey: identity.key,
        ...(net.isIP(this.host) === 0 ? { serverName: this.host } : {}),
        checkServer: (chain, leaf) => this.checkServer(chain, leaf),
      });
      return new Conn(this, net.connect({ host: this.host, port, onread: BUILTIN_ONREAD }), engine);
    }
    const socket = tls.connect({
      host: this.host,
      port,
      secureContext: secureContextFor(this.tls),
      rejectUnauthorized: false,
      checkServerIdentity: noIdentityCheck,
      ...(net.isIP(this.host) === 0 ? { servername: this.host } : {}),
    });
    return new Conn(this, socket, 'openssl');
  }

  /** Trust decision of the builtin client on the agent's chain (the same rule as `trusts`). */
  private checkServer(chain: readonly Buffer[], leafCert: X509Certificate): ServerCheck {
    if (this.tls?.verifyPeer !== true) return TRUSTED;
    const pin = this.endpoint.mtlsPin;
    const leaf = chain[0];
    if (pin && leaf !== undefined && certificateDigest(leaf) === pin) {
      // A pinned certificate still has to be current, as OpenSSL requires of a trust anchor.
      const now = Date.now();
      return now >= Date.parse(leafCert.validFrom) && now <= Date.parse(leafCert.validTo)
        ? TRUSTED
        : { ok: false, reason: 'the enrolled mtls_cert is outside its validity period' };
    }
    // Chains to a configured CA are OpenSSL's to validate: that agent moves to Node's TLS.
    if (this.tls.cas.length > 0) {
      return {
        ok: false,
        reason: 'agent certificate is not the enrolled mtls_cert',
        fallback: true,
      };
    }
    return { ok: false, reason: UNTRUSTED_AGENT };
  }

  /** Trust decision for a finished handshake (see the module comment). */
  trusts(socket: tls.TLSSocket): boolean {
    if (this.tls?.verifyPeer !== true || socket.authorized) return true;
    const pin = this.endpoint.mtlsPin;
    if (!pin) return false;
    // The legacy accessor: getPeerX509Certificate() is ~10x dearer and, on Node 20, one-shot.
    const peer: Partial<tls.PeerCertificate> = socket.getPeerCertificate(false);
    if (peer.raw === undefined || certificateDigest(peer.raw) !== pin) return false;
    // A pinned certificate still has to be current, as OpenSSL requires of a trust anchor.
    const now = Date.now();
    return now >= Date.parse(peer.valid_from ?? '') && now <= Date.parse(peer.valid_to ?? '');
  }

  /** A settled exchange hands its connection back: kept for the next request or destroyed. */
  done(ex: Exchange, conn: Conn | undefined, reusable: boolean): void {
    if (ex === this.primaryEx) {
      this.primaryEx = undefined;
    } else if (this.overlapping !== undefined) {
      this.overlapping.delete(ex);
      // Most agents never overlap requests: do not keep an empty Set per agent between quotes.
      if (this.overlapping.size === 0) this.overlapping = undefined;
    }
    if (ex.primary) this.busy = false;
    if (conn === undefined) return;
    if (reusable && ex.primary && !conn.socket.destroyed) {
      conn.served = true;
      this.idle = conn;
      conn.socket.unref();
    } else {
      conn.socket.destroy();
    }
  }

  close(): void {
    const closed = unreachable('agent client closed');
    this.primaryEx?.finish(closed, false);
    if (this.overlapping !== undefined)
      for (const ex of [...this.overlapping]) ex.finish(closed, false);
    const idle = this.idle;
    this.idle = undefined;
    idle?.socket.destroy();
  }
}

/** One socket with its listeners, installed once; events go to the current exchange. */
class Conn {
  ex: Exchange | undefined = undefined;
  /** Connected and, for TLS, trusted: requests may be written. */
  ready = false;
  /** Has completed a response, so a failure before the next response may be a stale close. */
  served = false;
  /** The builtin TLS client of this connection; absent for plain HTTP and Node's TLS. */
  readonly tls13: Tls13Client | undefined;

  constructor(
    readonly pool: Pool,
    readonly socket: net.Socket,
    mode: 'plain' | 'openssl' | Tls13Client,
  ) {
    socket.setNoDelay(true);
    (socket as ConnSocket)[CONN] = this;
    if (mode instanceof Tls13Client) {
      this.tls13 = mode;
      // Bytes arrive through the socket's `onread` callback (BUILTIN_ONREAD), not 'data' events.
      socket.once('connect', onConnectTls13);
    } else {
      socket.once(mode === 'openssl' ? 'secureConnect' : 'connect', onConnected);
      socket.on('data', onSocketData);
    }
    // Shared listener functions: a kept-alive socket per agent then holds no closures of its own.
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** Writes one request (encrypted by the builtin client when it runs this connection). */
  write(payload: string): void {
    const engine = this.tls13;
    if (engine === undefined) this.socket.write(payload);
    else this.socket.write(engine.seal(Buffer.from(payload, 'utf8')));
  }

  onData(d: Buffer): void {
    if (this.ex !== undefined) this.ex.onData(d);
    else this.socket.destroy(); // bytes nobody asked for: the connection is unusable
  }

  startTls13(engine: Tls13Client): void {
    try {
      this.socket.write(engine.start());
    } catch (e) {
      this.tlsFailed(engine, e);
    }
  }

  /** Bytes from the agent through the builtin client; tickets and key updates arrive even idle. */
  onRecords(d: Buffer): void {
    const engine = this.tls13;
    if (engine === undefined) return;
    let events;
    try {
      events = engine.receive(d);
    } catch (e) {
      this.tlsFailed(engine, e);
      return;
    }
    for (const record of events.send) this.socket.write(record);
    if (events.established) this.onReady(false);
    for (const data of events.data) {
      this.onData(data);
      if (this.socket.destroyed) return;
    }
    if (events.closed) {
      // close_notify: the agent sends no more; answer with ours and treat it as the end.
      this.socket.end();
      if (this.ex !== undefined) this.ex.onEnd();
      else this.socket.destroy();
    }
  }

  private tlsFailed(engine: Tls13Client, e: unknown): void {
    const alert = engine.alertFor(e);
    if (alert !== undefined && this.socket.writable) this.socket.write(alert);
    const ex = this.ex;
    this.socket.destroy();
    if (ex === undefined) return;
    if (e instanceof TlsError && e.fallback && this.pool.builtinTls) {
      // The agent needs what only Node's TLS does (TLS 1.2, a CA chain): use it from now on.
      this.pool.builtinTls = false;
      ex.reconnect(this);
      return;
    }
    ex.finish(unreachable(`TLS with the agent failed: ${errorMessage(e)}`), false);
  }

  onReady(openssl: boolean): void {
    if (openssl && !this.pool.trusts(this.socket as tls.TLSSocket)) {
      const ex = this.ex;
      this.socket.destroy();
      ex?.finish(unreachable(UNTRUSTED_AGENT), false);
      return;
    }
    this.ready = true;
    this.ex?.send();
  }
}

type Phase =
  | 'connect'
  | 'head'
  | 'length'
  | 'eof'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-crlf'
  | 'trailer'
  | 'done';

/**
 * The deadlines of every request of this thread with one timeout: requests join at the tail, so
 * the list stays in deadline order and one timer, armed for the head, serves them all. Node's own
 * timer lists work this way, but allocate a Timeout per setTimeout; here a request links itself.
 */
class DeadlineList {
  head: Exchange | undefined = undefined;
  tail: Exchange | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;

  constructor(readonly timeoutMs: number) {}

  add(ex: Exchange): void {
    ex.deadline = performance.now() + this.timeoutMs;
    ex.dlPrev = this.tail;
    ex.dlNext = undefined;
    if (this.tail === undefined) this.head = ex;
    else this.tail.dlNext = ex;
    this.tail = ex;
    ex.dlList = this;
    // For the head: the earliest deadline, also when a request joins while others expire.
    if (this.timer === undefined) this.arm((this.head ?? ex).deadline);
  }

  remove(ex: Exchange): void {
    if (ex.dlList !== this) return;
    const { dlPrev, dlNext } = ex;
    if (dlPrev === undefined) this.head = dlNext;
    else dlPrev.dlNext = dlNext;
    if (dlNext === undefined) this.tail = dlPrev;
    else dlNext.dlPrev = dlPrev;
    ex.dlPrev = ex.dlNext = ex.dlList = undefined;
    // An emptied list stops its timer; otherwise the timer fires at the old head's deadline
    // and re-arms for the new head.
    if (this.head === undefined && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private arm(at: number): void {
    // Node fires a delay above 2^31 - 1 ms after 1 ms: arm at most that far; expire() re-arms.
    const delay = Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(at - performance.now())));
    this.timer = setTimeout(() => this.expire(), delay);
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    for (let ex = this.head; ex !== undefined && ex.deadline <= now; ex = this.head) {
      this.remove(ex);
      ex.timedOut();
    }
    if (this.head !== undefined && this.timer === undefined) this.arm(this.head.deadline);
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** DeadlineList per timeout (one or two values per thread in practice). */
const deadlineLists = new Map<number, DeadlineList>();

function deadlineListFor(timeoutMs: number): DeadlineList {
  let list = deadlineLists.get(timeoutMs);
  if (list === undefined) deadlineLists.set(timeoutMs, (list = new DeadlineList(timeoutMs)));
  return list;
}

/** One request/response, from connect to settle, under one deadline. */
class Exchange {
  private conn: Conn | undefined = undefined;
  /** Place in the thread's DeadlineList while unsettled. */
  deadline = 0;
  dlPrev: Exchange | undefined = undefined;
  dlNext: Exchange | undefined = undefined;
  dlList: DeadlineList | undefined = undefined;
  private settled = false;
  private retried = false;
  private sawByte = false;
  private phase: Phase = 'connect';
  /** Unconsumed bytes of an incomplete header block or chunk line. */
  private carry: Buffer | undefined = undefined;
  private status = 0;
  private keepAlive = true;
  /** Bytes left of the Content-Length body or of the current chunk. */
  private remaining = 0;
  private chunks: Buffer[] | undefined = undefined;
  private size = 0;
  private trailerBytes = 0;

  constructor(
    private readonly pool: Pool,
    private readonly payload: string,
    readonly primary: boolean,
    private readonly resolve: (r: AgentResponse) => void,
  ) {}

  start(): void {
    deadlineListFor(this.pool.options.timeoutMs).add(this);
    const conn = this.primary ? this.pool.takeIdle() : undefined;
    if (conn !== undefined) this.attach(conn);
    else this.connect();
  }

  /** Called by the DeadlineList at the deadline. */
  timedOut(): void {
    const { timeoutMs } = this.pool.options;
    this.finish(
      { kind: 'unreachable', code: 408, reason: `no answer within ${timeoutMs} ms` },
      false,
    );
  }

  private connect(): void {
    let conn: Conn;
    try {
      conn = this.pool.open();
    } catch (e) {
      this.finish(unreachable(errorMessage(e)), false);
      return;
    }
    this.attach(conn);
  }

  private attach(conn: Conn): void {
    this.conn = conn;
    conn.ex = this;
    if (conn.ready) this.send();
  }

  send(): void {
    this.phase = 'head';
    this.conn?.write(this.payload);
  }

  /** The connection cannot serve this agent's TLS (see Conn.tlsFailed): start over on a new one. */
  reconnect(from: Conn): void {
    if (this.settled || this.conn !== from) return;
    this.conn = undefined;
    from.ex = undefined;
    this.phase = 'connect';
    this.connect();
  }

  /** Settles once: clears the deadline, detaches from the socket and hands it back. */
  finish(result: AgentResponse, reusable: boolean): void {
    if (this.settled) return;
    this.settled = true;
    this.dlList?.remove(this);
    const conn = this.conn;
    this.conn = undefined;
    if (conn !== undefined) conn.ex = undefined;
    this.chunks = undefined;
    this.carry = undefined;
    this.pool.done(this, conn, reusable);
    this.resolve(result);
  }

  /** The agent closed a reused idle connection before answering: one retry on a fresh one. */
  private staleRetry(): boolean {
    const conn = this.conn;
    if (this.retried || this.sawByte || conn === undefined || !conn.served) return false;
    this.retried = true;
    this.conn = undefined;
    conn.ex = undefined;
    conn.socket.destroy();
    this.phase = 'connect';
    this.connect();
    return true;
  }

  onError(e: Error): void {
    if (this.settled) return;
    const code = (e as NodeJS.ErrnoException).code;
    if ((code === 'ECONNRESET' || code === 'EPIPE') && this.staleRetry()) return;
    this.finish(unreachable(e.message), false);
  }

  /** EOF or close: the end of a read-to-EOF body, a stale connection or a truncated answer. */
  onEnd(): void {
    if (this.settled) return;
    if (this.phase === 'eof') {
      this.complete(false);
      return;
    }
    if (this.staleRetry()) return;
    this.finish(
      unreachable(
        this.phase === 'connect'
          ? 'connection closed by the agent during connection setup'
          : 'connection closed by the agent before the response was complete',
      ),
      false,
    );
  }

  onData(d: Buffer): void {
    if (this.settled) return;
    this.sawByte = true;
    let buf = d;
    if (this.carry !== undefined) {
      buf = Buffer.concat([this.carry, d]);
      this.carry = undefined;
    }
    let off = 0;
    while (off >= 0 && off < buf.length) {
      switch (this.phase) {
        case 'head':
          off = this.readHead(buf, off);
          break;
        case 'length':
          off = this.readLength(buf, off);
          break;
        case 'eof':
          off = this.readToEof(buf, off);
          break;
        case 'chunk-size':
          off = this.readChunkSize(buf, off);
          break;
        case 'chunk-data': {
          const n = Math.min(this.remaining, buf.length - off);
          this.take(buf, off, n);
          this.remaining -= n;
          if (this.remaining === 0) this.phase = 'chunk-crlf';
          off += n;
          break;
        }
        case 'chunk-crlf':
          off = this.readChunkEnd(buf, off);
          break;
        case 'trailer':
          off = this.readTrailer(buf, off);
          break;
        case 'connect':
        case 'done':
          this.framing('data from the agent before a request was sent');
          off = -1;
          break;
      }
    }
  }

  private framing(reason: string): void {
    this.finish({ kind: 'malformed', status: FRAMING_STATUS, reason }, false);
  }

  private tooLarge(): void {
    this.finish({ kind: 'too-large', limit: this.pool.options.maxResponseBytes }, false);
  }

  /** Keeps a body slice; the one copy happens in complete(). */
  private take(buf: Buffer, off: number, n: number): void {
    if (n === 0) return;
    (this.chunks ??= []).push(off === 0 && n === buf.length ? buf : buf.subarray(off, off + n));
    this.size += n;
  }

  /** The response is complete; `atEnd` means no byte followed it (else the socket is not reused). */
  private complete(atEnd: boolean): void {
    const chunks = this.chunks;
    const body =
      chunks === undefined
        ? EMPTY
        : chunks.length === 1
          ? (chunks[0] ?? EMPTY)
          : Buffer.concat(chunks, this.size);
    this.phase = 'done';
    this.finish(parseEnvelope(this.status, body), this.keepAlive && atEnd);
  }

  private readHead(buf: Buffer, off: number): number {
    const end = buf.indexOf(CRLFCRLF, off);
    if (end < 0 ? buf.length - off > MAX_HEAD_BYTES : end - off > MAX_HEAD_BYTES) {
      this.framing(`response header exceeds ${MAX_HEAD_BYTES} bytes`);
      return -1;
    }
    if (end < 0) {
      this.carry = buf.subarray(off);
      return -1;
    }
    if (!this.parseHead(buf.toString('latin1', off, end))) return -1;
    const next = end + 4;
    if (this.phase === 'done') {
      this.complete(next === buf.length);
      return -1;
    }
    return next;
  }

  /** Parses a header block; sets the framing phase, or settles and returns false. */
  private parseHead(text: string): boolean {
    if (BAD_HEADER_BYTES.test(text)) {
      this.framing('response header contains control characters');
      return false;
    }
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0] ?? '');
    if (m === null) {
      this.framing('invalid HTTP status line');
      return false;
    }
    const status = Number(m[2]);
    if (status < 200) {
      // Interim response: skip it and read the final one (101 would switch protocols: refuse).
      if (status === 101) {
        this.framing('unexpected 101 Switching Protocols');
        return false;
      }
      return true;
    }
    this.status = status;
    if (m[1] === '0') this.keepAlive = false;
    let length = -1;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] ?? '';
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) {
        this.framing('invalid response header line');
        return false;
      }
      // Only three headers matter; compare the lowercase name only when the length fits.
      switch (name.length) {
        case 14:
          if (name.toLowerCase() === 'content-length') {
            for (const part of line.slice(colon + 1).split(',')) {
              const v = part.trim();
              const n = DECIMAL.test(v) ? Number(v) : -1;
              if (n < 0 || (length >= 0 && n !== length)) {
                this.framing('invalid or conflicting Content-Length');
                return false;
              }
              length = n;
            }
          }
          break;
        case 17:
          if (name.toLowerCase() === 'transfer-encoding') {
            if (
              chunked ||
              line
                .slice(colon + 1)
                .trim()
                .toLowerCase() !== 'chunked'
            ) {
              this.framing('unsupported Transfer-Encoding');
              return false;
            }
            chunked = true;
          }
          break;
        case 10:
          if (name.toLowerCase() === 'connection' && CLOSE_TOKEN.test(line.slice(colon + 1)))
            this.keepAlive = false;
          break;
      }
    }
    if (chunked && length >= 0) {
      this.framing('both Content-Length and Transfer-Encoding');
      return false;
    }
    if (status === 204 || status === 304) {
      this.phase = 'done';
    } else if (chunked) {
      this.phase = 'chunk-size';
    } else if (length >= 0) {
      if (length > this.pool.options.maxResponseBytes) {
        this.tooLarge();
        return false;
      }
      this.remaining = length;
      this.phase = length === 0 ? 'done' : 'length';
    } else {
      this.phase = 'eof';
      this.keepAlive = false;
    }
    return true;
  }

  private readLength(buf: Buffer, off: number): number {
    const n = Math.min(this.remaining, buf.length - off);
    this.take(buf, off, n);
    this.remaining -= n;
    if (this.remaining > 0) return off + n;
    this.complete(off + n === buf.length);
    return -1;
  }

  private readToEof(buf: Buffer, off: number): number {
    const n = buf.length - off;
    if (this.size + n > this.pool.options.maxResponseBytes) {
      this.tooLarge();
      return -1;
    }
    this.take(buf, off, n);
    return buf.length;
  }

  private readChunkSize(buf: Buffer, off: number): number {
    const eol = buf.indexOf(CRLF, off);
    if ((eol < 0 ? buf.length : eol) - off > MAX_CHUNK_LINE) {
      this.framing('chunk size line too long');
      return -1;
    }
    if (eol < 0) {
      this.carry = buf.subarray(off);
      return -1;
    }
    const hex = CHUNK_SIZE.exec(buf.toString('latin1', off, eol))?.[1];
    if (hex === undefined) {
      this.framing('invalid chunk size');
      return -1;
    }
    const n = parseInt(hex, 16);
    if (n === 0) {
      this.phase = 'trailer';
    } else if (this.size + n > this.pool.options.maxResponseBytes) {
      this.tooLarge();
      return -1;
    } else {
      this.remaining = n;
      this.phase = 'chunk-data';
    }
    return eol + 2;
  }

  private readChunkEnd(buf: Buffer, off: number): number {
    if (buf.length - off < 2) {
      this.carry = buf.subarray(off);
      return -1;
    }
    if (buf[off] !== 0x0d || buf[off + 1] !== 0x0a) {
      this.framing('chunk data not followed by CRLF');
      return -1;
    }
    this.phase = 'chunk-size';
    return off + 2;
  }

  /** Trailer fields after the last chunk are read (bounded) and ignored. */
  private readTrailer(buf: Buffer, off: number): number {
    const eol = buf.indexOf(CRLF, off);
    if (this.trailerBytes + (eol < 0 ? buf.length : eol) - off > MAX_HEAD_BYTES) {
      this.framing(`response trailer exceeds ${MAX_HEAD_BYTES} bytes`);
      return -1;
    }
    if (eol < 0) {
      this.carry = buf.subarray(off);
      return -1;
    }
    if (eol === off) {
      this.complete(eol + 2 === buf.length);
      return -1;
    }
    this.trailerBytes += eol + 2 - off;
    return eol + 2;
  }
}

function parseEnvelope(status: number, bytes: Buffer): AgentResponse {
  let json: unknown;
  try {
    json = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'malformed', status, reason: 'response body is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { kind: 'malformed', status, reason: 'response body is not a JSON object' };
  }
  const o = json as Record<string, unknown>;
  return {
    kind: 'response',
    status,
    statusText: typeof o['status'] === 'string' ? o['status'] : '',
    results: o['results'],
  };
}
