/**
 * @module errors: the one base class for faults (bad config, malformed input, I/O, TPM errors).
 * Attestation verdicts are values, not exceptions (see @keylime/tpm and @keylime/ima).
 */

/** Details attached to an error; never put secrets or key material here. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface KeylimeErrorOptions {
  readonly cause?: unknown;
  readonly details?: ErrorDetails;
}

/**
 * Base of every error a lib throws. `code` is stable (KL_<LIB>_<WHAT>) so callers and tests can
 * branch on it without parsing messages.
 */
export class KeylimeError extends Error {
  readonly code: string;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, options: KeylimeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeylimeError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Raised by the byte Reader when input ends early or holds bytes nobody asked for. */
export class DecodeError extends KeylimeError {
  /** Byte offset in the input where decoding failed. */
  readonly offset: number;
  /** Dotted path of the field being decoded, e.g. `TPMS_ATTEST.clockInfo.clock`. */
  readonly field: string;

  constructor(code: string, message: string, offset: number, field: string) {
    super(code, `${message} at offset ${offset}${field ? ` (${field})` : ''}`, {
      details: { offset, field },
    });
    this.name = 'DecodeError';
    this.offset = offset;
    this.field = field;
  }
}

/** True when `value` is a KeylimeError carrying `code`. */
export function hasErrorCode(value: unknown, code: string): boolean {
  return value instanceof KeylimeError && value.code === code;
}

/** A printable one-line reason for any thrown value, without stack traces. */
export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}
