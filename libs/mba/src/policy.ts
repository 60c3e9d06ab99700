/** @module policy: the pluggable measured-boot policy interface and the trivial engines (spec §5.4). */
import type { MbLogJson } from './normalise';

/** Why a policy refused a log: the rule that failed, the event it failed on, and upstream-style text. */
export interface MbRefusal {
  /** Rule id, e.g. `dispatch`, `once`, `db`, `kernels`, `scrtm_and_bios`. */
  readonly rule: string;
  /** The event the rule judged; absent for the checks made after all events. */
  readonly event?: { readonly EventNum: number; readonly PCRIndex: number; readonly EventType: string };
  /** English reason, returned to clients in `context.reason`. */
  readonly reason: string;
}

/** A policy engine: the verifier picks one by name (`[verifier] measured_boot_policy_name`). */
export interface MbPolicy {
  readonly name: string;
  /** PCRs the quote must include for this engine to judge a log. */
  readonly relevantPcrs: readonly number[];
  /** Throws KeylimeError KL_MBA_INVALID_REFSTATE when `refstate` does not fit this engine. */
  validateRefstate(refstate: unknown): void;
  /** Judges a verified log's JSON; undefined means accepted. Bad evidence is a refusal, never a throw. */
  evaluate(refstate: unknown, log: MbLogJson): MbRefusal | undefined;
}

/** Accepts every log (upstream default engine `accept-all`). */
export const acceptAllPolicy: MbPolicy = {
  name: 'accept-all',
  relevantPcrs: [],
  validateRefstate: () => undefined,
  evaluate: () => undefined,
};

/** Refuses every log (upstream `reject-all`, also the fallback for an unknown engine name). */
export const rejectAllPolicy: MbPolicy = {
  name: 'reject-all',
  relevantPcrs: [],
  validateRefstate: () => undefined,
  evaluate: () => ({ rule: 'reject-all', reason: 'reject all' }),
};
