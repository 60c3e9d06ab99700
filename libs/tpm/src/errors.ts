/**
 * @module errors: the stable error codes of @keylime/tpm (KL_TPM_*) and a helper to raise them.
 * Truncation and trailing bytes keep core's KL_DECODE_* codes; both are DecodeErrors (style B6).
 */
import { KeylimeError } from '@keylime/core';
import type { ErrorDetails } from '@keylime/core';

/** Every code this lib throws, besides core's KL_DECODE_TRUNCATED / KL_DECODE_TRAILING_BYTES. */
export const TpmErrorCode = {
  /** A magic number or structure tag is not the expected one. */
  BadMagic: 'KL_TPM_BAD_MAGIC',
  /** An algorithm, curve, scheme or structure type we do not implement. */
  Unsupported: 'KL_TPM_UNSUPPORTED',
  /** A field value the spec forbids (reserved bits set, size out of range, inconsistent sizes). */
  BadValue: 'KL_TPM_BAD_VALUE',
  /** The Keylime quote string is not `r<b64>:<b64>:<b64>`. */
  BadQuoteString: 'KL_TPM_BAD_QUOTE_STRING',
  /** A TPM public area does not describe a valid public key. */
  BadKey: 'KL_TPM_BAD_KEY',
  /** A value cannot be encoded (caller bug: wrong sizes or missing fields). */
  Encode: 'KL_TPM_ENCODE',
} as const;
export type TpmErrorCodeValue = (typeof TpmErrorCode)[keyof typeof TpmErrorCode];

/** Builds a KeylimeError with a KL_TPM_* code. */
export function tpmError(
  code: TpmErrorCodeValue,
  message: string,
  details?: ErrorDetails,
  cause?: unknown,
): KeylimeError {
  return new KeylimeError(code, message, { details: details ?? {}, cause });
}
