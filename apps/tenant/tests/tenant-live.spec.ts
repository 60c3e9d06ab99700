/**
 * @module tenant-live.spec: keylime_tenant and keylime_ca as real processes against our registrar,
 * verifier and agent (real processes on free ports, swtpm with EK certificates from a private CA):
 * add with a payload and --verify, status, update, delete, policy commands and the bad-input cases.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
// Test helper of the TPM lib (free ports, EK certificates from a private CA); never shipped.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { startSwtpm } from '../../../libs/tpm-device/src/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries
import type { SwtpmInstance } from '../../../libs/tpm-device/src/testing';
import { freePort } from '@keylime/persistence/src/testing';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../../..');
const AGENT_ID = 'd432fbb3-d2f1-4a97-9ef7-75bd81c0a11e';

function ini(section: string, values: Readonly<Record<string, string | number>>): string {
  return `[${section}]\n${Object.entries(values)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

interface Proc {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Bundles an app entry point with esbuild, as `nx build` does (native modules stay external). */
function bundle(entry: string, out: string, tsconfig: string): Promise<unknown> {
  return build({
    entryPoints: [path.join(ROOT, entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['better-sqlite3', 'zeromq', 'pg-native', 'pg'],
    tsconfig: path.join(ROOT, tsconfig),
    logLevel: 'silent',
  });
}

function startRole(file: string, env: Record<string, string>): Proc {
  let out = '';
  const child = spawn(process.execPath, [file], {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      NODE_PATH: path.join(ROOT, 'node_modules'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

function get(url: string, tls?: https.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https') ? https : http;
    const req = mod.request(url, { ...tls, agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function waitFor(
  what: string,
  proc: Proc,
  probe: () => Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`${what} exited:\n${proc.output()}`);
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${what} not ready:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let dir = '';
let env: Record<string, string> = {};
let tenantJs = '';
let caJs = '';
let swtpm: SwtpmInstance | undefined;
const procs: Proc[] = [];
let ports = { verifier: 0, registrar: 0, registrarTls: 0, agent: 0 };

async function cli(
  file: string,
  args: readonly string[],
  extraEnv: Record<string, string> = {},
): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [file, ...args], {
      cwd: dir,
      env: { ...env, ...extraEnv },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

const tenant = (args: readonly string[], extraEnv?: Record<string, string>): Promise<Result> =>
  cli(tenantJs, args, extraEnv);

function unmountSecure(agentDir: string): void {
  const secure = path.join(agentDir, 'secure');
  try {
    const mounted = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === secure);
    if (mounted) execFileSync('umount', [secure], { stdio: 'ignore' });
  } catch {
    // best effort
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-tenant-live-'));
  ports = {
    verifier: await freePort(),
    registrar: await freePort(),
    registrarTls: await freePort(),
    agent: await freePort(),
  };
  // Every role as one bundle (what `nx build` makes), so processes start fast.
  const bin = (name: string): string => path.join(dir, 'bin', `${name}.js`);
  tenantJs = path.join(dir, 'bin', 'keylime_tenant.js');
  caJs = path.join(dir, 'bin', 'keylime_ca.js');
  const [tpm] = await Promise.all([
    startSwtpm({ pcrBanks: 'sha256' }),
    bundle('apps/tenant/src/main.ts', tenantJs, 'apps/tenant/tsconfig.app.json'),
    bundle('apps/tenant/src/ca.ts', caJs, 'apps/tenant/tsconfig.app.json'),
    ...['registrar', 'verifier', 'agent'].map((r) =>
      bundle(`apps/${r}/src/main.ts`, bin(r), `apps/${r}/tsconfig.app.json`),
    ),
  ]);
  swtpm = tpm;
  const certStore = path.join(dir, 'tpm_cert_store');
  fs.mkdirSync(certStore);
  for (const f of ['issuercert.pem', 'swtpm-localca-rootca-cert.pem']) {
    const from = path.join(tpm.dir, 'ca', f);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(certStore, f));
  }
  env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', KEYLIME_DIR: dir };
  const conf = (c: string, body: string): void => {
    const file = path.join(dir, `${c}.conf`);
    fs.writeFileSync(file, body);
    env[`KEYLIME_${c.toUpperCase()}_CONFIG`] = file;
  };
  conf(
    'verifier',
    ini('verifier', {
      ip: '127.0.0.1',
      port: ports.verifier,
      registrar_port: ports.registrarTls,
      quote_interval: 1,
      retry_interval: 1,
      exponential_backoff: 'False',
      max_retries: 3,
      request_timeout: 10,
    }) + ini('revocations', { enabled_revocation_notifications: "['agent']" }),
  );
  conf(
    'registrar',
    ini('registrar', {
      ip: '127.0.0.1',
      port: ports.registrar,
      tls_port: ports.registrarTls,
      tpm_cert_store: certStore,
    }),
  );
  conf(
    'tenant',
    ini('tenant', {
      verifier_ip: '127.0.0.1',
      verifier_port: ports.verifier,
      registrar_ip: '127.0.0.1',
      registrar_port: ports.registrarTls,
      tpm_cert_store: certStore,
      retry_interval: 1,
      exponential_backoff: 'False',
      max_retries: 10,
      request_timeout: 10,
    }),
  );
  conf('ca', ini('ca', { password: 'live-test-not-secret' }));
  conf('logging', '[logging]\n');

  const verifier = startRole(bin('verifier'), env);
  procs.push(verifier);
  const clientTls = (): https.RequestOptions => ({
    ca: fs.readFileSync(path.join(dir, 'cv_ca/cacert.crt')),
    cert: fs.readFileSync(path.join(dir, 'cv_ca/client-cert.crt')),
    key: fs.readFileSync(path.join(dir, 'cv_ca/client-private.pem')),
    checkServerIdentity: () => undefined,
  });
  await waitFor(
    'verifier',
    verifier,
    async () => (await get(`https://127.0.0.1:${ports.verifier}/version`, clientTls())) === 200,
  );
  const registrar = startRole(bin('registrar'), env);
  procs.push(registrar);
  await waitFor(
    'registrar',
    registrar,
    async () => (await get(`http://127.0.0.1:${ports.registrar}/version`)) === 200,
  );

  const agentDir = path.join(dir, 'agent');
  fs.mkdirSync(path.join(agentDir, 'cv_ca'), { recursive: true });
  fs.copyFileSync(path.join(dir, 'cv_ca/cacert.crt'), path.join(agentDir, 'cv_ca/cacert.crt'));
  const agentConf = path.join(dir, 'agent.conf');
  const toml: Record<string, string | number | boolean> = {
    uuid: AGENT_ID,
    ip: '127.0.0.1',
    port: ports.agent,
    contact_ip: '127.0.0.1',
    contact_port: ports.agent,
    registrar_ip: '127.0.0.1',
    registrar_port: ports.registrar,
    keylime_dir: agentDir,
    run_as: '',
    ima_ml_path: path.join(dir, 'no-ima'),
    measuredboot_ml_path: path.join(dir, 'no-eventlog'),
    tpm_hash_alg: 'sha256',
  };
  fs.writeFileSync(
    agentConf,
    `[agent]\n${Object.entries(toml)
      .map(([k, v]) => `${k} = ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
      .join('\n')}\n`,
  );
  const agent = startRole(bin('agent'), {
    ...env,
    KEYLIME_DIR: agentDir,
    KEYLIME_AGENT_CONFIG: agentConf,
    TCTI: tpm.tcti,
  });
  procs.push(agent);
  try {
    await waitFor(
      'agent registration',
      agent,
      async () =>
        (await get(
          `https://127.0.0.1:${ports.registrarTls}/v2.6/agents/${AGENT_ID}`,
          clientTls(),
        )) === 200,
    );
    agentProblem = undefined;
  } catch (e) {
    // Recorded here so the checks that need the agent fail with the reason; the rest still run.
    agentProblem = e instanceof Error ? e.message : String(e);
  }
}, 120_000);

/** Why the agent could not be started, or undefined when it runs and is registered. */
let agentProblem: string | undefined = 'not started';

/** The agent must be up: the agent-dependent checks fail loudly rather than skip. */
function agentReady(what: string): boolean {
  if (agentProblem === undefined) return true;
  throw new Error(
    `${what}: the agent did not start: ${agentProblem.split('\n').slice(-3).join(' | ')}`,
  );
}

afterAll(async () => {
  for (const p of procs.reverse()) await p.stop();
  unmountSecure(path.join(dir, 'agent'));
  await swtpm?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

function oneLine(r: Result): string {
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0] ?? '';
}

describe('keylime_tenant against our services', () => {
  it('refuses bad input with one line and a non-zero exit', async () => {
    const unknown = await tenant(['-c', 'add', '-u', 'no-such-agent']);
    expect(unknown.code).toBe(1);
    expect(oneLine(unknown)).toBe(
      'keylime_tenant: Agent no-such-agent data not found in the Registrar.',
    );

    const closed = await freePort();
    const unreachable = await tenant(['-c', 'cvstatus', '-u', AGENT_ID, '-vp', String(closed)]);
    expect(unreachable.code).toBe(1);
    expect(oneLine(unreachable)).toBe(
      `keylime_tenant: Cannot connect to Verifier (127.0.0.1:${closed}): connection refused`,
    );

    const missing = await tenant([
      '-c',
      'addruntimepolicy',
      '--runtime-policy-name',
      'x',
      '--runtime-policy',
      path.join(dir, 'nope.json'),
    ]);
    expect(missing.code).toBe(1);
    expect(oneLine(missing)).toMatch(/Cannot read runtime policy .*nope\.json: no such file/);

    const badPolicy = path.join(dir, 'bad-policy.json');
    fs.writeFileSync(badPolicy, '{"meta": {"version": 1}, "digests": "x"}');
    const invalid = await tenant([
      '-c',
      'addruntimepolicy',
      '--runtime-policy-name',
      'x',
      '--runtime-policy',
      badPolicy,
    ]);
    expect(invalid.code).toBe(1);
    expect(oneLine(invalid)).toMatch(/Validation for runtime policy .* failed!/);

    const notOnVerifier = await tenant(['-c', 'cvstatus', '-u', AGENT_ID]);
    expect(notOnVerifier.code).toBe(1);
    expect(oneLine(notOnVerifier)).toContain('does not exist on Verifier');

    const usage = await tenant(['-c', 'add', '--no-such-option']);
    expect(usage.code).toBe(2);
    oneLine(usage);

    const badConf = await tenant(['-c', 'reglist'], { KEYLIME_TENANT_MAX_RETRIES: 'many' });
    expect(badConf.code).toBe(2);
    expect(oneLine(badConf)).toMatch(/configuration error: .*max_retries/);

    if (!agentReady('EK certificate and tpm_policy checks')) return;
    const emptyStore = path.join(dir, 'empty-store');
    fs.mkdirSync(emptyStore, { recursive: true });
    const wrongCert = await tenant(['-c', 'add', '-u', AGENT_ID], {
      KEYLIME_TENANT_TPM_CERT_STORE: emptyStore,
    });
    expect(wrongCert.code).toBe(1);
    expect(oneLine(wrongCert)).toMatch(
      /EK certificate of Agent .* is not signed by a CA in tpm_cert_store/,
    );
    expect(wrongCert.stdout).toContain(`WARNING - Invalid EK certificate for Agent ${AGENT_ID}`);

    const badTpmPolicy = await tenant([
      '-c',
      'add',
      '-u',
      AGENT_ID,
      '--tpm_policy',
      '{"16": "00"}',
    ]);
    expect(badTpmPolicy.code).toBe(1);
    expect(oneLine(badTpmPolicy)).toContain('Invalid allowlist PCR number 16');
  }, 120_000);

  it('adds the agent with a payload and --verify, shows status, updates and deletes it', async () => {
    if (!agentReady('add/status/update/delete')) return;
    const incl = path.join(dir, 'include');
    fs.mkdirSync(incl, { recursive: true });
    fs.writeFileSync(path.join(incl, 'note.txt'), 'hello from the tenant\n');
    const add = await tenant([
      '-c',
      'add',
      '-u',
      AGENT_ID,
      '--cert',
      'default',
      '--include',
      incl,
      '--verify',
    ]);
    expect({ code: add.code, stderr: add.stderr }).toEqual({ code: 0, stderr: '' });
    const validated = `INFO - Quote from Agent ${AGENT_ID} (127.0.0.1:${ports.agent}) validated`;
    expect(
      add.stdout
        .split('\n')
        .some(
          (l) =>
            /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} - keylime\.tenant - /.test(l) &&
            l.endsWith(validated),
        ),
    ).toBe(true);
    expect(add.stdout).toContain(
      `INFO - Agent ${AGENT_ID} (127.0.0.1:${ports.agent}) added to Verifier (127.0.0.1:${ports.verifier}) after`,
    );
    expect(add.stdout).toContain(`INFO - Successful key derivation for Agent ${AGENT_ID}`);
    // The agent unpacks the certificate package once it has K = U xor V (asynchronously).
    const unzipped = path.join(dir, 'agent/secure/unzipped');
    const note = path.join(unzipped, 'note.txt');
    for (let i = 0; i < 40 && !fs.existsSync(note); i++)
      await new Promise((r) => setTimeout(r, 250));
    expect(fs.readFileSync(note, 'utf8')).toBe('hello from the tenant\n');
    expect(fs.existsSync(path.join(unzipped, `${AGENT_ID}-cert.crt`))).toBe(true);
    expect(fs.existsSync(path.join(unzipped, 'RevocationNotifier-cert.crt'))).toBe(true);

    const again = await tenant(['-c', 'add', '-u', AGENT_ID]);
    expect(again.code).toBe(1);
    expect(oneLine(again)).toContain('responded indicating a conflict');

    const status = await tenant(['-c', 'status', '-u', AGENT_ID]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(
      `INFO - Agent Info from Registrar (127.0.0.1:${ports.registrarTls}):`,
    );
    const cvLine = status.stdout
      .split('\n')
      .findIndex((l) => l.includes('INFO - Agent Info from Verifier'));
    const info = JSON.parse(status.stdout.split('\n')[cvLine + 1] ?? '') as Record<
      string,
      Record<string, unknown>
    >;
    expect(typeof info[AGENT_ID]?.['operational_state']).toBe('string');

    const json = await tenant(['-c', 'cvstatus', '-u', AGENT_ID, '--json']);
    expect(json.code).toBe(0);
    expect(Object.keys(JSON.parse(json.stdout) as object)).toEqual([AGENT_ID]);

    for (const cmd of ['reglist', 'cvlist', 'bulkinfo']) {
      const r = await tenant(['-c', cmd, '--json']);
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 0 });
      expect(JSON.stringify(JSON.parse(r.stdout))).toContain(AGENT_ID);
    }

    const secret = path.join(dir, 'secret.txt');
    fs.writeFileSync(secret, 'a file payload\n');
    const update = await tenant([
      '-c',
      'update',
      '-f',
      secret,
      '--verify',
      '-u',
      AGENT_ID,
      '--tpm_policy',
      '{"23": "0000000000000000000000000000000000000000000000000000000000000000"}',
    ]);
    expect({ code: update.code, stderr: update.stderr }).toEqual({ code: 0, stderr: '' });
    expect(update.stdout).toContain('TPM PCR Mask from policy is 0x800000');
    expect(update.stdout).toContain(`INFO - Successful key derivation for Agent ${AGENT_ID}`);

    const del = await tenant(['-c', 'delete', '-u', AGENT_ID]);
    expect({ code: del.code, stderr: del.stderr }).toEqual({ code: 0, stderr: '' });
    expect(del.stdout).toMatch(
      new RegExp(`INFO - Agent ${AGENT_ID} (deleted from the CV|is already absent from the CV)`),
    );
    const gone = await tenant(['-c', 'cvstatus', '-u', AGENT_ID]);
    expect(gone.code).toBe(1);
  }, 180_000);

  it('manages runtime and measured-boot policies', async () => {
    const policy = path.join(dir, 'policy.json');
    fs.writeFileSync(
      policy,
      JSON.stringify({
        meta: { version: 1, generator: 0 },
        release: 0,
        digests: { '/usr/bin/true': ['0'.repeat(64)] },
        excludes: [],
        keyrings: {},
        ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null },
        'ima-buf': {},
        'verification-keys': '',
      }),
    );
    const add = await tenant([
      '-c',
      'addruntimepolicy',
      '--runtime-policy',
      policy,
      '--runtime-policy-name',
      'live-rp',
    ]);
    expect({ code: add.code, stderr: add.stderr }).toEqual({ code: 0, stderr: '' });
    const show = await tenant([
      '-c',
      'showruntimepolicy',
      '--runtime-policy-name',
      'live-rp',
      '--json',
    ]);
    expect(show.code).toBe(0);
    expect(JSON.stringify(JSON.parse(show.stdout))).toContain('/usr/bin/true');
    const list = await tenant(['-c', 'listruntimepolicy']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('list command response: 200.');
    expect(list.stdout).toContain("'live-rp'");
    const upd = await tenant([
      '-c',
      'updateruntimepolicy',
      '--runtime-policy',
      policy,
      '--runtime-policy-name',
      'live-rp',
    ]);
    expect(upd.code).toBe(0);
    const dup = await tenant([
      '-c',
      'addruntimepolicy',
      '--runtime-policy',
      policy,
      '--runtime-policy-name',
      'live-rp',
    ]);
    expect(dup.code).toBe(1);
    oneLine(dup);
    const del = await tenant(['-c', 'deleteruntimepolicy', '--runtime-policy-name', 'live-rp']);
    expect(del.code).toBe(0);
    const delAgain = await tenant([
      '-c',
      'deleteruntimepolicy',
      '--runtime-policy-name',
      'live-rp',
    ]);
    expect(delAgain.code).toBe(1);

    const mb = path.join(dir, 'mb.json');
    fs.writeFileSync(mb, '{}');
    const addMb = await tenant([
      '-c',
      'addmbpolicy',
      '--mb-policy',
      mb,
      '--mb-policy-name',
      'live-mb',
    ]);
    expect({ code: addMb.code, stderr: addMb.stderr }).toEqual({ code: 0, stderr: '' });
    const showMb = await tenant(['-c', 'showmbpolicy', '--mb-policy-name', 'live-mb']);
    expect(showMb.code).toBe(0);
    expect(showMb.stdout).toContain('showmbpolicy command response: 200.');
    const listMb = await tenant(['-c', 'listmbpolicy', '--json']);
    expect(JSON.stringify(JSON.parse(listMb.stdout))).toContain('live-mb');
    const delMb = await tenant(['-c', 'deletembpolicy', '--mb-policy-name', 'live-mb']);
    expect(delMb.code).toBe(0);
    const noName = await tenant(['-c', 'showmbpolicy']);
    expect(noName.code).toBe(1);
    expect(oneLine(noName)).toContain('--mb_policy_name is required');
  }, 120_000);
});

describe('list commands without an agent', () => {
  it('reglist, cvlist and bulkinfo answer (upstream lines and --json)', async () => {
    const reg = await tenant(['-c', 'reglist']);
    expect({ code: reg.code, stderr: reg.stderr }).toEqual({ code: 0, stderr: '' });
    expect(reg.stdout).toMatch(
      /INFO - Agent list from Registrar \(127\.0\.0\.1:\d+\) retrieved: \n\{"uuids": \[/,
    );
    const cv = await tenant(['-c', 'cvlist', '--json']);
    expect(cv.code).toBe(0);
    expect(JSON.parse(cv.stdout)).toHaveProperty('uuids');
    const bulk = await tenant(['-c', 'bulkinfo']);
    expect(bulk.code).toBe(0);
    expect(bulk.stdout).toContain('INFO - Bulk Agent Info:');
  }, 60_000);
});

describe('keylime_ca as a process', () => {
  it('init, create, revoke and a clear error for a wrong password', async () => {
    const caDir = path.join(dir, 'ca-cli');
    expect((await cli(caJs, ['-c', 'init', '-d', caDir])).code).toBe(0);
    const created = await cli(caJs, ['-c', 'create', '-n', 'node1', '-d', caDir]);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(
      `INFO - Created certificate for name node1 successfully in ${caDir}`,
    );
    expect((await cli(caJs, ['-c', 'revoke', '-n', 'node1', '-d', caDir])).code).toBe(0);
    const wrong = await cli(caJs, ['-c', 'create', '-n', 'x', '-d', caDir, '--password', 'wrong']);
    expect(wrong.code).toBe(1);
    expect(oneLine(wrong)).toBe('keylime_ca: Invalid password for keystore');
    const usage = await cli(caJs, ['-c', 'create', '-d', caDir]);
    expect(usage.code).toBe(2);
  }, 60_000);
});
