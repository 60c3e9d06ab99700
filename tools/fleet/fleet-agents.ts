/**
 * @module fleet-agents: one process hosting thousands of virtual pull agents for the fleet benchmark —
 * one HTTPS server fed by a listening socket per agent (each agent has its own ip:port on 127.x.y.z,
 * routed by the socket's local address), software ECDSA P-256 AKs signing genuine quotes over the
 * verifier's nonce, an IMA log that grows a few entries per quote with PCR 10 kept consistent, and
 * registration/activation against a real registrar with a software EK (agent-registrar-tenant §3).
 * Per agent the state is a few buffers and a key: IMA lines are regenerated from their index.
 */
import {
  constants,
  createDecipheriv,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  privateDecrypt,
  sign,
  timingSafeEqual,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import 'reflect-metadata';
import { activationAuthTag, kdfa, kdfe } from '@keylime/crypto';
import {
  AK_EXPECTED_ATTRIBUTES,
  EK_LOW_TEMPLATE,
  TpmAlg,
  TpmSt,
  dataPcrValue,
  decodeCredentialBlob,
  decodeIdObject,
  decodeTpm2bPublic,
  encodePcrBlob,
  encodeTpm2bPublic,
  encodeTpmsAttest,
  encodeTpmtSignature,
  formatQuoteString,
  objectName,
  pcrBlobFromValues,
  pcrSelection,
  tpmPublicFromKeyObject,
  tpmaObjectFromWord,
} from '@keylime/tpm';
import type { TpmaObject } from '@keylime/tpm';
import { fileDigest, imaNgTemplateData } from './ima-log';
import type { FleetIdentity } from './simulated-agent';

/** Files the fleet measures, cycled through as the log grows; the runtime policy allows exactly these. */
const IMA_FILES = 48;
const API_VERSIONS = ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'];
/** Latency histogram resolution: 1 ms buckets up to this many ms (later ones clamp). */
const HIST_MS = 20_000;

interface ImaEntry {
  readonly line: string;
  /** SHA-256 of the template data: what the kernel extends into PCR 10 of the sha256 bank. */
  readonly extend: Buffer;
  readonly path: string;
  readonly digest: string;
}

function imaEntry(path: string, digest: string): ImaEntry {
  const data = imaNgTemplateData(digest, path);
  const sha1 = createHash('sha1').update(data).digest('hex');
  return {
    line: `10 ${sha1} ima-ng sha256:${digest} ${path}\n`,
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
  pcr10: Buffer;
  imaCount: number;
  clock: number;
  /** performance.now() of the last quote request, 0 = none yet. */
  lastRequestAt: number;
  served: number;
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

function send(res: ServerResponse, code: number, status: string, results: unknown): void {
  const body = JSON.stringify({ code, status, results });
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function readBody(req: IncomingMessage, limit = 1 << 16): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
      if (text.length > limit) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

/** N virtual agents behind one HTTPS server in this process. */
export class FleetShard {
  private readonly agents: VirtualAgent[] = [];
  private readonly byEndpoint = new Map<string, VirtualAgent>();
  private readonly listeners: net.Server[] = [];
  private readonly server: https.Server;
  private readonly pcr16: Buffer;
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
    this.server = https.createServer(
      {
        key: identity.tlsKeyPem,
        cert: identity.tlsCertPem,
        ca: options.clientCaPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
        // Longer than any quote interval: the verifier keeps one connection per agent.
        keepAliveTimeout: 120_000,
      },
      (req, res) => {
        this.handle(req, res).catch(() => {
          this.errors++;
          if (!res.headersSent) send(res, 400, 'Bad Request', {});
        });
      },
    );
    this.server.on('tlsClientError', () => this.errors++);
    this.server.on('secureConnection', () => this.handshakes++);
    const akTemplate = {
      nameAlg: TpmAlg.Sha256,
      objectAttributes: tpmaObjectFromWord(AK_EXPECTED_ATTRIBUTES) as TpmaObject,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: TpmAlg.Null },
      scheme: { scheme: TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 },
    };
    for (let i = 0; i < options.count; i++) {
      const id = `${options.idPrefix}-${options.shard}-${String(i).padStart(5, '0')}`;
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
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
        pcr10: Buffer.alloc(32),
        imaCount: 0,
        clock: 100_000,
        lastRequestAt: 0,
        served: 0,
      };
      this.grow(agent, 1); // boot_aggregate
      this.agents.push(agent);
    }
  }

  /** Opens one listening socket per agent; resolves with what the driver needs to enrol them. */
  async listen(): Promise<FleetAgentInfo[]> {
    const feed = (socket: net.Socket): void => {
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
    await Promise.all(this.listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
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
      const ek = generateKeyPairSync('ec', { namedCurve: 'P-256' });
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
    let pcr = agent.pcr10;
    for (let k = 0; k < n; k++) {
      const e = entryAt(agent.imaCount++);
      pcr = createHash('sha256').update(pcr).update(e.extend).digest();
    }
    agent.pcr10 = pcr;
  }

  /** The log from entry `start` as the Rust agent serves it (whole log when start is past the end). */
  private imaSlice(agent: VirtualAgent, start: number): { text: string; entry: number } {
    const from = start > agent.imaCount ? 0 : start;
    this.imaEntriesSent += agent.imaCount - from;
    let text = '';
    for (let i = from; i < agent.imaCount; i++) text += entryAt(i).line;
    return { text, entry: from };
  }

  /** GET /quotes/integrity results for agent `index` (public for the driver's self-check). */
  integrityQuote(
    index: number,
    nonce: string,
    mask: number,
    partial: boolean,
    imaEntryNo: number,
  ): Record<string, unknown> {
    return this.quote(this.agents[index] as VirtualAgent, nonce, mask, partial, imaEntryNo, '2.6');
  }

  private quote(
    agent: VirtualAgent,
    nonce: string,
    mask: number,
    partial: boolean,
    imaEntryNo: number,
    apiVersion: string,
  ): Record<string, unknown> {
    this.grow(agent, this.options.imaGrowth);
    const pcrs: number[] = [];
    const values: Buffer[] = [];
    for (let i = 0; i < 24; i++) {
      if (!((mask >>> i) & 1) && i !== 16) continue;
      pcrs.push(i);
      values.push(i === 10 ? agent.pcr10 : i === 16 ? this.pcr16 : Buffer.alloc(32));
    }
    const sel = [pcrSelection(TpmAlg.Sha256, pcrs)];
    const digest = createHash('sha256');
    for (const v of values) digest.update(v);
    agent.clock += 1000;
    const attest = encodeTpmsAttest({
      type: TpmSt.AttestQuote,
      qualifiedSigner: agent.qualifiedSigner,
      extraData: Buffer.from(nonce, 'utf8'),
      clockInfo: { clock: BigInt(agent.clock), resetCount: 1, restartCount: 0, safe: 1 },
      firmwareVersion: 0x2019102300163636n,
      attested: { pcrSelect: sel, pcrDigest: digest.digest() },
    });
    const sig = sign('sha256', attest, { key: agent.ak, dsaEncoding: 'ieee-p1363' });
    const signature = encodeTpmtSignature({
      sigAlg: TpmAlg.Ecdsa,
      hash: TpmAlg.Sha256,
      signatureR: sig.subarray(0, 32),
      signatureS: sig.subarray(32),
    });
    const quote = formatQuoteString({
      attest,
      signature,
      pcrBlob: encodePcrBlob(pcrBlobFromValues(sel, values)),
    });
    const sized = Number(apiVersion.split('.')[1] ?? '0') >= 5;
    const results: Record<string, unknown> = {
      quote,
      hash_alg: 'sha256',
      enc_alg: sized ? 'ecc256' : 'ecc',
      sign_alg: 'ecdsa',
    };
    if (!partial) results['pubkey'] = this.options.identity.nkPublicPem;
    const slice = this.imaSlice(agent, imaEntryNo);
    results['ima_measurement_list'] = slice.text;
    results['ima_measurement_list_entry'] = slice.entry;
    return results;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const s = req.socket;
    const agent = this.byEndpoint.get(`${s.localAddress ?? ''}:${s.localPort ?? 0}`);
    if (!agent) {
      send(res, 404, 'Not Found', {});
      return;
    }
    const url = new URL(req.url ?? '/', 'https://agent');
    if (url.pathname === '/version') {
      send(res, 200, 'Success', {
        supported_version: API_VERSIONS[API_VERSIONS.length - 1],
        supported_versions: API_VERSIONS,
      });
      return;
    }
    const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
    const version = m?.[1] ?? '';
    const rest = m?.[2] ?? '';
    if (!API_VERSIONS.includes(version)) {
      send(res, 400, `API version not supported: v${version}`, {});
      return;
    }
    if (req.method === 'GET' && rest === '/quotes/integrity') {
      const nonce = url.searchParams.get('nonce') ?? '';
      const partial = url.searchParams.get('partial');
      if (!/^[A-Za-z0-9]{1,64}$/.test(nonce) || (partial !== '0' && partial !== '1')) {
        this.errors++;
        send(res, 400, 'Invalid request parameters', {});
        return;
      }
      const mask = parseInt((url.searchParams.get('mask') ?? '0').replace(/^0x/i, ''), 16) || 0;
      const entry = Number.parseInt(url.searchParams.get('ima_ml_entry') ?? '0', 10);
      // Latency estimate: the verifier asks again quote_interval after its verdict.
      if (agent.lastRequestAt > 0) {
        const ms = Math.round(arrived - agent.lastRequestAt - this.options.quoteIntervalMs);
        const b = Math.min(HIST_MS, Math.max(0, ms));
        this.hist[b] = (this.hist[b] ?? 0) + 1;
      } else this.firstQuotes++;
      agent.lastRequestAt = arrived;
      const results = this.quote(
        agent,
        nonce,
        mask,
        partial === '1',
        Number.isNaN(entry) ? 0 : entry,
        version,
      );
      agent.served++;
      this.served++;
      send(res, 200, 'Success', results);
      return;
    }
    if (req.method === 'POST' && rest === '/keys/vkey') {
      const body = JSON.parse(await readBody(req)) as { encrypted_key?: string };
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
      send(res, 200, 'Success', null);
      return;
    }
    if (req.method === 'POST' && rest === '/notifications/revocation') {
      await readBody(req);
      send(res, 200, 'Success', null);
      return;
    }
    if (req.method === 'GET' && rest === '/keys/pubkey') {
      send(res, 200, 'Success', { pubkey: this.options.identity.nkPublicPem });
      return;
    }
    if (req.method === 'GET' && rest === '/agent/info') {
      send(res, 200, 'Success', {
        agent_uuid: agent.id,
        tpm_hash_alg: 'sha256',
        tpm_enc_alg: 'ecc256',
        tpm_sign_alg: 'ecdsa',
        ak_handle: 2147483650,
      });
      return;
    }
    send(res, 404, 'Not Found', {});
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
