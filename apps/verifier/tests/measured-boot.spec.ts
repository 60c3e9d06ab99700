import fs from 'node:fs';
import path from 'node:path';
import {
  createMeasuredBootRefState,
  normaliseEventLog,
  parseEventLog,
  replayEventLog,
} from '@keylime/mba';
import type { ExampleRefStateJson } from '@keylime/mba';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import {
  SimulatedAgent,
  createFleetIdentity,
  serveSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { FleetIdentity, RunningSimulatedAgent } from '../../../tools/fleet/simulated-agent';
import {
  agentStatus,
  attestedAtLeast,
  enrolmentBody,
  startTestVerifier,
  waitFor,
} from './support/harness';
import type { TestVerifier } from './support/harness';

// Measured boot end to end (verifier §3.6 step 4, §5.4-§5.6, §6.2): simulated agents boot from a
// real UEFI log (upstream's Secure Boot fixture, spec §11.7), so PCRs 0-15 in their quotes are the
// log's replay; the `example` engine judges it against a refstate made by the generator.
const LOG = fs.readFileSync(
  path.join(__dirname, '../../../libs/mba/test-data/binary_bios_measurements-secureboot'),
);
/** PCRs 0-10 and 14: the example engine's PCRs, and PCR 0 so the agent sends its log. */
const TPM_POLICY = JSON.stringify({ mask: '0x47ff' });

function generatedRefstate(): ExampleRefStateJson {
  const log = parseEventLog(LOG);
  return createMeasuredBootRefState(normaliseEventLog(log, replayEventLog(log))).refstate;
}

/** The generated refstate with a different kernel: the log no longer satisfies `kernels`. */
function otherKernelRefstate(): ExampleRefStateJson {
  const ref = generatedRefstate();
  const k = ref.kernels[0];
  if (k === undefined) throw new Error('generator produced no kernel entry');
  return { ...ref, kernels: [{ ...k, kernel_authcode_sha256: `0x${'00'.repeat(32)}` }] };
}

describe('measured boot against simulated agents booted from a real UEFI log', () => {
  let identity: FleetIdentity;
  let once: TestVerifier;
  let always: TestVerifier;
  const served: RunningSimulatedAgent[] = [];
  const refstate = JSON.stringify(generatedRefstate());

  beforeAll(async () => {
    identity = await createFleetIdentity();
    const env = {
      KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.3',
      KEYLIME_VERIFIER_MEASURED_BOOT_POLICY_NAME: 'example',
    };
    [once, always] = await Promise.all([
      startTestVerifier({ env: { ...env, KEYLIME_VERIFIER_MEASURED_BOOT_EVALUATE: 'once' } }),
      startTestVerifier({ env: { ...env, KEYLIME_VERIFIER_MEASURED_BOOT_EVALUATE: 'always' } }),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([once.stop(), always.stop()]);
    await Promise.all(served.map((s) => s.close()));
    for (const v of [once, always]) fs.rmSync(v.dir, { recursive: true, force: true });
  });

  async function enrol(
    v: TestVerifier,
    id: string,
    mb: Record<string, unknown>,
  ): Promise<SimulatedAgent> {
    const agent = new SimulatedAgent({ agentId: id, identity });
    agent.setMeasuredBootLog(LOG);
    const s = await serveSimulatedAgent(agent, v.caCert);
    served.push(s);
    const r = await v.request(
      'POST',
      `/v2.6/agents/${id}`,
      enrolmentBody(agent, s.port, { tpm_policy: TPM_POLICY, ...mb }),
    );
    expect(r.status).toBe(200);
    return agent;
  }

  const status = agentStatus;

  const attested = attestedAtLeast;

  function failed(v: TestVerifier, id: string): Promise<Record<string, unknown>> {
    return waitFor(async () => {
      const s = await status(v, id);
      return s['operational_state'] === 9 ? s : undefined;
    });
  }

  it('the simulated quote carries the log and PCRs 0-15 equal to its replay', () => {
    const agent = new SimulatedAgent({ agentId: 'replay-check', identity });
    agent.setMeasuredBootLog(LOG);
    const results = agent.integrityQuote('abc', 0x47ff, false, 0, '2.6');
    expect(results['mb_measurement_list']).toBe(LOG.toString('base64'));
    // spec §5.2 VERIFIED replay of this log.
    expect(agent.pcrs.get(0)?.toString('hex')).toBe(
      '0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff',
    );
    expect(agent.pcrs.get(14)?.toString('hex')).toBe(
      '66c465262f16d108fd77f2f94c4ae0040f81b3168242a827fcf5efcd812de053',
    );
    expect(agent.integrityQuote('abd', 0x400, false, 0, '2.6')['mb_measurement_list']).toBe(
      undefined,
    );
  });

  it('named policy: POST /mbpolicies/{name} then mb_policy_name → attests (PASS)', async () => {
    expect(
      (await once.request('POST', '/v2.6/mbpolicies/sb-named', { mb_policy: refstate })).status,
    ).toBe(201);
    await enrol(once, 'mb-named', { mb_policy_name: 'sb-named' });
    const s = await attested(once, 'mb-named', 2);
    expect(s['operational_state']).toBe(3);
    expect(s['has_mb_refstate']).toBe(1);
    expect(s['last_event_id']).toBeNull();
  });

  it('inline mb_policy → attests (PASS)', async () => {
    await enrol(once, 'mb-inline', { mb_policy: refstate });
    const s = await attested(once, 'mb-inline', 2);
    expect(s['attestation_status']).toBe('PASS');
    expect((await once.request('GET', '/v2.6/mbpolicies/mb-inline')).status).toBe(200);
  });

  it('a refstate that disagrees with the log → measured_boot.policy_example', async () => {
    await enrol(once, 'mb-other-kernel', { mb_policy: JSON.stringify(otherKernelRefstate()) });
    const s = await failed(once, 'mb-other-kernel');
    expect(s['last_event_id']).toBe('measured_boot.policy_example');
    expect(s['attestation_count']).toBe(0);
  });

  it('a log rewritten after boot (PCR 4 digest) → measured_boot.invalid_pcr_4', async () => {
    const agent = await enrol(once, 'mb-tampered', { mb_policy: refstate });
    await attested(once, 'mb-tampered', 1);
    expect(agent.tamperMeasuredBootLog(4)).toBe(true);
    const s = await failed(once, 'mb-tampered');
    expect(s['last_event_id']).toBe('measured_boot.invalid_pcr_4');
  });

  it('without a refstate ({}) the log is not judged, only used for boot aggregates', async () => {
    const agent = await enrol(once, 'mb-disabled', { mb_policy: '{}' });
    agent.tamperMeasuredBootLog(4);
    const s = await attested(once, 'mb-disabled', 2);
    expect(s['operational_state']).toBe(3);
  });

  it('POST /verify/evidence judges mb_log against mb_policy with the configured engine', async () => {
    const agent = new SimulatedAgent({ agentId: 'mb-evidence', identity });
    agent.setMeasuredBootLog(LOG);
    const data = (nonce: string, mbPolicy: string): Record<string, unknown> => ({
      quote: agent.integrityQuote(nonce, 0x47ff, false, 0, '2.6')['quote'],
      nonce,
      hash_alg: 'sha256',
      tpm_ek: 'x',
      tpm_ak: agent.akTpm,
      mb_policy: mbPolicy,
      mb_log: LOG.toString('base64'),
      // The quote includes PCR 10, so its IMA list goes along (no runtime policy: not judged).
      ima_measurement_list: agent.ima.slice(0).text,
    });
    const good = await once.request('POST', '/v2.6/verify/evidence', {
      type: 'tpm',
      data: data('mbEvidence1', refstate),
    });
    expect(good.json().results['valid']).toBe(true);
    const bad = await once.request('POST', '/v2.6/verify/evidence', {
      type: 'tpm',
      data: data('mbEvidence2', JSON.stringify(otherKernelRefstate())),
    });
    expect(bad.status).toBe(200);
    expect(bad.json().results['failures']).toEqual([
      expect.objectContaining({ type: 'measured_boot.policy_example' }),
    ]);
  });

  it('measured_boot_evaluate: once judges the refstate until the first success, always on every quote', async () => {
    for (const v of [once, always]) {
      expect(
        (await v.request('POST', '/v2.6/mbpolicies/sb-swap', { mb_policy: refstate })).status,
      ).toBe(201);
      await enrol(v, 'mb-swap', { mb_policy_name: 'sb-swap' });
      await attested(v, 'mb-swap', 1);
      // The operator now expects another kernel; the machine has not rebooted.
      const other = JSON.stringify(otherKernelRefstate());
      expect(
        (await v.request('PUT', '/v2.6/mbpolicies/sb-swap', { mb_policy: other })).status,
      ).toBe(201);
    }
    const s = await failed(always, 'mb-swap');
    expect(s['last_event_id']).toBe('measured_boot.policy_example');
    // QUIRK kept (§5.4): with `once` the new refstate is not applied to an agent that attested.
    const before = (await status(once, 'mb-swap'))['attestation_count'] as number;
    const after = await attested(once, 'mb-swap', before + 3);
    expect(after['operational_state']).toBe(3);
    expect(after['last_event_id']).toBeNull();
  });
});
