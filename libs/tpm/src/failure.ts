/**
 * @module failure: attestation verdicts as values (style B6) with upstream's event ids, byte for byte
 * (verifier §6.2). The component is spelt `qoute_validation` upstream (keylime/failure.py); operators
 * match severity_policy regexes against it, so the misspelling is kept on purpose.
 */

/** Event ids of quote validation (verifier §3.2-3.5, §6.2); all irrecoverable. */
export const QuoteEventId = {
  QuoteValidation: 'qoute_validation.quote_validation',
  InvalidData: 'qoute_validation.invalid_data',
  NoPubkey: 'qoute_validation.no_pubkey',
  InvalidHashAlg: 'qoute_validation.invalid_hash_alg',
  InvalidEncAlg: 'qoute_validation.invalid_enc_alg',
  InvalidSignAlg: 'qoute_validation.invalid_sign_alg',
  InvalidImaEntryNb: 'qoute_validation.invalid_ima_entry_nb',
  InvalidQuote: 'qoute_validation.invalid_quote',
} as const;

/** Event ids of the PCR 16 binding check (verifier §3.4); recoverable. */
export const DataPcrEventId = {
  MissingPcr16: 'pcr_validation.missing_pcr_16',
  InvalidPcr16: 'pcr_validation.invalid_pcr_16',
} as const;

/** One failure event: upstream's id, its JSON context, and whether attestation may continue. */
export interface FailureEvent {
  readonly id: string;
  readonly context: Readonly<Record<string, unknown>>;
  readonly recoverable: boolean;
}

/** A verdict: the verified value, or the failure event that stopped verification. */
export type Verdict<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly failure: FailureEvent };

/** Builds a failed verdict. */
export function failed(
  id: string,
  context: Readonly<Record<string, unknown>>,
  recoverable: boolean,
): {
  readonly ok: false;
  readonly failure: FailureEvent;
} {
  return { ok: false, failure: { id, context, recoverable } };
}
