/**
 * @module registrar: starts the real registrar in-process for a test — a temporary KEYLIME_DIR with
 * an openssl-made cv_ca, a registrar.conf, free ports — and collects its log lines.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLineLogger } from '@keylime/core';
import { createTestPki } from '@keylime/server/src/testing/openssl-pki';
import type { TestPki } from '@keylime/server/src/testing/openssl-pki';
import { loadRegistrarSettings } from '../../src/config';
import { startRegistrar } from '../../src/server';
import type { RunningRegistrar } from '../../src/server';
import type { TlsClient } from './http';

export interface TestRegistrarOptions {
  /** database_url; default `sqlite` (KEYLIME_DIR/reg_data.sqlite). */
  readonly databaseUrl?: string;
  /** Reuse a KEYLIME_DIR (restart tests). */
  readonly workDir?: string;
  readonly pki?: TestPki;
  /** Extra `[registrar]` lines. */
  readonly extraConfig?: Record<string, string>;
}

export interface TestRegistrar {
  readonly workDir: string;
  readonly pki: TestPki;
  readonly http: number;
  readonly https: number;
  readonly logs: string[];
  /** TLS options of an admin client, of a client without a certificate, of a foreign client. */
  readonly admin: TlsClient;
  readonly anonymous: TlsClient;
  readonly stranger: TlsClient;
  readonly running: RunningRegistrar;
  stop(): Promise<void>;
}

let sharedPki: TestPki | undefined;
const createdDirs = new Set<string>();
// Temporary directories of the importing test file go after its last test.
afterAll(() => {
  for (const d of createdDirs) fs.rmSync(d, { recursive: true, force: true });
  createdDirs.clear();
  sharedPki = undefined;
});

/** One openssl PKI per test file is enough (it takes ~100 ms to make). */
export function testPki(): TestPki {
  if (!sharedPki) {
    sharedPki = createTestPki();
    createdDirs.add(sharedPki.dir);
  }
  return sharedPki;
}

export async function startTestRegistrar(
  options: TestRegistrarOptions = {},
): Promise<TestRegistrar> {
  const pki = options.pki ?? testPki();
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-reg-'));
  createdDirs.add(workDir);
  const cvCa = path.join(workDir, 'cv_ca');
  fs.mkdirSync(cvCa, { recursive: true });
  fs.writeFileSync(path.join(cvCa, 'cacert.crt'), pki.caCert);
  fs.writeFileSync(path.join(cvCa, 'server-cert.crt'), pki.serverCert);
  fs.writeFileSync(path.join(cvCa, 'server-private.pem'), pki.serverKey, { mode: 0o600 });

  const lines = {
    ip: '127.0.0.1',
    database_url: options.databaseUrl ?? 'sqlite',
    ...options.extraConfig,
  };
  const confFile = path.join(workDir, 'registrar.conf');
  fs.writeFileSync(
    confFile,
    `[registrar]\n${Object.entries(lines)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n')}\n`,
  );
  const settings = loadRegistrarSettings({
    env: { KEYLIME_DIR: workDir, KEYLIME_REGISTRAR_CONFIG: confFile },
    etcDirs: [path.join(workDir, 'etc-none')],
  });
  const logs: string[] = [];
  const logger = createLineLogger({ name: 'keylime.registrar', write: (l) => logs.push(l) });
  const running = await startRegistrar(settings, { logger, httpPort: 0, httpsPort: 0 });
  return {
    workDir,
    pki,
    http: running.httpPort,
    https: running.httpsPort,
    logs,
    admin: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey },
    anonymous: { ca: pki.caCert },
    stranger: { ca: pki.caCert, cert: pki.strangerCert, key: pki.strangerKey },
    running,
    stop: () => running.close(),
  };
}
