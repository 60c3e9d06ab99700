import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  createPolicyRegistry, evaluateMeasuredBoot, parseEventLog, replayEventLog, verifyEventLog,
} from '@keylime/mba';
import { registerMeasuredBootCommands } from './measured-boot';
import { pythonJsonDumps } from './measured-boot-json';

const ROOT = join(__dirname, '..', '..', '..', '..');
const DATA = join(ROOT, 'libs', 'mba', 'test-data');
const SECUREBOOT = join(DATA, 'binary_bios_measurements-secureboot');

function program(): Command {
  const p = new Command('keylime-policy').exitOverride();
  const create = p.command('create').exitOverride();
  const sign = p.command('sign');
  registerMeasuredBootCommands({ program: p, create, sign });
  for (const c of create.commands) c.exitOverride();
  return p;
}

/** Runs the real entry point (apps/tenant/src/policy.ts) as a user would. */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/tenant/src/policy.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('keylime-policy create measured-boot', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mb-policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a refstate the example policy accepts for the same log', async () => {
    const out = join(dir, 'refstate.json');
    await program().parseAsync(['create', 'measured-boot', '-e', SECUREBOOT, '-o', out], { from: 'user' });
    const text = readFileSync(out, 'utf8');
    expect(text.startsWith('{"has_secureboot": true, "scrtm_and_bios": [{"scrtm": {"sha256": "0x65976c0b')).toBe(true);
    expect(text.endsWith('\n')).toBe(false);
    const refstate = JSON.parse(text) as unknown;

    const log = parseEventLog(new Uint8Array(readFileSync(SECUREBOOT)));
    const bank = replayEventLog(log).banks.get('sha256')!;
    const verified = verifyEventLog(log, { bank: 'sha256', pcrs: new Map([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14].map((p) => [p, bank.pcrs[p]!])) });
    if (!verified.ok) throw new Error('log does not verify');
    const pcrsInQuote = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14];
    expect(evaluateMeasuredBoot(createPolicyRegistry(), { policyName: 'example', refstate, log: verified.value, pcrsInQuote }).ok).toBe(true);
  });

  it('writes to stdout by default and refuses a Secure-Boot-off log without -i', () => {
    const ok = cli(['create', 'measured-boot', '--eventlog-file', SECUREBOOT]);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ has_secureboot: true });

    const off = cli(['create', 'measured-boot', '-e', join(DATA, 'rust-keylime-uefi_log.bin')]);
    expect(off.status).not.toBe(0);
    expect(off.stderr).toBe('keylime-policy: Provided eventlog has SecureBoot disabled, but -i flag was not set\n');

    const withI = cli(['create', 'measured-boot', '-e', join(DATA, 'rust-keylime-uefi_log.bin'), '--without-secureboot']);
    expect(withI.status).toBe(0);
    expect(JSON.parse(withI.stdout)).toMatchObject({ has_secureboot: false });
  });

  it.each([
    ['binary_bios_measurements-bogus', /^keylime-policy: Parsing of binary boot measurements \(.*-bogus\) failed with: .* at offset \d+/],
    ['binary_bios_measurements-empty', /^keylime-policy: Parsing of binary boot measurements \(.*-empty\) failed with: event log is empty/],
    ['does-not-exist', /^keylime-policy: cannot read event log .*does-not-exist: ENOENT/],
  ])('gives one clear line for %s', (name, pattern) => {
    const r = cli(['create', 'measured-boot', '-e', join(DATA, name)]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reports a missing -e as a usage error', () => {
    const r = cli(['create', 'measured-boot']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^keylime-policy: required option '-e, --eventlog-file <path>' not specified\n$/);
  });
});

describe('pythonJsonDumps', () => {
  it('matches Python json.dumps defaults', () => {
    expect(pythonJsonDumps({ a: [1, true, null], b: 'x\\y "q" é\n', c: {} })).toBe('{"a": [1, true, null], "b": "x\\\\y \\"q\\" \\u00e9\\n", "c": {}}');
  });
});
