/**
 * @module failure: measured-boot attestation failures as values, with upstream's event ids
 * (spec §6.1, §6.2: `measured_boot.*`). Faults in our own code still throw; bad evidence never does.
 */
import type { JsonObject } from './json';

/** One failure event: id as upstream spells it, JSON context, and whether a later quote may pass. */
export interface MbFailureEvent {
  readonly id: string;
  readonly context: JsonObject;
  readonly recoverable: boolean;
}

/** `{ok: true, value}` or the failure events that explain the refusal. */
export type MbResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failures: readonly MbFailureEvent[] };

export const MbEventId = {
  parserError: 'measured_boot.parser.tpm2_eventlog.error',
  invalidPcrsHashes: 'measured_boot.parser.invalid_pcrs_hashes',
  invalidBootAggregates: 'measured_boot.parser.invalid_boot_aggregates',
  missingPcrs: 'measured_boot.missing_pcrs',
  invalidPcr: (pcr: number): string => `measured_boot.invalid_pcr_${pcr}`,
  policy: (engine: string): string => `measured_boot.policy_${engine}`,
} as const;

export function failureEvent(id: string, context: JsonObject): MbFailureEvent {
  return { id, context, recoverable: true };
}
