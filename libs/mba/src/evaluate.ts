/**
 * @module evaluate: runs the configured policy engine on a verified log (spec §5.4, keylime
 * elchecker.bootlog_evaluate) and reports refusals as `measured_boot.*` failure events (§6.2).
 */
import { KeylimeError } from '@keylime/core';
import { MbaErrorCode } from './errors';
import { examplePolicy } from './example-policy';
import { MbEventId, failureEvent } from './failure';
import type { MbResult } from './failure';
import { isJsonObject } from './json';
import { acceptAllPolicy, rejectAllPolicy } from './policy';
import type { MbPolicy, MbRefusal } from './policy';
import type { VerifiedEventLog } from './verify';

/** Policy engines by name; the built-ins are `accept-all`, `reject-all` and `example`. */
export interface PolicyRegistry {
  get(name: string): MbPolicy | undefined;
  names(): readonly string[];
}

/** A registry with the built-ins plus `extra` engines (later names replace earlier ones). */
export function createPolicyRegistry(extra: readonly MbPolicy[] = []): PolicyRegistry {
  const byName = new Map<string, MbPolicy>();
  for (const p of [acceptAllPolicy, rejectAllPolicy, examplePolicy, ...extra]) byName.set(p.name, p);
  return { get: (name) => byName.get(name), names: () => [...byName.keys()] };
}

/** The engine for `name`; throws KL_MBA_UNKNOWN_POLICY (config error: check it at startup). */
export function requirePolicy(registry: PolicyRegistry, name: string): MbPolicy {
  const p = registry.get(name);
  if (p === undefined) {
    throw new KeylimeError(MbaErrorCode.UnknownPolicy, `no measured boot policy named ${name} (known: ${registry.names().join(', ')})`);
  }
  return p;
}

export interface MeasuredBootEvaluation {
  readonly policyName: string;
  /** The stored refstate (parsed JSON); `null`, absent or `{}` disables the check (spec §5.4). */
  readonly refstate: unknown;
  readonly log: VerifiedEventLog;
  /** PCR indices the quote covers. */
  readonly pcrsInQuote: readonly number[];
}

/** What the evaluation decided when it passed. */
export interface MeasuredBootVerdict {
  readonly policy: string;
  /** False when the refstate disabled the check. */
  readonly evaluated: boolean;
}

/**
 * Evaluates the refstate against the log. Never throws for bad evidence or a bad refstate: those
 * are `measured_boot.missing_pcrs` / `measured_boot.policy_<engine>` failures, as upstream reports them.
 */
export function evaluateMeasuredBoot(registry: PolicyRegistry, input: MeasuredBootEvaluation): MbResult<MeasuredBootVerdict> {
  const { refstate } = input;
  if (refstate === null || refstate === undefined || refstate === '' || (isJsonObject(refstate) && Object.keys(refstate).length === 0)) {
    return { ok: true, value: { policy: input.policyName, evaluated: false } };
  }
  // Upstream falls back to reject-all for an unknown engine name.
  const policy = registry.get(input.policyName) ?? rejectAllPolicy;
  const missing = policy.relevantPcrs.filter((p) => !input.pcrsInQuote.includes(p));
  if (missing.length > 0) {
    return { ok: false, failures: [failureEvent(MbEventId.missingPcrs, { context: 'PCRs are missing in quote', data: missing })] };
  }
  let refusal: MbRefusal | undefined;
  try {
    refusal = policy.evaluate(refstate, input.log.json);
  } catch (e) {
    refusal = { rule: 'refstate', reason: `policy evaluation failed: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (refusal === undefined) return { ok: true, value: { policy: policy.name, evaluated: true } };
  const context = {
    context: 'Boot attestation failed',
    policy: policy.name,
    refstate: JSON.stringify(refstate),
    reason: refusal.reason,
    rule: refusal.rule,
    ...(refusal.event === undefined ? {} : { event: { ...refusal.event } }),
  };
  return { ok: false, failures: [failureEvent(MbEventId.policy(policy.name), context)] };
}
