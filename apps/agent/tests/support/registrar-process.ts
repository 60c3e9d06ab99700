/**
 * @module support/registrar-process: our registrar as a real child process (bundled from its
 * sources with esbuild, as `nx build registrar` does) on free ports, with a temporary KEYLIME_DIR.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import type { TestPki } from './pki';
import { freePort } from '@keylime/persistence/src/testing';

export { freePort };

const ROOT = path.resolve(__dirname, '../../../..');

export interface RegistrarProcess {
  readonly httpPort: number;
  readonly tlsPort: number;
  readonly workDir: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** Bundles apps/registrar once per test run into the workspace tmp dir (node_modules resolve from there). */
function registrarBundle(): string {
  const out = path.join(ROOT, 'tmp', 'agent-tests', `registrar-${process.pid}.js`);
  if (!fs.existsSync(out)) {
    buildSync({
      entryPoints: [path.join(ROOT, 'apps/registrar/src/main.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['better-sqlite3', 'pg-native', 'zeromq'],
      tsconfig: path.join(ROOT, 'apps/registrar/tsconfig.app.json'),
      outfile: out,
      logLevel: 'error',
    });
  }
  return out;
}

async function waitForHttp(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`registrar exited (${child.exitCode}): ${log()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/version`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`registrar did not start: ${log()}`);
}

export async function startRegistrar(options: {
  readonly pki: TestPki;
  /** Directory of EK CA certificates (the swtpm local CA). */
  readonly tpmCertStore: string;
}): Promise<RegistrarProcess> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-agent-reg-'));
  const cvCa = path.join(workDir, 'cv_ca');
  fs.mkdirSync(cvCa);
  fs.writeFileSync(path.join(cvCa, 'cacert.crt'), options.pki.caCert);
  fs.writeFileSync(path.join(cvCa, 'server-cert.crt'), options.pki.server.certificatePem);
  fs.writeFileSync(path.join(cvCa, 'server-private.pem'), options.pki.server.privateKeyPem, {
    mode: 0o600,
  });
  const httpPort = await freePort();
  const tlsPort = await freePort();
  const conf = path.join(workDir, 'registrar.conf');
  fs.writeFileSync(
    conf,
    `[registrar]\nip = 127.0.0.1\nport = ${httpPort}\ntls_port = ${tlsPort}\ndatabase_url = sqlite\n` +
      `tpm_cert_store = ${options.tpmCertStore}\nrequire_ek_cert = True\n`,
  );
  let output = '';
  const bundle = registrarBundle();
  const child = spawn(process.execPath, [bundle], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', KEYLIME_DIR: workDir, KEYLIME_REGISTRAR_CONFIG: conf },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const log = (): string => output;
  await waitForHttp(httpPort, child, log);
  return {
    httpPort,
    tlsPort,
    workDir,
    log,
    stop: async () => {
      if (child.exitCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 3000).unref();
        });
      }
      fs.rmSync(workDir, { recursive: true, force: true });
      fs.rmSync(bundle, { force: true });
    },
  };
}
