/** @module errors: fault codes of @keylime/ima (bad policies, bad keys, bad caller input). */
import { KeylimeError } from '@keylime/core';
import type { ErrorDetails } from '@keylime/core';

/**
 * Stable codes for faults. Untrusted evidence (a bad log line, a wrong digest) is never a fault:
 * it becomes an attestation event (see failure.ts).
 */
export const ImaErrorCode = {
  /** Runtime policy fails the v1 schema or a semantic check (spec verifier.md §4.6). */
  InvalidPolicy: 'KL_IMA_INVALID_POLICY',
  /** An `excludes` regular expression is invalid, unsupported or unsafe. */
  InvalidExclude: 'KL_IMA_INVALID_EXCLUDE',
  /** A DSSE envelope is malformed or its signature does not verify (§4.8). */
  InvalidEnvelope: 'KL_IMA_INVALID_ENVELOPE',
  /** Key material could not be parsed or is of an unsupported type (§4.7). */
  InvalidKey: 'KL_IMA_INVALID_KEY',
  /** An IMA keyring JSON text is malformed (§4.7). */
  InvalidKeyring: 'KL_IMA_INVALID_KEYRING',
  /** A hash algorithm name is unknown. */
  UnknownHashAlg: 'KL_IMA_UNKNOWN_HASH_ALG',
  /** Persisted incremental state could not be restored. */
  InvalidState: 'KL_IMA_INVALID_STATE',
  /** A legacy allowlist or exclude list could not be converted. */
  InvalidAllowlist: 'KL_IMA_INVALID_ALLOWLIST',
} as const;
export type ImaErrorCode = (typeof ImaErrorCode)[keyof typeof ImaErrorCode];

/** Builds a KeylimeError with an ima code; `cause` is kept for diagnostics. */
export function imaError(
  code: ImaErrorCode,
  message: string,
  options: { cause?: unknown; details?: ErrorDetails } = {},
): KeylimeError {
  return new KeylimeError(code, message, options);
}
