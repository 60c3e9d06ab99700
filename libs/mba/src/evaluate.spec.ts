import { createMeasuredBootRefState } from './create-refstate';
import { createPolicyRegistry, evaluateMeasuredBoot, requirePolicy } from './evaluate';
import { parseEventLog } from './event-log';
import { replayEventLog } from './replay';
import { verifyEventLog } from './verify';
import type { VerifiedEventLog } from './verify';
import { LOGS, fixture } from '../tests/fixtures';

const ALL = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 16];

function verified(): VerifiedEventLog {
  const log = parseEventLog(fixture(LOGS.secureboot));
  const bank = replayEventLog(log).banks.get('sha256')!;
  const res = verifyEventLog(log, { bank: 'sha256', pcrs: new Map([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14].map((p) => [p, bank.pcrs[p]!])) });
  if (!res.ok) throw new Error('fixture does not verify');
  return res.value;
}

describe('evaluateMeasuredBoot', () => {
  const registry = createPolicyRegistry();
  const log = verified();
  const refstate = createMeasuredBootRefState(log.json).refstate;

  it('passes create → verify → evaluate for the same log', () => {
    expect(evaluateMeasuredBoot(registry, { policyName: 'example', refstate, log, pcrsInQuote: ALL })).toEqual({
      ok: true,
      value: { policy: 'example', evaluated: true },
    });
  });

  it('skips an empty refstate and accepts with accept-all', () => {
    expect(evaluateMeasuredBoot(registry, { policyName: 'example', refstate: {}, log, pcrsInQuote: [] })).toMatchObject({ ok: true, value: { evaluated: false } });
    expect(evaluateMeasuredBoot(registry, { policyName: 'accept-all', refstate: { x: 1 }, log, pcrsInQuote: [] }).ok).toBe(true);
  });

  it('reports PCRs missing from the quote', () => {
    expect(evaluateMeasuredBoot(registry, { policyName: 'example', refstate, log, pcrsInQuote: [0, 1] })).toMatchObject({
      ok: false,
      failures: [{ id: 'measured_boot.missing_pcrs', context: { data: [2, 3, 4, 5, 6, 7, 8, 9, 14] } }],
    });
  });

  it('reports a refusal as measured_boot.policy_<engine> with the reason and rule', () => {
    const bad = { ...refstate, mokdig: [{ sha256: `0x${'11'.repeat(32)}` }] };
    const res = evaluateMeasuredBoot(registry, { policyName: 'example', refstate: bad, log, pcrsInQuote: ALL });
    expect(res).toMatchObject({
      ok: false,
      failures: [{ id: 'measured_boot.policy_example', recoverable: true, context: { context: 'Boot attestation failed', policy: 'example', rule: 'mokdig', event: { PCRIndex: 14 } } }],
    });
  });

  it('turns a broken refstate into "policy evaluation failed", not an exception', () => {
    const res = evaluateMeasuredBoot(registry, { policyName: 'example', refstate: { kernels: 'no' }, log, pcrsInQuote: ALL });
    expect(res).toMatchObject({ ok: false, failures: [{ id: 'measured_boot.policy_example', context: { reason: expect.stringMatching(/^policy evaluation failed: /) as unknown } }] });
  });

  it('falls back to reject-all for an unknown engine, and requirePolicy says so', () => {
    expect(evaluateMeasuredBoot(registry, { policyName: 'nope', refstate, log, pcrsInQuote: ALL })).toMatchObject({ ok: false, failures: [{ id: 'measured_boot.policy_reject-all' }] });
    expect(() => requirePolicy(registry, 'nope')).toThrow(expect.objectContaining({ code: 'KL_MBA_UNKNOWN_POLICY' }));
    expect(registry.names()).toEqual(['accept-all', 'reject-all', 'example']);
  });
});
