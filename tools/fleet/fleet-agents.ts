/**
 * @module fleet-agents: one process hosting thousands of virtual pull agents for the fleet benchmark —
 * one mTLS server fed by a listening socket per agent (each agent has its own ip:port on 127.x.y.z,
 * routed by the socket's local address), software ECDSA P-256 AKs signing genuine quotes over the
 * verifier's nonce, an IMA log that grows a few entries per quote with PCR 10 kept consistent, and
 * registration/activation against a real registrar with a software EK (agent-registrar-tenant §3).
 * Per agent the state is a key, a few bytes and counters: every agent's log is the same sequence of
 * entries, so PCR 10 after k entries, the JSON-escaped lines and, per PCR mask and log length, the
 * PCR digest and blob are computed once per process.
 *
 * Serving is built for CPU per quote (the simulator shares the machine with the verifier): a plain
 * `tls.Server` (one SecureContext, client certificates checked against the verifier's CA exactly as
 * https did) with the small HTTP/1.1 reader of ./agent-http, a hand-built TPMS_ATTEST/TPMT_SIGNATURE
 * (byte-identical to @keylime/tpm's encoders; the spec checks this) and a hand-built JSON reply with
 * the same keys in the same order. What remains per quote is mostly the ECDSA signature and TLS.
 */
import {
  constants,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
  sign,
  timingSafeEqual,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import 'reflect-metadata';
import { activationAuthTag, generateEcKeyPairSync, kdfa, kdfe } from '@keylime/crypto';
import {
  AK_EXPECTED_ATTRIBUTES,
  EK_LOW_TEMPLATE,
  TpmAlg,
  dataPcrValue,
  decodeCredentialBlob,
  decodeIdObject,
  decodeTpm2bPublic,
  encodePcrBlob,
  encodeTpm2bPublic,
  objectName,
  pcrBlobFromValues,
  pcrSelection,
  tpmPublicFromKeyObject,
  tpmaObjectFromWord,
} from '@keylime/tpm';
import type { TpmaObject } from '@keylime/tpm';
import { serveHttp } from './agent-http';
import type { AgentHttpReply, AgentHttpRequest } from './agent-http';
import { fileDigest, imaNgTemplateData } from './ima-log';
import type { FleetIdentity } from './simulated-agent';

/** Files the fleet measures, cycled through as the log grows; the runtime policy allows exactly these. */
const IMA_FILES = 48;
const API_VERSIONS = ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'];
/** Latency histogram resolution: 1 ms buckets up to this many ms (later ones clamp). */
const HIST_MS = 20_000;
/** Longer than any quote interval: the verifier keeps one connection per agent. */
const KEEP_ALIVE_MS = 120_000;

interface ImaEntry {
  readonly line: string;
  /** `line` JSON-escaped (without quotes), ready to paste into the reply. */
  readonly json: string;
  /** SHA-256 of the template data: what the kernel extends into PCR 10 of the sha256 bank. */
  readonly extend: Buffer;
  readonly path: string;
  readonly digest: string;
}

function imaEntry(path: string, digest: string): ImaEntry {
  const data = imaNgTemplateData(digest, path);
  const sha1 = createHash('sha1').update(data).digest('hex');
  const line = `10 ${sha1} ima-ng sha256:${digest} ${path}\n`;
  return {
    line,
    json: JSON.stringify(line).slice(1, -1),
    extend: createHash('sha256').update(data).digest(),
    path,
    digest,
  };
}

/** Same boot for every agent of the fleet (a homogeneous fleet shares one runtime policy). */
const BOOT_ENTRY = imaEntry('boot_aggregate', fileDigest('fleet-boot-aggregate'));
const FILE_ENTRIES: readonly ImaEntry[] = Array.from({ length: IMA_FILES }, (_, i) =>
  imaEntry(`/usr/bin/fleet-tool${i}`, fileDigest(`/usr/bin/fleet-tool${i}`)),
);

/** Entry `i` of every fleet agent's IMA log: boot_aggregate, then the files in turn. */
function entryAt(i: number): ImaEntry {
  return i === 0 ? BOOT_ENTRY : (FILE_ENTRIES[(i - 1) % IMA_FILES] as ImaEntry);
}

/** PCR 10 (sha256 bank) after the first k entries, at index k; the same for every agent. */
const PCR10_AFTER: Buffer[] = [Buffer.alloc(32)];

function pcr10After(count: number): Buffer {
  for (let k = PCR10_AFTER.length; k <= count; k++) {
    const prev = PCR10_AFTER[k - 1] as Buffer;
    PCR10_AFTER.push(
      createHash('sha256')
        .update(prev)
        .update(entryAt(k - 1).extend)
        .digest(),
    );
  }
  return PCR10_AFTER[count] as Buffer;
}

/** TPM_GENERATED_VALUE ‖ TPM_ST_ATTEST_QUOTE: the first six bytes of every quote's TPMS_ATTEST. */
const ATTEST_MAGIC_TYPE = Buffer.from([0xff, 0x54, 0x43, 0x47, 0x80, 0x18]);
/** resetCount 1, restartCount 0, safe 1, firmwareVersion: what follows the clock in clockInfo. */
const CLOCK_TAIL = Buffer.from('00000001' + '00000000' + '01' + '2019102300163636', 'hex');
/** TPMT_SIGNATURE header for ECDSA/SHA-256 with a 32-byte r (s gets its own size field). */
const SIG_HEAD = Buffer.from([0x00, 0x18, 0x00, 0x0b, 0x00, 0x20]);

/** What a quote needs for one PCR mask (PCR 16 always included, as the Rust agent does for the NK). */
interface MaskLayout {
  readonly pcrs: readonly number[];
  /** TPML_PCR_SELECTION as it appears in TPMS_ATTEST. */
  readonly tpml: Buffer;
  /** Per log length: the PCR digest in TPMS_ATTEST and the base64 PCR blob of the quote string. */
  readonly byCount: Map<number, { readonly digest: Buffer; readonly blob: string }>;
}

/** Entries of `byCount` kept at most: agents of a run sit within a few log lengths of each other. */
const BY_COUNT_LIMIT = 1024;

/** Hand-encoded TPMS_ATTEST of a quote; the spec checks it against @keylime/tpm's encoder. */
export function encodeQuoteAttest(
  qualifiedSigner: Buffer,
  nonce: string,
  clock: number,
  tpml: Buffer,
  pcrDigest: Buffer,
): Buffer {
  const n = Buffer.byteLength(nonce, 'latin1');
  const b = Buffer.allocUnsafe(6 + 2 + qualifiedSigner.length + 2 + n + 8 + 17 + tpml.length + 34);
  let o = ATTEST_MAGIC_TYPE.copy(b, 0);
  o = b.writeUInt16BE(qualifiedSigner.length, o);
  o += qualifiedSigner.copy(b, o);
  o = b.writeUInt16BE(n, o);
  o += b.write(nonce, o, 'latin1');
  // u64 clock without BigInt: it stays far below 2^53.
  o = b.writeUInt32BE(Math.floor(clock / 0x1_0000_0000), o);
  o = b.writeUInt32BE(clock >>> 0, o);
  o += CLOCK_TAIL.copy(b, o);
  o += tpml.copy(b, o);
  o = b.writeUInt16BE(pcrDigest.length, o);
  pcrDigest.copy(b, o);
  return b;
}

/** TPMT_SIGNATURE from an IEEE-P1363 ECDSA P-256 signature (r ‖ s, 32 bytes each). */
export function encodeEcdsaSignature(p1363: Buffer): Buffer {
  const b = Buffer.allocUnsafe(72);
  SIG_HEAD.copy(b, 0);
  p1363.copy(b, 6, 0, 32);
  b.writeUInt16BE(32, 38);
  p1363.copy(b, 40, 32, 64);
  return b;
}

/** The runtime policy (v1) every fleet agent satisfies. */
export function fleetRuntimePolicy(): Record<string, unknown> {
  const digests: Record<string, string[]> = {};
  for (const e of [BOOT_ENTRY, ...FILE_ENTRIES]) digests[e.path] = [e.digest];
  return {
    meta: { version: 1, generator: 3 },
    release: 0,
    digests,
    excludes: [],
    keyrings: {},
    ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null },
    'ima-buf': {},
    'verification-keys': '',
  };
}

/** One virtual agent: identity, TPM state and counters. */
interface VirtualAgent {
  readonly id: string;
  readonly ip: string;
  port: number;
  readonly ak: KeyObject;
  readonly akTpm: string;
  readonly qualifiedSigner: Buffer;
  ek: KeyObject | undefined;
  ekTpm: string | undefined;
  /** Log length; PCR 10 is pcr10After(imaCount). */
  imaCount: number;
  clock: number;
  /** performance.now() of the last quote request, 0 = none yet. */
  lastRequestAt: number;
  served: number;
  /** `served` at the last stats reset. */
  servedAtReset: number;
}

/** What the driver learns about each agent (enough to enrol it without the registrar). */
export interface FleetAgentInfo {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly akTpm: string;
}

export interface FleetShardOptions {
  readonly shard: number;
  readonly count: number;
  readonly idPrefix: string;
  /** PEM of the CA the verifier's client certificate chains to (agent mTLS, §6.4). */
  readonly clientCaPem: string;
  readonly identity: FleetIdentity;
  /** IMA entries appended before each quote. */
  readonly imaGrowth: number;
  /** The verifier's quote_interval, subtracted from request-to-request time (latency estimate). */
  readonly quoteIntervalMs: number;
  /** Port tried first on every agent address (an ephemeral one when taken). */
  readonly basePort: number;
}

/** Counters since the last reset. */
export interface FleetStats {
  readonly served: number;
  readonly firstQuotes: number;
  readonly vkeys: number;
  readonly errors: number;
  /** TLS handshakes completed (a verifier reusing connections makes one per agent). */
  readonly handshakes: number;
  /** IMA entries sent (≈ imaGrowth × served when the verifier asks incrementally, §4.5). */
  readonly imaEntriesSent: number;
  /** Agents that served at least one quote ever. */
  readonly agentsQuoted: number;
  /** Agents that served at least one quote since the last reset. */
  readonly agentsQuotedSinceReset: number;
  /** [latency ms, count] pairs (request-to-next-request minus quote_interval). */
  readonly latency: readonly (readonly [number, number])[];
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly rssBytes: number;
}

/** The address of agent `i` of shard `s`: 127.(64+s).(i/250).(1+i%250), never 127.0.0.x. */
export function agentAddress(shard: number, i: number): string {
  return `127.${64 + shard}.${Math.floor(i / 250)}.${1 + (i % 250)}`;
}

function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ port, host, backlog: 64 }, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** The agent API's JSON envelope (§4): `{code, status, results}`. */
function send(code: number, status: string, results: unknown): AgentHttpReply {
  return { code, body: JSON.stringify({ code, status, results }) };
}

const VERSION_REPLY = send(200, 'Success', {
  supported_version: API_VERSIONS[API_VERSIONS.length - 1],
  supported_versions: API_VERSIONS,
});
const NOT_FOUND = send(404, 'Not Found', {});
const BAD_PARAMETERS = send(400, 'Invalid request parameters', {});
const OK_NULL = send(200, 'Success', null);

/** The four query parameters of GET /quotes/integrity (first occurrence wins, as URLSearchParams). */
interface QuoteQuery {
  nonce: string | undefined;
  mask: string | undefined;
  partial: string | undefined;
  imaMlEntry: string | undefined;
}

/** application/x-www-form-urlencoded value; undefined when its percent-encoding is malformed. */
function formDecode(v: string): string | undefined {
  if (!v.includes('%') && !v.includes('+')) return v;
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Parses the query string (without `?`); undefined when malformed. Other parameters are ignored. */
export function parseQuoteQuery(query: string): QuoteQuery | undefined {
  const q: QuoteQuery = {
    nonce: undefined,
    mask: undefined,
    partial: undefined,
    imaMlEntry: undefined,
  };
  let at = 0;
  while (at <= query.length) {
    let end = query.indexOf('&', at);
    if (end < 0) end = query.length;
    if (end > at) {
      const eq = query.indexOf('=', at);
      const cut = eq < 0 || eq > end ? end : eq;
      const key = formDecode(query.slice(at, cut));
      const value = formDecode(cut === end ? '' : query.slice(cut + 1, end));
      if (key === undefined || value === undefined) return undefined;
      if (key === 'nonce') q.nonce ??= value;
      else if (key === 'mask') q.mask ??= value;
      else if (key === 'partial') q.partial ??= value;
      else if (key === 'ima_ml_entry') q.imaMlEntry ??= value;
    }
    at = end + 1;
  }
  return q;
}

/** N virtual agents behind one TLS server in this process. */
export class FleetShard {
  private readonly agents: VirtualAgent[] = [];
  private readonly byEndpoint = new Map<string, VirtualAgent>();
  private readonly listeners: net.Server[] = [];
  /** Accepted TCP connections, closed on close(). */
  private readonly connections = new Set<net.Socket>();
  private readonly server: tls.Server;
  private readonly pcr16: Buffer;
  private readonly pubkeyJson: string;
  private readonly layouts = new Map<number, MaskLayout>();
  private hist = new Uint32Array(HIST_MS + 1);
  private served = 0;
  private firstQuotes = 0;
  private vkeys = 0;
  private errors = 0;
  private handshakes = 0;
  private imaEntriesSent = 0;

  constructor(private readonly options: FleetShardOptions) {
    const { identity } = options;
    this.pcr16 = Buffer.from(dataPcrValue('sha256', identity.nkPublicPem), 'hex');
    this.pubkeyJson = JSON.stringify(identity.nkPublicPem);
    // One server, so one SecureContext for all agents; it authorises the client certificate
    // (requestCert + rejectUnauthorized) before 'secureConnection', as https.Server did.
    this.server = tls.createServer({
      key: identity.tlsKeyPem,
      cert: identity.tlsCertPem,
      ca: options.clientCaPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    });
    this.server.on('tlsClientError', () => this.errors++);
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.handshakes++;
      // Routed once per connection: the local address is the agent's ip:port.
      const agent = this.byEndpoint.get(`${socket.localAddress ?? ''}:${socket.localPort ?? 0}`);
      serveHttp(socket, (req) => this.handleSafely(agent, req), { keepAliveMs: KEEP_ALIVE_MS });
    });
    const akTemplate = {
      nameAlg: TpmAlg.Sha256,
      objectAttributes: tpmaObjectFromWord(AK_EXPECTED_ATTRIBUTES) as TpmaObject,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: TpmAlg.Null },
      scheme: { scheme: TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 },
    };
    for (let i = 0; i < options.count; i++) {
      const id = `${options.idPrefix}-${options.shard}-${String(i).padStart(5, '0')}`;
      const pair = generateEcKeyPairSync('P-256');
      const akTpm = Buffer.from(
        encodeTpm2bPublic(tpmPublicFromKeyObject(pair.publicKey, akTemplate)),
      ).toString('base64');
      const agent: VirtualAgent = {
        id,
        ip: agentAddress(options.shard, i),
        port: 0,
        ak: pair.privateKey,
        akTpm,
        qualifiedSigner: Buffer.concat([
          Buffer.from([0, 0x0b]),
          createHash('sha256').update(id).digest(),
        ]),
        ek: undefined,
        ekTpm: undefined,
        imaCount: 0,
        clock: 100_000,
        lastRequestAt: 0,
        served: 0,
        servedAtReset: 0,
      };
      this.grow(agent, 1); // boot_aggregate
      this.agents.push(agent);
    }
  }

  /** Opens one listening socket per agent; resolves with what the driver needs to enrol them. */
  async listen(): Promise<FleetAgentInfo[]> {
    const feed = (socket: net.Socket): void => {
      this.connections.add(socket);
      socket.once('close', () => this.connections.delete(socket));
      this.server.emit('connection', socket);
    };
    for (const agent of this.agents) {
      const l = net.createServer(feed);
      try {
        agent.port = await listenOn(l, this.options.basePort, agent.ip);
      } catch {
        agent.port = await listenOn(l, 0, agent.ip);
      }
      this.listeners.push(l);
      this.byEndpoint.set(`${agent.ip}:${agent.port}`, agent);
    }
    return this.agents.map((a) => ({ id: a.id, ip: a.ip, port: a.port, akTpm: a.akTpm }));
  }

  async close(): Promise<void> {
    // A listener's close() waits for its connections, which the verifier keeps alive: end them too.
    const closed = this.listeners.map((l) => new Promise<void>((r) => l.close(() => r())));
    for (const c of this.connections) c.destroy();
    this.connections.clear();
    await Promise.all(closed);
  }

  /** Counters (and the latency histogram) since the last reset. */
  stats(reset: boolean): FleetStats {
    const latency: [number, number][] = [];
    this.hist.forEach((n, ms) => {
      if (n > 0) latency.push([ms, n]);
    });
    const cpu = process.cpuUsage();
    const out: FleetStats = {
      served: this.served,
      firstQuotes: this.firstQuotes,
      vkeys: this.vkeys,
      errors: this.errors,
      handshakes: this.handshakes,
      imaEntriesSent: this.imaEntriesSent,
      agentsQuoted: this.agents.reduce((n, a) => n + (a.served > 0 ? 1 : 0), 0),
      agentsQuotedSinceReset: this.agents.reduce(
        (n, a) => n + (a.served > a.servedAtReset ? 1 : 0),
        0,
      ),
      latency,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      rssBytes: process.memoryUsage.rss(),
    };
    if (reset) {
      this.hist = new Uint32Array(HIST_MS + 1);
      this.served = 0;
      this.firstQuotes = 0;
      this.vkeys = 0;
      this.errors = 0;
      this.handshakes = 0;
      this.imaEntriesSent = 0;
      for (const a of this.agents) a.servedAtReset = a.served;
    }
    return out;
  }

  /** Registers and activates every agent at the registrar's plain-HTTP port (§3.2, §3.5). */
  async register(
    host: string,
    port: number,
    concurrency: number,
    limit = Infinity,
  ): Promise<{ ok: number; failed: string[] }> {
    const todo = this.agents.slice(0, Math.min(limit, this.agents.length));
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    const failed: string[] = [];
    let ok = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < todo.length; i = next++) {
        const a = todo[i] as VirtualAgent;
        try {
          await this.registerOne(a, host, port, agent);
          ok++;
        } catch (e) {
          failed.push(`${a.id}: ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
    agent.destroy();
    return { ok, failed };
  }

  private async registerOne(
    a: VirtualAgent,
    host: string,
    port: number,
    agent: http.Agent,
  ): Promise<void> {
    if (!a.ek || !a.ekTpm) {
      const ek = generateEcKeyPairSync('P-256');
      a.ek = ek.privateKey;
      a.ekTpm = Buffer.from(
        encodeTpm2bPublic(tpmPublicFromKeyObject(ek.publicKey, EK_LOW_TEMPLATE)),
      ).toString('base64');
    }
    const reg = await jsonRequest(agent, host, port, 'POST', `/v2.6/agents/${a.id}`, {
      aik_tpm: a.akTpm,
      ek_tpm: a.ekTpm,
      ekcert: null,
      iak_cert: null,
      idevid_cert: null,
      ip: a.ip,
      mtls_cert: this.options.identity.tlsCertPem,
      port: a.port,
    });
    const blob = (reg.results as { blob?: unknown } | null)?.blob;
    if (reg.status !== 200 || typeof blob !== 'string')
      throw new Error(`registration: HTTP ${reg.status} ${reg.statusText}`);
    const credential = activateCredentialEcc(a.ek, a.akTpm, Buffer.from(blob, 'base64'));
    const tag = activationAuthTag(Buffer.from(credential).toString('base64'), a.id);
    const act = await jsonRequest(agent, host, port, 'PUT', `/v2.6/agents/${a.id}`, {
      auth_tag: tag,
    });
    if (act.status !== 200) throw new Error(`activation: HTTP ${act.status} ${act.statusText}`);
    // The EK is only needed once; dropping it keeps the per-agent footprint small.
    a.ek = undefined;
  }

  private grow(agent: VirtualAgent, n: number): void {
    agent.imaCount += n;
  }

  /** Selection, PCR digest and blob for `mask` at log length `count` (shared by all agents). */
  private pcrState(mask: number, count: number): { tpml: Buffer; digest: Buffer; blob: string } {
    let layout = this.layouts.get(mask);
    if (!layout) {
      const pcrs: number[] = [];
      for (let i = 0; i < 24; i++) if ((mask >>> i) & 1 || i === 16) pcrs.push(i);
      const sel = pcrSelection(TpmAlg.Sha256, pcrs);
      const tpml = Buffer.alloc(4 + 2 + 1 + sel.pcrSelect.length);
      tpml.writeUInt32BE(1, 0);
      tpml.writeUInt16BE(TpmAlg.Sha256, 4);
      tpml.writeUInt8(sel.pcrSelect.length, 6);
      tpml.set(sel.pcrSelect, 7);
      layout = { pcrs, tpml, byCount: new Map() };
      this.layouts.set(mask, layout);
    }
    let state = layout.byCount.get(count);
    if (!state) {
      const pcr10 = pcr10After(count);
      const zero = Buffer.alloc(32);
      const values = layout.pcrs.map((i) => (i === 10 ? pcr10 : i === 16 ? this.pcr16 : zero));
      const digest = createHash('sha256');
      for (const v of values) digest.update(v);
      const sel = [pcrSelection(TpmAlg.Sha256, layout.pcrs)];
      state = {
        digest: digest.digest(),
        blob: Buffer.from(encodePcrBlob(pcrBlobFromValues(sel, values))).toString('base64'),
      };
      if (layout.byCount.size >= BY_COUNT_LIMIT) layout.byCount.clear();
      layout.byCount.set(count, state);
    }
    return { tpml: layout.tpml, digest: state.digest, blob: state.blob };
  }

  /** The whole JSON reply to GET /quotes/integrity, keys in the order JSON.stringify gave before. */
  private quote(
    agent: VirtualAgent,
    nonce: string,
    mask: number,
    partial: boolean,
    imaEntryNo: number,
    apiVersion: string,
  ): string {
    this.grow(agent, this.options.imaGrowth);
    const count = agent.imaCount;
    const pcr = this.pcrState(mask, count);
    agent.clock += 1000;
    const attest = encodeQuoteAttest(
      agent.qualifiedSigner,
      nonce,
      agent.clock,
      pcr.tpml,
      pcr.digest,
    );
    const sig = sign('sha256', attest, { key: agent.ak, dsaEncoding: 'ieee-p1363' });
    const quote = `r${attest.toString('base64')}:${encodeEcdsaSignature(sig).toString('base64')}:${pcr.blob}`;
    // The log from entry `imaEntryNo` as the Rust agent serves it (whole log when past the end).
    const from = imaEntryNo > count ? 0 : imaEntryNo;
    this.imaEntriesSent += count - from;
    let ima = '';
    for (let i = from; i < count; i++) ima += entryAt(i).json;
    const sized = Number(apiVersion.split('.')[1] ?? '0') >= 5;
    return `{"code":200,"status":"Success","results":{"quote":"${quote}","hash_alg":"sha256","enc_alg":"${sized ? 'ecc256' : 'ecc'}","sign_alg":"ecdsa"${partial ? '' : `,"pubkey":${this.pubkeyJson}`},"ima_measurement_list":"${ima}","ima_measurement_list_entry":${from}}}`;
  }

  /** A handler that throws answers 400 Bad Request and counts as an error, as before. */
  private handleSafely(agent: VirtualAgent | undefined, req: AgentHttpRequest): AgentHttpReply {
    try {
      return this.handle(agent, req);
    } catch {
      this.errors++;
      return send(400, 'Bad Request', {});
    }
  }

  private handle(agent: VirtualAgent | undefined, req: AgentHttpRequest): AgentHttpReply {
    const arrived = performance.now();
    if (!agent) return NOT_FOUND;
    const q = req.target.indexOf('?');
    const path = q < 0 ? req.target : req.target.slice(0, q);
    if (path === '/version') return VERSION_REPLY;
    const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    const version = m?.[1] ?? '';
    const rest = m?.[2] ?? '';
    if (!API_VERSIONS.includes(version))
      return send(400, `API version not supported: v${version}`, {});
    if (req.method === 'GET' && rest === '/quotes/integrity') {
      const query = parseQuoteQuery(q < 0 ? '' : req.target.slice(q + 1));
      const nonce = query?.nonce ?? '';
      const partial = query?.partial;
      if (!query || !/^[A-Za-z0-9]{1,64}$/.test(nonce) || (partial !== '0' && partial !== '1')) {
        this.errors++;
        return BAD_PARAMETERS;
      }
      const mask = parseInt((query.mask ?? '0').replace(/^0x/i, ''), 16) || 0;
      const entry = Number.parseInt(query.imaMlEntry ?? '0', 10);
      // Lateness: how much later than one quote interval after the previous request this one came.
      if (agent.lastRequestAt > 0) {
        const ms = Math.round(arrived - agent.lastRequestAt - this.options.quoteIntervalMs);
        const b = Math.min(HIST_MS, Math.max(0, ms));
        this.hist[b] = (this.hist[b] ?? 0) + 1;
      } else this.firstQuotes++;
      agent.lastRequestAt = arrived;
      const body = this.quote(
        agent,
        nonce,
        mask,
        partial === '1',
        Number.isNaN(entry) ? 0 : entry,
        version,
      );
      agent.served++;
      this.served++;
      return { code: 200, body };
    }
    if (req.method === 'POST' && rest === '/keys/vkey') {
      const body = JSON.parse(req.body.toString('utf8')) as { encrypted_key?: string };
      privateDecrypt(
        {
          key: this.options.identity.nkPrivate,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha1',
        },
        Buffer.from(body.encrypted_key ?? '', 'base64'),
      );
      this.vkeys++;
      // V delivery is followed by a quote after quote_interval: do not count it as latency.
      agent.lastRequestAt = 0;
      return OK_NULL;
    }
    if (req.method === 'POST' && rest === '/notifications/revocation') return OK_NULL;
    if (req.method === 'GET' && rest === '/keys/pubkey')
      return send(200, 'Success', { pubkey: this.options.identity.nkPublicPem });
    if (req.method === 'GET' && rest === '/agent/info') {
      return send(200, 'Success', {
        agent_uuid: agent.id,
        tpm_hash_alg: 'sha256',
        tpm_enc_alg: 'ecc256',
        tpm_sign_alg: 'ecdsa',
        ak_handle: 2147483650,
      });
    }
    return NOT_FOUND;
  }
}

interface JsonReply {
  readonly status: number;
  readonly statusText: string;
  readonly results: unknown;
}

function jsonRequest(
  agent: http.Agent,
  host: string,
  port: number,
  method: string,
  path: string,
  body: unknown,
): Promise<JsonReply> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host,
        port,
        method,
        path,
        agent,
        timeout: 30_000,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        // A response cut off after its headers ends with 'close' (and maybe 'error'), never
        // 'end': settle then, or this registration would wait forever.
        res.on('error', reject);
        res.on('close', () => {
          if (!res.complete) reject(new Error('registrar closed the response before its end'));
        });
        res.on('end', () => {
          try {
            const o = (data === '' ? {} : JSON.parse(data)) as Record<string, unknown>;
            resolve({
              status: res.statusCode ?? 0,
              statusText: typeof o['status'] === 'string' ? o['status'] : '',
              results: o['results'],
            });
          } catch {
            resolve({ status: res.statusCode ?? 0, statusText: data.slice(0, 200), results: null });
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('registrar timeout')));
    req.on('error', reject);
    req.end(text);
  });
}

/**
 * TPM2_ActivateCredential in software for an ECC P-256 EK (the inverse of agent-registrar-tenant
 * §3.4): ECDH with the ephemeral point, KDFe seed, HMAC check over encIdentity ‖ Name(AK), AES-CFB.
 */
export function activateCredentialEcc(
  ekPrivate: KeyObject,
  akTpmB64: string,
  blobBytes: Uint8Array,
): Uint8Array {
  const blob = decodeCredentialBlob(blobBytes);
  const secret = Buffer.from(blob.encryptedSecret);
  const xLen = secret.readUInt16BE(0);
  const x = secret.subarray(2, 2 + xLen);
  const y = secret.subarray(4 + xLen, 4 + xLen + secret.readUInt16BE(2 + xLen));
  const ephemeral = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url') },
    format: 'jwk',
  });
  const z = diffieHellman({ privateKey: ekPrivate, publicKey: ephemeral });
  const ekJwk = createPublicKey(ekPrivate).export({ format: 'jwk' });
  const ekX = Buffer.alloc(32);
  const rawX = Buffer.from(ekJwk.x ?? '', 'base64url');
  rawX.copy(ekX, 32 - rawX.length);
  const seed = kdfe('sha256', z, 'IDENTITY', x, ekX, 256);
  const name = objectName(decodeTpm2bPublic(Buffer.from(akTpmB64, 'base64')));
  const id = decodeIdObject(blob.idObject);
  const hmacKey = kdfa('sha256', seed, 'INTEGRITY', new Uint8Array(0), new Uint8Array(0), 256);
  const mac = createHmac('sha256', hmacKey).update(id.encIdentity).update(name).digest();
  if (mac.length !== id.integrityHmac.length || !timingSafeEqual(mac, id.integrityHmac))
    throw new Error('credential blob integrity check failed (wrong EK or AK name)');
  const symKey = kdfa('sha256', seed, 'STORAGE', name, new Uint8Array(0), 128);
  const d = createDecipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
  const plain = Buffer.concat([d.update(id.encIdentity), d.final()]);
  return plain.subarray(2, 2 + plain.readUInt16BE(0));
}
