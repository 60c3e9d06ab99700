/** @module errors: the fault type of @keylime/tpm-device and its stable KL_TPMDEV_* codes. */
import { KeylimeError } from '@keylime/core';
import type { KeylimeErrorOptions } from '@keylime/core';

/** Stable codes; callers branch on these, never on messages. */
export const TpmDeviceErrorCode = {
  /** The TCTI string is malformed or names an unsupported TCTI. */
  BadTcti: 'KL_TPMDEV_BAD_TCTI',
  /** Connecting to, writing to or reading from the TPM failed. */
  Io: 'KL_TPMDEV_IO',
  /** The TPM did not answer within the timeout. */
  Timeout: 'KL_TPMDEV_TIMEOUT',
  /** The TPM answered with bytes that do not frame or decode as a response. */
  BadResponse: 'KL_TPMDEV_BAD_RESPONSE',
  /** The TPM returned a non-zero response code (see TpmResponseError). */
  TpmError: 'KL_TPMDEV_TPM_ERROR',
  /** A caller passed an argument the TPM command cannot carry. */
  BadArgument: 'KL_TPMDEV_BAD_ARGUMENT',
  /** An object, NV index or blob is not what the operation expects. */
  Unexpected: 'KL_TPMDEV_UNEXPECTED',
} as const;
export type TpmDeviceErrorCodeValue = (typeof TpmDeviceErrorCode)[keyof typeof TpmDeviceErrorCode];

/** Every fault this lib throws (TpmResponseError included) is a TpmDeviceError. */
export class TpmDeviceError extends KeylimeError {
  constructor(code: TpmDeviceErrorCodeValue, message: string, options: KeylimeErrorOptions = {}) {
    super(code, message, options);
    this.name = 'TpmDeviceError';
  }
}
