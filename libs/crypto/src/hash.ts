/** @module hash: the hash algorithms Keylime and the TPM use, their digest sizes, and digest helpers. */
import { createHash } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';

/** Hash names as Node and upstream Keylime spell them. */
export const HASH_ALGS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type HashAlg = (typeof HASH_ALGS)[number];

/** Digest size in bytes of each algorithm. */
export const DIGEST_SIZES: Readonly<Record<HashAlg, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
};

/** True if `name` is one of HASH_ALGS (exact, lower-case). */
export function isHashAlg(name: string): name is HashAlg {
  return (HASH_ALGS as readonly string[]).includes(name);
}

/** Narrows an untrusted name to a HashAlg or throws KL_CRYPTO_UNSUPPORTED_HASH. */
export function assertHashAlg(name: string): HashAlg {
  if (!isHashAlg(name)) {
    throw cryptoError(CryptoErrorCode.UnsupportedHash, `unsupported hash algorithm "${name}"`);
  }
  return name;
}

/** Digest size in bytes; throws for an unknown name (guards callers that skip the type). */
export function digestSize(alg: HashAlg): number {
  return DIGEST_SIZES[assertHashAlg(alg)];
}

/** H(data[0] ‖ data[1] ‖ …). */
export function hash(alg: HashAlg, ...data: readonly Uint8Array[]): Uint8Array {
  const h = createHash(assertHashAlg(alg));
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return hash('sha256', data);
}

/** SHA-384 of `data`. */
export function sha384(data: Uint8Array): Uint8Array {
  return hash('sha384', data);
}

/** Hex digest of a UTF-8 string or bytes; the form Keylime stores hashes in. */
export function hashHex(alg: HashAlg, data: string | Uint8Array): string {
  const h = createHash(assertHashAlg(alg));
  h.update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  return h.digest('hex');
}

/** PCR extend: H(old ‖ digest); both must be digest-sized for `alg`. */
export function pcrExtend(alg: HashAlg, old: Uint8Array, digest: Uint8Array): Uint8Array {
  const size = digestSize(alg);
  if (old.length !== size || digest.length !== size) {
    throw cryptoError(CryptoErrorCode.BadArgument, `PCR values for ${alg} must be ${size} bytes`, {
      details: { oldLength: old.length, digestLength: digest.length },
    });
  }
  return hash(alg, old, digest);
}

/**
 * Expected PCR 16 after the agent binds its payload key (spec §0 "Quote binding"): PCR 16 reset to
 * zeros, then extended with H(public key PEM text).
 */
export function boundPcr16(alg: HashAlg, publicKeyPem: string): Uint8Array {
  const size = digestSize(alg);
  return pcrExtend(alg, new Uint8Array(size), hash(alg, Buffer.from(publicKeyPem, 'utf8')));
}
