/**
 * @module rsa: RSA-OAEP for the U/V key halves (SHA-1/MGF1-SHA-1, empty label, spec §0) and for
 * TPM MakeCredential seeds, and RSA-PSS SHA-256 with maximum salt for revocation messages (§5.8).
 */
import { constants, privateDecrypt, publicEncrypt, sign, verify } from 'node:crypto';
import type { KeyObject, RsaPrivateKey, RsaPublicKey } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';
import { assertHashAlg } from './hash';
import type { HashAlg } from './hash';
import { importPrivateKey, importPublicKey } from './keys';
import type { PrivateKeyInput, PublicKeyInput } from './keys';

/** OAEP parameters; the defaults are Keylime's U/V transport (SHA-1, MGF1-SHA-1, no label). */
export interface OaepOptions {
  /** Digest for OAEP and MGF1 (Node uses the same hash for both). Default sha1. */
  readonly hash?: HashAlg;
  /** OAEP label, e.g. "IDENTITY\0" for MakeCredential. Default empty. */
  readonly label?: Uint8Array;
}

function requireRsa(keyType: string | undefined, what: string): void {
  if (keyType !== 'rsa')
    throw cryptoError(CryptoErrorCode.BadKey, `${what} must be an RSA key`, {
      details: { keyType },
    });
}

/** Node's OAEP parameters for `key`: upstream's SHA-1/MGF1-SHA-1 default, optional label. */
function oaepParameters(key: KeyObject, options: OaepOptions): RsaPrivateKey & RsaPublicKey {
  return {
    key,
    padding: constants.RSA_PKCS1_OAEP_PADDING,
    oaepHash: assertHashAlg(options.hash ?? 'sha1'),
    ...(options.label === undefined ? {} : { oaepLabel: Buffer.from(options.label) }),
  };
}

/** RSA-OAEP encryption (default SHA-1/MGF1-SHA-1, empty label). */
export function rsaOaepEncrypt(
  publicKey: PublicKeyInput,
  data: Uint8Array,
  options: OaepOptions = {},
): Uint8Array {
  const key = importPublicKey(publicKey);
  requireRsa(key.asymmetricKeyType, 'OAEP key');
  try {
    return new Uint8Array(publicEncrypt(oaepParameters(key, options), data));
  } catch (cause) {
    throw cryptoError(
      CryptoErrorCode.BadArgument,
      'RSA-OAEP encryption failed (message too long?)',
      { cause },
    );
  }
}

/** RSA-OAEP decryption; any padding or length error is KL_CRYPTO_DECRYPT_FAILED. */
export function rsaOaepDecrypt(
  privateKey: PrivateKeyInput,
  data: Uint8Array,
  options: OaepOptions = {},
): Uint8Array {
  const key = importPrivateKey(privateKey);
  requireRsa(key.asymmetricKeyType, 'OAEP key');
  try {
    return new Uint8Array(privateDecrypt(oaepParameters(key, options), data));
  } catch (cause) {
    throw cryptoError(CryptoErrorCode.DecryptFailed, 'RSA-OAEP decryption failed', { cause });
  }
}

/** RSA-PSS SHA-256, MGF1-SHA-256, maximum salt length; returns the raw signature. */
export function rsaPssSign(privateKey: PrivateKeyInput, message: string | Uint8Array): Uint8Array {
  const key = importPrivateKey(privateKey);
  requireRsa(key.asymmetricKeyType, 'PSS signing key');
  const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return new Uint8Array(
    sign('sha256', data, {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN,
    }),
  );
}

/**
 * Verifies RSA-PSS SHA-256. The salt length is recovered from the signature (OpenSSL "auto"), as
 * upstream's Python and Rust verifiers do with PSS.MAX_LENGTH. False for any bad signature.
 */
export function rsaPssVerify(
  publicKey: PublicKeyInput,
  message: string | Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = importPublicKey(publicKey);
  if (key.asymmetricKeyType !== 'rsa') return false;
  const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  try {
    return verify(
      'sha256',
      data,
      { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
      signature,
    );
  } catch {
    return false;
  }
}

/** Revocation message signature: base64 RSA-PSS over the UTF-8 message text (spec §5.8). */
export function signRevocationMessage(privateKey: PrivateKeyInput, msg: string): string {
  return Buffer.from(rsaPssSign(privateKey, msg)).toString('base64');
}

/** Checks a base64 revocation signature; malformed base64 is simply "not valid". */
export function verifyRevocationMessage(
  publicKey: PublicKeyInput,
  msg: string,
  signatureB64: string,
): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureB64.trim())) return false;
  return rsaPssVerify(publicKey, msg, Buffer.from(signatureB64.trim(), 'base64'));
}
