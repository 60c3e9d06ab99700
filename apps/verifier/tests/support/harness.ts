/**
 * @module harness: starts a real verifier (HTTPS with the generated cv_ca, real database) in a
 * temporary KEYLIME_DIR and talks to it like the tenant does, with the generated client cert.
 */
import fs from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { startVerifier } from '../../src/verifier';
import type { RunningVerifier, StartVerifierOptions } from '../../src/verifier';
import type { AttestationEngine } from '../../src/attestation/engine';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { SimulatedAgent } from '../../../../tools/fleet/simulated-agent';

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  json(): { code: number; status: string; results: Record<string, unknown> };
}

export interface TestVerifier {
  readonly verifier: RunningVerifier;
  readonly dir: string;
  readonly port: number;
  /** The generated cv_ca/cacert.crt (what agents trust for client certificates). */
  readonly caCert: string;
  request(method: string, urlPath: string, body?: unknown): Promise<HttpResult>;
  stop(): Promise<void>;
}

export interface TestVerifierOptions {
  /** Reuse a KEYLIME_DIR (restart tests). */
  readonly dir?: string;
  /** Extra KEYLIME_VERIFIER_* variables. */
  readonly env?: Record<string, string>;
  readonly logger?: Logger;
  readonly extra?: Partial<Omit<StartVerifierOptions, 'configOptions' | 'logger'>>;
}

export async function startTestVerifier(options: TestVerifierOptions = {}): Promise<TestVerifier> {
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kl-verifier-'));
  const verifier = await startVerifier({
    logger: options.logger ?? silentLogger,
    ...options.extra,
    configOptions: {
      env: { KEYLIME_DIR: dir, KEYLIME_VERIFIER_PORT: '0', ...options.env },
      etcDirs: [path.join(dir, 'etc')],
    },
  });
  const ca = path.join(dir, 'cv_ca');
  const caCert = fs.readFileSync(path.join(ca, 'cacert.crt'), 'utf8');
  const agent = new https.Agent({
    ca: caCert,
    cert: fs.readFileSync(path.join(ca, 'client-cert.crt')),
    key: fs.readFileSync(path.join(ca, 'client-private.pem')),
    servername: 'localhost',
    keepAlive: true,
  });
  const port = verifier.server.port;
  const request = (method: string, urlPath: string, body?: unknown): Promise<HttpResult> =>
    new Promise((resolve, reject) => {
      const data =
        body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: urlPath,
          method,
          agent,
          // Upstream's tenant sends its JSON without a Content-Type header.
          headers: data === undefined ? {} : { 'Content-Length': Buffer.byteLength(data) },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: text,
              json: () => JSON.parse(text) as ReturnType<HttpResult['json']>,
            }),
          );
        },
      );
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  return {
    verifier,
    dir,
    port,
    caCert,
    request,
    stop: async () => {
      agent.destroy();
      await verifier.stop();
    },
  };
}

/** The body upstream's tenant POSTs for a simulated agent (agent-registrar-tenant §7.4). */
export function enrolmentBody(
  agent: SimulatedAgent,
  port: number,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    v: Buffer.alloc(32, 7).toString('base64'),
    cloudagent_ip: '127.0.0.1',
    cloudagent_port: port,
    verifier_ip: '127.0.0.1',
    verifier_port: '8881',
    tpm_policy: JSON.stringify({ mask: '0x400' }),
    runtime_policy: Buffer.from(JSON.stringify(agent.runtimePolicy())).toString('base64'),
    runtime_policy_name: '',
    runtime_policy_key: '',
    mb_policy: null,
    mb_policy_name: '',
    ima_sign_verification_keys: '',
    metadata: '{}',
    revocation_key: '',
    accept_tpm_hash_algs: ['sha512', 'sha384', 'sha256'],
    accept_tpm_encryption_algs: ['ecc', 'rsa'],
    accept_tpm_signing_algs: ['ecschnorr', 'rsassa', 'ecdsa'],
    ak_tpm: agent.akTpm,
    mtls_cert: agent.identity.tlsCertPem,
    supported_version: '2.6',
    ...overrides,
  };
}

/** The `results` of GET /v2.6/agents/{id}. */
export async function agentStatus(v: TestVerifier, id: string): Promise<Record<string, unknown>> {
  return (await v.request('GET', `/v2.6/agents/${id}`)).json().results;
}

/** Waits until the agent's `attestation_count` reaches `count`; returns its status then. */
export function attestedAtLeast(
  v: TestVerifier,
  id: string,
  count: number,
): Promise<Record<string, unknown>> {
  return waitFor(async () => {
    const s = await agentStatus(v, id);
    return (s['attestation_count'] as number) >= count ? s : undefined;
  });
}

/** GET /metrics of a test verifier, and a reader of one sample's value (throws if absent). */
export async function readMetrics(
  v: TestVerifier,
): Promise<{ readonly response: HttpResult; value(series: string): number }> {
  const response = await v.request('GET', '/metrics');
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  const lines = response.body.split('\n');
  return {
    response,
    value: (series) => {
      const line = lines.find((l) => l.startsWith(`${series} `));
      if (line === undefined) throw new Error(`no ${series} in /metrics`);
      return Number(line.slice(series.length + 1));
    },
  };
}

/** The in-process attestation loop of a test verifier (started without worker threads). */
export function engineOf(v: TestVerifier): AttestationEngine {
  const engine = v.verifier.engine;
  if (!engine) throw new Error('this test verifier attests in worker threads');
  return engine;
}

/** Polls `fn` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  stepMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
