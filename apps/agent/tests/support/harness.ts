/**
 * @module support/harness: one agent under test — a private swtpm with EK certificates, our
 * registrar as a child process, the agent started in-process from an agent.conf in a temp
 * KEYLIME_DIR, and mTLS clients for the tenant/verifier side.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLineLogger } from '@keylime/core';
import { Tpm } from '@keylime/tpm-device';
import { startSwtpm } from '@keylime/tpm-device/src/testing';
import type { SwtpmInstance } from '@keylime/tpm-device/src/testing';
import { startAgent } from '../../src/agent';
import type { RunningAgent } from '../../src/agent';
import { request } from './https';
import type { HttpResult, TlsClient } from './https';
import { createTestPki } from './pki';
import type { TestPki } from './pki';
import { startRegistrar } from './registrar-process';
import type { RegistrarProcess } from './registrar-process';

export const UEFI_LOG =
  '/work/shared/testdata/upstream/rust-keylime/keylime-test-data/uefi_log.bin';

export interface Harness {
  readonly swtpm: SwtpmInstance;
  readonly tpm: Tpm;
  readonly pki: TestPki;
  readonly registrar: RegistrarProcess;
  /** The agent's KEYLIME_DIR. */
  readonly dir: string;
  readonly imaLog: string;
  readonly actionsDir: string;
  readonly logs: string[];
  agent: RunningAgent;
  /** mTLS client with the tenant/verifier certificate. */
  client(): TlsClient;
  get(p: string, tls?: TlsClient): Promise<HttpResult>;
  post(p: string, body: unknown, tls?: TlsClient, contentType?: string): Promise<HttpResult>;
  call(method: string, p: string, body?: unknown): Promise<HttpResult>;
  /** Admin GET on the registrar's TLS port. */
  registrarGet(p: string): Promise<HttpResult>;
  restartAgent(): Promise<void>;
  stop(): Promise<void>;
}

async function launchAgent(h: {
  dir: string;
  conf: string;
  tcti: string;
  logs: string[];
}): Promise<RunningAgent> {
  const logger = createLineLogger({
    name: 'keylime.agent',
    level: 'debug',
    write: (l) => h.logs.push(l),
  });
  return startAgent({
    logger,
    mountSecureTmpfs: false,
    scriptTimeoutMs: 10_000,
    configOptions: {
      env: { KEYLIME_AGENT_CONFIG: h.conf, KEYLIME_DIR: h.dir, TCTI: h.tcti },
      etcDirs: [path.join(h.dir, 'no-etc')],
    },
  });
}

export async function startHarness(): Promise<Harness> {
  const [swtpm, pki] = await Promise.all([startSwtpm(), createTestPki()]);
  const certStore = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-agent-ekca-'));
  fs.copyFileSync(
    path.join(swtpm.dir, 'ca', 'issuercert.pem'),
    path.join(certStore, 'swtpm-localca.pem'),
  );
  const cleanup: (() => Promise<void>)[] = [
    () => swtpm.stop(),
    () => Promise.resolve(fs.rmSync(certStore, { recursive: true, force: true })),
  ];
  try {
    return await startParts(swtpm, pki, certStore, cleanup);
  } catch (e) {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    throw e;
  }
}

async function startParts(
  swtpm: SwtpmInstance,
  pki: TestPki,
  certStore: string,
  cleanup: (() => Promise<void>)[],
): Promise<Harness> {
  const registrar = await startRegistrar({ pki, tpmCertStore: certStore });
  cleanup.push(() => registrar.stop());

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-agent-'));
  cleanup.push(() => Promise.resolve(fs.rmSync(dir, { recursive: true, force: true })));
  fs.mkdirSync(path.join(dir, 'cv_ca'));
  fs.writeFileSync(path.join(dir, 'cv_ca', 'cacert.crt'), pki.caCert);
  const imaLog = path.join(dir, 'ascii_runtime_measurements');
  fs.writeFileSync(imaLog, '');
  const actionsDir = path.join(dir, 'actions');
  fs.mkdirSync(actionsDir);
  const conf = path.join(dir, 'agent.conf');
  fs.writeFileSync(
    conf,
    [
      '[agent]',
      'uuid = "generate"',
      'ip = "127.0.0.1"',
      'port = 0',
      'contact_ip = "127.0.0.1"',
      'contact_port = 9002',
      'registrar_ip = "127.0.0.1"',
      `registrar_port = ${registrar.httpPort}`,
      'run_as = ""',
      `ima_ml_path = "${imaLog}"`,
      `measuredboot_ml_path = "${UEFI_LOG}"`,
      `revocation_actions_dir = "${actionsDir}"`,
      'exponential_backoff_initial_delay = 100',
      'exponential_backoff_max_retries = 2',
      '',
    ].join('\n'),
  );
  const logs: string[] = [];
  const tpm = Tpm.open(swtpm.tcti);
  const agentOptions = { dir, conf, tcti: swtpm.tcti, logs };
  const agent = await launchAgent(agentOptions);

  const h: Harness = {
    swtpm,
    tpm,
    pki,
    registrar,
    dir,
    imaLog,
    actionsDir,
    logs,
    agent,
    client: () => ({
      ca: fs.readFileSync(path.join(dir, 'server-cert.crt'), 'utf8'),
      cert: pki.client.certificatePem,
      key: pki.client.privateKeyPem,
    }),
    get: (p, tls) => request(tls ?? h.client(), h.agent.port, 'GET', p),
    post: (p, body, tls, contentType) =>
      request(tls ?? h.client(), h.agent.port, 'POST', p, body, contentType),
    call: (method, p, body) => request(h.client(), h.agent.port, method, p, body),
    registrarGet: (p) =>
      request(
        { ca: pki.caCert, cert: pki.client.certificatePem, key: pki.client.privateKeyPem },
        registrar.tlsPort,
        'GET',
        p,
      ),
    restartAgent: async () => {
      await h.agent.stop();
      h.agent = await launchAgent(agentOptions);
    },
    stop: async () => {
      await h.agent.stop().catch(() => undefined);
      await registrar.stop();
      await swtpm.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(certStore, { recursive: true, force: true });
    },
  };
  return h;
}
