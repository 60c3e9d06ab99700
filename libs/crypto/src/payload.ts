/**
 * @module payload: Keylime's encrypted payload format, base64(IV16 ‖ AES-GCM ciphertext ‖ tag16)
 * without AAD (spec §5.1, §5.6); the same format protects the CA's private.yml.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { isBase64 } from '@keylime/core';
import { CryptoErrorCode, cryptoError } from './errors';

/** IV and tag length in bytes (Keylime uses a 16-byte GCM IV). */
export const PAYLOAD_IV_BYTES = 16;
export const PAYLOAD_TAG_BYTES = 16;

function gcmAlgorithm(key: Uint8Array): 'aes-128-gcm' | 'aes-256-gcm' {
  // The agent picks AES-128 or AES-256 by key length (spec §5.6 step 1); nothing else is valid.
  if (key.length === 32) return 'aes-256-gcm';
  if (key.length === 16) return 'aes-128-gcm';
  throw cryptoError(CryptoErrorCode.BadKey, 'AES-GCM key must be 16 or 32 bytes', {
    details: { keyLength: key.length },
  });
}

/** Raw IV ‖ ciphertext ‖ tag. `iv` is only for known-answer tests; leave it out otherwise. */
export function encryptPayloadBytes(
  key: Uint8Array,
  plaintext: Uint8Array,
  iv?: Uint8Array,
): Uint8Array {
  const alg = gcmAlgorithm(key);
  const nonce = iv ?? randomBytes(PAYLOAD_IV_BYTES);
  if (nonce.length !== PAYLOAD_IV_BYTES) {
    throw cryptoError(CryptoErrorCode.BadArgument, `AES-GCM IV must be ${PAYLOAD_IV_BYTES} bytes`);
  }
  const cipher = createCipheriv(alg, key, nonce, { authTagLength: PAYLOAD_TAG_BYTES });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()]));
}

/** Decrypts IV ‖ ciphertext ‖ tag; throws KL_CRYPTO_DECRYPT_FAILED if short or not authentic. */
export function decryptPayloadBytes(key: Uint8Array, data: Uint8Array): Uint8Array {
  const alg = gcmAlgorithm(key);
  if (data.length < PAYLOAD_IV_BYTES + PAYLOAD_TAG_BYTES) {
    throw cryptoError(CryptoErrorCode.DecryptFailed, 'encrypted payload is shorter than IV + tag', {
      details: { length: data.length },
    });
  }
  const iv = data.subarray(0, PAYLOAD_IV_BYTES);
  const tag = data.subarray(data.length - PAYLOAD_TAG_BYTES);
  const body = data.subarray(PAYLOAD_IV_BYTES, data.length - PAYLOAD_TAG_BYTES);
  try {
    const decipher = createDecipheriv(alg, key, iv, { authTagLength: PAYLOAD_TAG_BYTES });
    decipher.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]));
  } catch (cause) {
    throw cryptoError(CryptoErrorCode.DecryptFailed, 'encrypted payload failed authentication', {
      cause,
    });
  }
}

/** base64(IV16 ‖ AES-GCM(key, IV, plaintext) ‖ tag16) with a fresh random IV. */
export function encryptPayload(key: Uint8Array, plaintext: Uint8Array, iv?: Uint8Array): string {
  return Buffer.from(encryptPayloadBytes(key, plaintext, iv)).toString('base64');
}

/** Inverse of encryptPayload; the base64 text must be strict (padded, no whitespace). */
export function decryptPayload(key: Uint8Array, payload: string): Uint8Array {
  if (!isBase64(payload)) {
    throw cryptoError(CryptoErrorCode.DecryptFailed, 'encrypted payload is not valid base64');
  }
  return decryptPayloadBytes(key, Buffer.from(payload, 'base64'));
}
