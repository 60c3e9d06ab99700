/**
 * @module simulated-agent: software pull agents that speak the Rust agent's API 2.x over mTLS
 * (agent-registrar-tenant §4) with genuine TPMS_ATTEST quotes signed by a software AK over the
 * verifier's nonce, real PCR digests, an IMA list that replays to PCR 10 and switchable
 * misbehaviour, optionally a UEFI event log (`mb_measurement_list`) whose replay is what PCRs
 * 0–15 hold. Cheap per agent (shared mTLS identity and NK, ECC AK by default) so one process can
 * host the 10 000 agents of the fleet benchmark. Test and benchmark tool only: no TPM involved.
 */
import {
  createHash,
  createPrivateKey,
  privateDecrypt,
  constants,
  sign,
  webcrypto,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { parseEventLog, replayEventLog } from '@keylime/mba';
import { generateEcKeyPairSync, generateRsaKeyPairSync } from '@keylime/crypto';
import {
  AK_EXPECTED_ATTRIBUTES,
  TpmAlg,
  TpmSt,
  dataPcrValue,
  encodePcrBlob,
  encodeTpm2bPublic,
  encodeTpmsAttest,
  encodeTpmtSignature,
  formatQuoteString,
  pcrBlobFromValues,
  pcrSelection,
  tpmPublicFromKeyObject,
  tpmaObjectFromWord,
} from '@keylime/tpm';
import type { TpmaObject } from '@keylime/tpm';
import { SimulatedImaLog, fileDigest } from './ima-log';

/** What a simulated agent does wrong (one at a time). */
export type Misbehaviour =
  | 'none'
  | 'bad-signature'
  | 'wrong-nonce'
  | 'replay-quote'
  | 'log-not-replaying'
  | 'oversized-log'
  | 'hang'
  | 'slow'
  | 'http-500';

/** TLS identity and payload key shared by the agents of one fleet (cheap per agent). */
export interface FleetIdentity {
  readonly tlsKeyPem: string;
  readonly tlsCertPem: string;
  readonly nkPrivate: KeyObject;
  readonly nkPublicPem: string;
}

/** Creates a self-signed ECC P-256 mTLS certificate (as the Rust agent does, §6.3) and an RSA NK. */
export async function createFleetIdentity(commonName = 'simulated-agent'): Promise<FleetIdentity> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const tlsKeyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const nk = generateRsaKeyPairSync(2048);
  return {
    tlsKeyPem,
    tlsCertPem: cert.toString('pem'),
    nkPrivate: nk.privateKey,
    nkPublicPem: nk.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface SimulatedAgentOptions {
  readonly agentId: string;
  readonly identity: FleetIdentity;
  /** AK type; ECC P-256 is cheap to generate, RSA-2048 matches most TPMs. */
  readonly akKind?: 'rsa' | 'ecc';
  /** Number of files measured after boot_aggregate. */
  readonly imaFiles?: number;
  /** API versions served (default 2.1 … 2.6). */
  readonly apiVersions?: readonly string[];
}

export interface RevocationReceived {
  readonly msg: string;
  readonly signature: string;
}

const DEFAULT_VERSIONS = ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'];

/** One simulated agent: TPM state, IMA log, behaviour, and what the verifier sent it. */
export class SimulatedAgent {
  readonly agentId: string;
  readonly identity: FleetIdentity;
  readonly akKind: 'rsa' | 'ecc';
  /** Base64 TPM2B_PUBLIC of the AK, as the registrar stores `aik_tpm`. */
  readonly akTpm: string;
  readonly ima = new SimulatedImaLog();
  /** SHA-256 bank PCR values other than 10 and 16 (unset = zeros). */
  readonly pcrs = new Map<number, Buffer>();
  readonly apiVersions: readonly string[];
  misbehaviour: Misbehaviour = 'none';
  slowMs = 0;
  /** Decrypted V halves received on /keys/vkey. */
  readonly vkeys: Buffer[] = [];
  readonly revocations: RevocationReceived[] = [];
  /** Quotes served (for tests and the benchmark). */
  quotesServed = 0;
  /** performance.now() of each quote request's arrival (for tests of the polling period). */
  readonly quoteRequestTimes: number[] = [];
  /** Requests seen per API version prefix, e.g. `2.6` (for version-negotiation tests). */
  readonly versionsRequested: string[] = [];
  /** UEFI event log served as `mb_measurement_list` when PCR 0 is quoted (undefined: none). */
  private mbLog: Buffer | undefined;
  private readonly akPrivate: KeyObject;
  private clock = 100_000n;
  private lastResults: Record<string, unknown> | undefined;

  constructor(options: SimulatedAgentOptions) {
    this.agentId = options.agentId;
    this.identity = options.identity;
    this.akKind = options.akKind ?? 'ecc';
    this.apiVersions = options.apiVersions ?? DEFAULT_VERSIONS;
    const pair =
      this.akKind === 'rsa' ? generateRsaKeyPairSync(2048) : generateEcKeyPairSync('P-256');
    this.akPrivate = pair.privateKey;
    const pub = tpmPublicFromKeyObject(pair.publicKey, {
      nameAlg: TpmAlg.Sha256,
      objectAttributes: tpmaObjectFromWord(AK_EXPECTED_ATTRIBUTES) as TpmaObject,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: TpmAlg.Null },
      scheme: {
        scheme: this.akKind === 'rsa' ? TpmAlg.RsaSsa : TpmAlg.Ecdsa,
        hashAlg: TpmAlg.Sha256,
      },
    });
    this.akTpm = Buffer.from(encodeTpm2bPublic(pub)).toString('base64');
    this.ima.append('boot_aggregate', this.bootAggregate());
    for (let i = 0; i < (options.imaFiles ?? 3); i++)
      this.ima.append(`/usr/bin/tool${i}`, fileDigest(`/usr/bin/tool${i}`));
  }

  /** The boot_aggregate digest this agent measures (what a policy must allow). */
  bootAggregate(): string {
    return createHash('sha256').update(`boot:${this.agentId}`).digest('hex');
  }

  /** A runtime policy (v1) allowing exactly the files measured so far. */
  runtimePolicy(): Record<string, unknown> {
    const digests: Record<string, string[]> = {};
    for (const line of this.ima.lines) {
      const [, , , d, path] = line.split(' ');
      if (d !== undefined && path !== undefined) digests[path] = [d.replace(/^sha256:/, '')];
    }
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

  /**
   * Boots from `log`: serves it as `mb_measurement_list` and sets SHA-256 PCRs 0–15 (not 10, which
   * is IMA's) to its replay, so log and quote agree as on a real machine.
   */
  setMeasuredBootLog(log: Uint8Array): void {
    const bank = replayEventLog(parseEventLog(log)).banks.get('sha256');
    if (bank === undefined) throw new Error('the event log has no SHA-256 bank');
    for (let p = 0; p <= 15; p++) {
      const value = bank.pcrs[p];
      if (p !== 10 && value !== undefined) this.pcrs.set(p, Buffer.from(value));
    }
    this.mbLog = Buffer.from(log);
  }

  /**
   * Rewrites the served log only (the PCRs keep the real boot): flips a byte of the first digest
   * of the first event on `pcr`, as an attacker hiding what was booted would. Returns false when
   * no log is set or no event extends `pcr`.
   */
  tamperMeasuredBootLog(pcr = 4): boolean {
    if (this.mbLog === undefined) return false;
    const ev = parseEventLog(this.mbLog).events.find(
      (e) => e.pcrIndex === pcr && e.eventType !== 3 && e.digests.length > 0,
    );
    if (ev === undefined) return false;
    const copy = Buffer.from(this.mbLog);
    // TCG_PCR_EVENT2: pcrIndex u32, eventType u32, digestCount u32, algId u16, then the digest.
    const at = ev.offset + 14;
    copy[at] = (copy[at] ?? 0) ^ 0xff;
    this.mbLog = copy;
    return true;
  }

  /** Measures a file not in the policy: PCR 10 really changes, the quote stays consistent. */
  tamper(path = '/tmp/evil'): void {
    this.ima.append(path, fileDigest(path, 666));
  }

  private pcrValue(pcr: number): Buffer {
    if (pcr === 10) return this.ima.pcr10Value;
    if (pcr === 16) return Buffer.from(dataPcrValue('sha256', this.identity.nkPublicPem), 'hex');
    return this.pcrs.get(pcr) ?? Buffer.alloc(32);
  }

  /** Builds the `results` of GET /quotes/integrity (agent-registrar-tenant §4.2). */
  integrityQuote(
    nonce: string,
    maskBits: number,
    partial: boolean,
    imaEntry: number,
    apiVersion: string,
  ): Record<string, unknown> {
    if (this.misbehaviour === 'replay-quote' && this.lastResults !== undefined)
      return this.lastResults;
    const pcrs: number[] = [];
    for (let i = 0; i < 24; i++) if ((maskBits >>> i) & 1 || i === 16) pcrs.push(i);
    const values = pcrs.map((p) => this.pcrValue(p));
    const sel = [pcrSelection(TpmAlg.Sha256, pcrs)];
    const digest = createHash('sha256');
    for (const v of values) digest.update(v);
    this.clock += 1000n;
    const extraData = Buffer.from(
      this.misbehaviour === 'wrong-nonce' ? `${nonce}x` : nonce,
      'utf8',
    );
    const attest = encodeTpmsAttest({
      type: TpmSt.AttestQuote,
      qualifiedSigner: Buffer.concat([
        Buffer.from([0, 0x0b]),
        createHash('sha256').update(this.agentId).digest(),
      ]),
      extraData,
      clockInfo: { clock: this.clock, resetCount: 1, restartCount: 0, safe: 1 },
      firmwareVersion: 0x2019102300163636n,
      attested: { pcrSelect: sel, pcrDigest: digest.digest() },
    });
    let signature: Uint8Array;
    if (this.akKind === 'rsa') {
      const sig = sign('sha256', attest, this.akPrivate);
      if (this.misbehaviour === 'bad-signature') sig[10] = (sig[10] ?? 0) ^ 0xff;
      signature = encodeTpmtSignature({ sigAlg: TpmAlg.RsaSsa, hash: TpmAlg.Sha256, sig });
    } else {
      const sig = sign('sha256', attest, { key: this.akPrivate, dsaEncoding: 'ieee-p1363' });
      if (this.misbehaviour === 'bad-signature') sig[10] = (sig[10] ?? 0) ^ 0xff;
      signature = encodeTpmtSignature({
        sigAlg: TpmAlg.Ecdsa,
        hash: TpmAlg.Sha256,
        signatureR: sig.subarray(0, 32),
        signatureS: sig.subarray(32),
      });
    }
    const quote = formatQuoteString({
      attest,
      signature,
      pcrBlob: encodePcrBlob(pcrBlobFromValues(sel, values)),
    });
    const sized = Number(apiVersion.split('.')[1] ?? '0') >= 5;
    const results: Record<string, unknown> = {
      quote,
      hash_alg: 'sha256',
      enc_alg: this.akKind === 'rsa' ? (sized ? 'rsa2048' : 'rsa') : sized ? 'ecc256' : 'ecc',
      sign_alg: this.akKind === 'rsa' ? 'rsassa' : 'ecdsa',
    };
    if (!partial) results['pubkey'] = this.identity.nkPublicPem;
    const slice = this.ima.slice(imaEntry);
    let list = slice.text;
    if (this.misbehaviour === 'log-not-replaying' && list !== '') {
      // Drop the last entry: the replay can never reach the quoted PCR 10.
      list = list.slice(0, list.slice(0, -1).lastIndexOf('\n') + 1);
    }
    if (this.misbehaviour === 'oversized-log')
      list += `${'10 '.padEnd(200, 'x')}\n`.repeat(64 * 1024);
    results['ima_measurement_list'] = list;
    results['ima_measurement_list_entry'] = slice.entry;
    // Like the Rust agent: the boot log goes along only when PCR 0 is quoted.
    if (this.mbLog !== undefined && (maskBits & 1) === 1)
      results['mb_measurement_list'] = this.mbLog.toString('base64');
    this.lastResults = results;
    return results;
  }
}

function send(res: ServerResponse, code: number, status: string, results: unknown): void {
  const body = JSON.stringify({ code, status, results });
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(
  agent: SimulatedAgent,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://agent');
  if (url.pathname === '/version') {
    send(res, 200, 'Success', {
      supported_version: agent.apiVersions[agent.apiVersions.length - 1],
      supported_versions: agent.apiVersions,
    });
    return;
  }
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
  if (!m) {
    send(res, 400, 'Not Implemented: Use /version or versioned interfaces', {});
    return;
  }
  const version = m[1] as string;
  const rest = m[2] as string;
  agent.versionsRequested.push(version);
  if (!agent.apiVersions.includes(version)) {
    send(res, 400, `API version not supported: v${version}`, {});
    return;
  }
  if (req.method === 'GET' && rest === '/quotes/integrity') {
    agent.quoteRequestTimes.push(performance.now());
    const nonce = url.searchParams.get('nonce') ?? '';
    const mask = url.searchParams.get('mask') ?? '0x0';
    const partial = url.searchParams.get('partial');
    if (!/^[A-Za-z0-9]{1,64}$/.test(nonce) || (partial !== '0' && partial !== '1')) {
      send(res, 400, 'Invalid request parameters', {});
      return;
    }
    if (agent.misbehaviour === 'hang') return; // never answers; the socket stays open
    if (agent.misbehaviour === 'http-500') {
      send(res, 500, 'Internal Server Error', {});
      return;
    }
    if (agent.misbehaviour === 'slow' && agent.slowMs > 0)
      await new Promise((r) => setTimeout(r, agent.slowMs));
    const entry = Number.parseInt(url.searchParams.get('ima_ml_entry') ?? '0', 10);
    const results = agent.integrityQuote(
      nonce,
      parseInt(mask.replace(/^0x/i, ''), 16) || 0,
      partial === '1',
      Number.isNaN(entry) ? 0 : entry,
      version,
    );
    agent.quotesServed++;
    send(res, 200, 'Success', results);
    return;
  }
  if (req.method === 'POST' && rest === '/keys/vkey') {
    const body = JSON.parse(await readBody(req)) as { encrypted_key?: string };
    const v = privateDecrypt(
      {
        key: agent.identity.nkPrivate,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha1',
      },
      Buffer.from(body.encrypted_key ?? '', 'base64'),
    );
    agent.vkeys.push(v);
    send(res, 200, 'Success', null);
    return;
  }
  if (req.method === 'POST' && rest === '/notifications/revocation') {
    const body = JSON.parse(await readBody(req)) as { msg?: string; signature?: string };
    agent.revocations.push({ msg: body.msg ?? '', signature: body.signature ?? '' });
    send(res, 200, 'Success', null);
    return;
  }
  send(res, 404, 'Not Found', {});
}

/** A listening simulated agent. */
export interface RunningSimulatedAgent {
  readonly agent: SimulatedAgent;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `agent` on 127.0.0.1 (free port) with mTLS: client certificates must chain to `clientCa`.
 * `clientCa` null serves plain HTTP, as an agent with `enable_agent_mtls = false` does.
 */
export function serveSimulatedAgent(
  agent: SimulatedAgent,
  clientCa: string | null,
  port = 0,
): Promise<RunningSimulatedAgent> {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(agent, req, res).catch(() => {
      if (!res.headersSent) send(res, 400, 'Bad Request', {});
    });
  };
  const server =
    clientCa === null
      ? http.createServer({ keepAliveTimeout: 30_000 }, onRequest)
      : https.createServer(
          {
            key: agent.identity.tlsKeyPem,
            cert: agent.identity.tlsCertPem,
            ca: clientCa,
            requestCert: true,
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
            keepAliveTimeout: 30_000,
          },
          onRequest,
        );
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const p = (server.address() as AddressInfo).port;
      resolve({
        agent,
        port: p,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
