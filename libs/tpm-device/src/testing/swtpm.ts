/**
 * @module testing/swtpm: starts a private swtpm for tests and benchmarks: fresh state with RSA and
 * ECC EKs and their certificates (swtpm_setup + swtpm_localca in a temp dir), free ports, and a
 * stop() that kills the process and removes the state.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SwtpmInstance {
  readonly host: string;
  readonly port: number;
  readonly ctrlPort: number;
  /** `swtpm:host=127.0.0.1,port=P`, for our Tpm and for tpm2-tools' `-T`. */
  readonly tcti: string;
  readonly dir: string;
  /** Kills swtpm and starts it again on the same state and ports (a TPM reset). */
  restart(): Promise<void>;
  /** Kills swtpm and removes its state; safe to call twice. */
  stop(): Promise<void>;
}

export interface StartSwtpmOptions {
  /** Create EKs and EK certificates (default true; about a second). */
  readonly ekCerts?: boolean;
  /** PCR banks to allocate (default `sha1,sha256`). */
  readonly pcrBanks?: string;
}

/** Starts swtpm on free loopback ports (P and P+1, never the default 2321/2322). */
export async function startSwtpm(options: StartSwtpmOptions = {}): Promise<SwtpmInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'kl-swtpm-'));
  let child: ChildProcess | undefined;
  try {
    const state = join(dir, 'state');
    await setupState(dir, state, options);
    const host = '127.0.0.1';
    const port = await freePortPair(host);
    let proc = await launch(host, port, state);
    child = proc;
    let stopped = false;
    return {
      host,
      port,
      ctrlPort: port + 1,
      tcti: `swtpm:host=${host},port=${port}`,
      dir,
      async restart() {
        await kill(proc);
        proc = await launch(host, port, state);
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await kill(proc);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child !== undefined) await kill(child);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function launch(host: string, port: number, state: string): Promise<ChildProcess> {
  const proc = spawn(
    'swtpm',
    [
      'socket',
      '--tpm2',
      '--server',
      `type=tcp,port=${port},bindaddr=${host}`,
      '--ctrl',
      `type=tcp,port=${port + 1},bindaddr=${host}`,
      '--tpmstate',
      `dir=${state}`,
      '--flags',
      'not-need-init,startup-clear',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(host, port, proc, () => stderr);
  } catch (e) {
    await kill(proc);
    throw e;
  }
  return proc;
}

async function setupState(dir: string, state: string, options: StartSwtpmOptions): Promise<void> {
  const ca = join(dir, 'ca');
  await run('mkdir', ['-p', state, ca]);
  // A private local CA: never the system swtpm-localca directory.
  await writeFile(
    join(dir, 'localca.conf'),
    `statedir = ${ca}\nsigningkey = ${ca}/signkey.pem\nissuercert = ${ca}/issuercert.pem\ncertserial = ${ca}/certserial\n`,
  );
  await writeFile(join(dir, 'localca.options'), '');
  const banks = options.pcrBanks ?? 'sha1,sha256';
  await writeFile(
    join(dir, 'setup.conf'),
    `create_certs_tool = swtpm_localca\ncreate_certs_tool_config = ${dir}/localca.conf\n` +
      `create_certs_tool_options = ${dir}/localca.options\nactive_pcr_banks = ${banks}\n`,
  );
  const args = [
    '--tpm2',
    '--tpmstate',
    state,
    '--config',
    join(dir, 'setup.conf'),
    '--pcr-banks',
    banks,
    '--overwrite',
  ];
  if (options.ekCerts ?? true) args.push('--create-ek-cert');
  await run('swtpm_setup', args, { timeout: 60_000 });
}

/** A port P from the OS such that P+1 is also free (swtpm wants two). */
async function freePortPair(host: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(host, 0);
    if (port === undefined || port >= 65535) continue;
    if ((await listenOnce(host, port + 1)) !== undefined) return port;
  }
  throw new Error('no free port pair found');
}

function listenOnce(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      const got = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(got));
    });
  });
}

async function waitForPort(
  host: string,
  port: number,
  proc: ChildProcess,
  stderr: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`swtpm exited with ${proc.exitCode}: ${stderr()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('error', () => resolve(false));
      s.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`swtpm did not listen on ${host}:${port}: ${stderr()}`);
}

function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

// Tools that never talk to a TPM and refuse a TCTI option.
const OFFLINE_TOOLS = new Set(['checkquote', 'print']);

/**
 * Runs a tpm2-tools command against `tpm` via `-T` (no environment needed); args that bring
 * their own `-T` (e.g. `-T none` for a software makecredential) keep it.
 */
export async function tpm2(
  tpm: SwtpmInstance,
  tool: string,
  args: readonly string[],
): Promise<string> {
  const tcti = OFFLINE_TOOLS.has(tool) || args.includes('-T') ? [] : ['-T', tpm.tcti];
  const { stdout } = await run(`tpm2_${tool}`, [...tcti, ...args], {
    cwd: tpm.dir,
    timeout: 30_000,
  });
  return stdout;
}
