/**
 * Runs tools/swtpm/boot-from-eventlog.ts against a real swtpm (free ports, temp state dir) and
 * compares tpm2_pcrread with this lib's replay: the replay is what a real TPM computes.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '@keylime/core';
import { parseEventLog } from '../src/event-log';
import { replayEventLog } from '../src/replay';
import type { BankName } from '../src/constants';
import { LOGS, fixture } from './fixtures';

const ROOT = join(__dirname, '..', '..', '..');
const TOOL = join(ROOT, 'tools', 'swtpm', 'boot-from-eventlog.ts');
const DATA = join(__dirname, '..', 'test-data');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr !== null ? addr.port : 0));
    });
  });
}

/** Two consecutive free ports (data, control). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await freePort();
    if (p < 65535 && (await new Promise<boolean>((ok) => {
      const s = createServer();
      s.once('error', () => ok(false));
      s.listen(p + 1, '127.0.0.1', () => s.close(() => ok(true)));
    }))) return p;
  }
  throw new Error('no free port pair');
}

interface Swtpm {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly dir: string;
  readonly tcti: string;
}

async function startSwtpm(flags: string): Promise<Swtpm> {
  const port = await freePortPair();
  const dir = mkdtempSync(join(tmpdir(), 'mba-swtpm-'));
  const proc = spawn('swtpm', ['socket', '--tpm2', '--tpmstate', `dir=${dir}`, '--server', `type=tcp,port=${port}`, '--ctrl', `type=tcp,port=${port + 1}`, '--flags', flags], { stdio: 'ignore' });
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  for (let i = 0; i < 50; i++) {
    try {
      execFileSync('swtpm_ioctl', ['--tcp', `127.0.0.1:${port + 1}`, '-g'], { stdio: 'ignore' });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { proc, port, dir, tcti };
}

function stopSwtpm(s: Swtpm | undefined): void {
  if (s === undefined) return;
  s.proc.kill('SIGTERM');
  rmSync(s.dir, { recursive: true, force: true });
}

function boot(s: Swtpm, log: string, extra: string[] = []): string {
  return execFileSync(process.execPath, ['-r', '@swc-node/register', TOOL, '--tcti', s.tcti, '--eventlog', join(DATA, log), '--verify', ...extra], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function tpmPcrs(s: Swtpm, bank: BankName): Map<number, string> {
  const out = execFileSync('tpm2_pcrread', [`${bank}:all`], { env: { ...process.env, TPM2TOOLS_TCTI: s.tcti }, encoding: 'utf8' });
  return new Map([...out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-F]+)/gim)].map((m) => [Number(m[1]), (m[2] ?? '').toLowerCase()]));
}

function expectTpmMatchesReplay(s: Swtpm, name: string, banks: BankName[]): void {
  const replay = replayEventLog(parseEventLog(fixture(name)));
  for (const bank of banks) {
    const tpm = tpmPcrs(s, bank);
    const ours = replay.banks.get(bank)!;
    for (let pcr = 0; pcr < 24; pcr++) expect(`${bank}:${pcr}:${tpm.get(pcr)}`).toBe(`${bank}:${pcr}:${toHex(ours.pcrs[pcr]!)}`);
  }
}

describe('tools/swtpm/boot-from-eventlog on a real swtpm', () => {
  let swtpm: Swtpm | undefined;
  afterEach(() => {
    stopSwtpm(swtpm);
    swtpm = undefined;
  });

  it('extends a fresh swtpm so every PCR equals the replay (Secure Boot log, sha256)', async () => {
    swtpm = await startSwtpm('not-need-init,startup-clear');
    expect(boot(swtpm, LOGS.secureboot)).toContain('PCRs match the log replay');
    expectTpmMatchesReplay(swtpm, LOGS.secureboot, ['sha256']);
  }, 60_000);

  it('starts the TPM at locality 3 for a StartupLocality log, so PCR 0 matches the spec replay', async () => {
    swtpm = await startSwtpm('not-need-init,startup-none');
    expect(boot(swtpm, LOGS.noSecureboot, ['--ctrl', `127.0.0.1:${swtpm.port + 1}`])).toContain('PCRs match the log replay');
    expectTpmMatchesReplay(swtpm, LOGS.noSecureboot, ['sha1', 'sha256']);
    expect(tpmPcrs(swtpm, 'sha256').get(0)).toBe('0ee9a7feba8f4172f1a7451594aa5731665a4d353ac61814042ce107a00742f2');
  }, 60_000);

  it('refuses a StartupLocality log without a control channel', async () => {
    swtpm = await startSwtpm('not-need-init,startup-clear');
    expect(() => boot(swtpm!, LOGS.noSecureboot)).toThrow(/starts at locality 3/);
  }, 60_000);
});
