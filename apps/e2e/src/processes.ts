/**
 * @module processes: starts the built role files as real processes on free ports with a
 * throw-away KEYLIME_DIR, and talks to them over HTTP(S) only — e2e never imports app code.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { freePort } from '@keylime/persistence/src/testing';

export { freePort };

export const REPO_ROOT = path.resolve(__dirname, '../../..');

const ENTRY_FILES = [
  'registrar/main.js',
  'verifier/main.js',
  'agent/main.js',
  'tenant/main.js',
  'tenant/policy.js',
  'tenant/ca.js',
] as const;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Entry files' sizes, or undefined while one is missing (a build is under way). */
function entrySizes(apps: string): string | undefined {
  try {
    return ENTRY_FILES.map((f) => fs.statSync(path.join(apps, f)).size).join(',');
  } catch {
    return undefined;
  }
}

let snapshot: string | undefined;

/**
 * The `apps/` directory the tests run from: KEYLIME_E2E_DIST's when set, else a private copy of
 * this checkout's dist/apps taken once per process — in a shared checkout another build may
 * delete and rewrite dist/ while the suite runs, and a running test must not lose its files.
 */
function builtApps(): string {
  const given = process.env['KEYLIME_E2E_DIST'];
  if (given !== undefined) return path.join(given, 'apps');
  if (snapshot !== undefined) return snapshot;
  const source = path.join(REPO_ROOT, 'dist', 'apps');
  // Wait (bounded) until every entry file exists and stops changing.
  const deadline = Date.now() + 180_000;
  let previous = entrySizes(source);
  for (;;) {
    sleepSync(500);
    const now = entrySizes(source);
    if (now !== undefined && now === previous) break;
    if (Date.now() > deadline) throw new Error(`no complete build in ${source}; run nx build`);
    previous = now;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-e2e-dist-'));
  // Jest workers may end without 'exit' handlers: suites also call removeBuiltSnapshot().
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(source, dir, { recursive: true, filter: (f) => !f.endsWith('.map') });
  snapshot = dir;
  return dir;
}

/** Removes this process's copy of the build (call in afterAll; also attempted at exit). */
export function removeBuiltSnapshot(): void {
  if (snapshot !== undefined) fs.rmSync(snapshot, { recursive: true, force: true });
  snapshot = undefined;
}

/** Built entry points (design.md, "Entry points"), resolved when first used. */
export const BUILT = {
  get registrar(): string {
    return path.join(builtApps(), 'registrar/main.js');
  },
  get verifier(): string {
    return path.join(builtApps(), 'verifier/main.js');
  },
  get agent(): string {
    return path.join(builtApps(), 'agent/main.js');
  },
  get tenant(): string {
    return path.join(builtApps(), 'tenant/main.js');
  },
  get policy(): string {
    return path.join(builtApps(), 'tenant/policy.js');
  },
  get ca(): string {
    return path.join(builtApps(), 'tenant/ca.js');
  },
};

/** Lets the copied bundles find their external native modules (better-sqlite3, zeromq). */
export const NODE_PATH = path.join(REPO_ROOT, 'node_modules');

/** A temporary KEYLIME_DIR with empty config files, so the host's /etc/keylime never leaks in. */
export interface Workspace {
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  remove(): void;
}

export function createWorkspace(): Workspace {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-e2e-'));
  const env: Record<string, string> = { KEYLIME_DIR: dir };
  for (const c of ['verifier', 'registrar', 'tenant', 'ca', 'logging']) {
    const file = path.join(dir, `${c}.conf`);
    fs.writeFileSync(file, `[${c}]\n`);
    env[`KEYLIME_${c.toUpperCase()}_CONFIG`] = file;
  }
  return { dir, env, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export function startBuilt(
  name: string,
  file: string,
  ws: Workspace,
  env: Record<string, string>,
): Service {
  let out = '';
  const child = spawn(process.execPath, [file], {
    cwd: ws.dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NODE_PATH, ...ws.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return {
    name,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface Reply {
  readonly status: number;
  readonly body: string;
}

export function request(
  url: string,
  options: https.RequestOptions & { body?: string } = {},
): Promise<Reply> {
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, { agent: false, timeout: 5000, ...rest }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** TLS options of the tenant's client identity from the verifier-generated cv_ca. */
export function clientTls(ws: Workspace): https.RequestOptions {
  const ca = path.join(ws.dir, 'cv_ca');
  return {
    ca: fs.readFileSync(path.join(ca, 'cacert.crt')),
    cert: fs.readFileSync(path.join(ca, 'client-cert.crt')),
    key: fs.readFileSync(path.join(ca, 'client-private.pem')),
    servername: 'localhost',
  };
}

/** Polls until `probe` answers 200 or the service exits or time runs out. */
export async function waitUntilAnswering(
  service: Service,
  probe: () => Promise<Reply>,
  timeoutMs = 30_000,
): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null) {
      throw new Error(
        `${service.name} exited with ${service.child.exitCode}:\n${service.output()}`,
      );
    }
    try {
      const r = await probe();
      if (r.status === 200) return r;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${service.name} did not answer in time:\n${service.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
