/** @module @keylime/crypto: Hashes, HMAC, KDFa/KDFe, AES-GCM payloads, RSA-OAEP, X.509 and the Keylime CA (pure: produces PEM, writes nothing). */

// errors
export { CryptoErrorCode } from './errors';
export type { CryptoErrorCodeValue } from './errors';

// hashes
export {
  HASH_ALGS,
  DIGEST_SIZES,
  isHashAlg,
  assertHashAlg,
  digestSize,
  hash,
  sha256,
  sha384,
  hashHex,
} from './hash';
export type { HashAlg } from './hash';

// TPM key derivation (Part 1 §11.4.10)
export { kdfa, kdfe, KDF_MAX_BITS } from './kdf';
