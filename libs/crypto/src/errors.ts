/** @module errors: stable error codes of @keylime/crypto and the one helper that raises them. */
import { KeylimeError } from '@keylime/core';
import type { ErrorDetails } from '@keylime/core';

/** Stable codes (KL_CRYPTO_*); callers branch on these, never on messages. */
export const CryptoErrorCode = {
  /** A hash algorithm name outside sha1/sha256/sha384/sha512. */
  UnsupportedHash: 'KL_CRYPTO_UNSUPPORTED_HASH',
  /** A numeric or size argument out of its allowed range (KDF bit length, key length...). */
  BadArgument: 'KL_CRYPTO_BAD_ARGUMENT',
  /** Key material of the wrong length or type. */
  BadKey: 'KL_CRYPTO_BAD_KEY',
  /** A ciphertext that is too short, malformed, or fails authentication. */
  DecryptFailed: 'KL_CRYPTO_DECRYPT_FAILED',
  /** A PEM/DER/base64 certificate or key that does not parse. */
  BadCertificate: 'KL_CRYPTO_BAD_CERTIFICATE',
  BadKeyEncoding: 'KL_CRYPTO_BAD_KEY_ENCODING',
  /** Creating a CA, certificate or CRL failed. */
  CaFailed: 'KL_CRYPTO_CA_FAILED',
} as const;

export type CryptoErrorCodeValue = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

/** A KeylimeError with a crypto code; `details` must never carry key material. */
export function cryptoError(
  code: CryptoErrorCodeValue,
  message: string,
  options: { cause?: unknown; details?: ErrorDetails } = {},
): KeylimeError {
  return new KeylimeError(code, message, options);
}
