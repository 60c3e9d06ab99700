/** @module errors: the stable KL_MBA_* fault codes of this lib (attestation verdicts are values, not these). */
import { DecodeError, DecodeErrorCode, KeylimeError } from '@keylime/core';

export const MbaErrorCode = {
  /** The log has no bytes at all. */
  EmptyLog: 'KL_MBA_EMPTY_LOG',
  /** The log ends inside a structure. */
  Truncated: 'KL_MBA_TRUNCATED',
  /** A field holds a value the format does not allow. */
  InvalidEvent: 'KL_MBA_INVALID_EVENT',
  /** The first event is not a TCG_EfiSpecIdEvent (SHA-1-only TCG 1.2 logs are not supported). */
  NotCryptoAgile: 'KL_MBA_NOT_CRYPTO_AGILE',
  /** A digest uses an algorithm the Spec ID event did not declare. */
  UnknownAlgorithm: 'KL_MBA_UNKNOWN_ALGORITHM',
  /** A size field exceeds this lib's bounds. */
  TooLarge: 'KL_MBA_TOO_LARGE',
  /** A reference state does not match the policy's schema. */
  InvalidRefState: 'KL_MBA_INVALID_REFSTATE',
  /** No policy engine is registered under the requested name. */
  UnknownPolicy: 'KL_MBA_UNKNOWN_POLICY',
  /** A reference state cannot be generated from this log. */
  RefStateGeneration: 'KL_MBA_REFSTATE_GENERATION',
} as const;
export type MbaErrorCodeValue = (typeof MbaErrorCode)[keyof typeof MbaErrorCode];

/** Re-labels the core Reader's generic decode errors with this lib's codes, keeping offset and field. */
export function asMbaDecodeError(e: unknown): unknown {
  if (!(e instanceof DecodeError) || e.code.startsWith('KL_MBA_')) return e;
  const code = e.code === DecodeErrorCode.Truncated ? MbaErrorCode.Truncated : MbaErrorCode.InvalidEvent;
  const message = e.message.replace(/ at offset \d+( \(.*\))?$/, '');
  return new DecodeError(code, message, e.offset, e.field);
}

/** A fault about a reference state or policy name (not about evidence). */
export function refStateError(message: string): KeylimeError {
  return new KeylimeError(MbaErrorCode.InvalidRefState, message);
}
