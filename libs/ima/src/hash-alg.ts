/** @module hash-alg: hash algorithms used by IMA logs and PCR banks, with one-shot hashing. */
import * as crypto from 'node:crypto';
import { ImaErrorCode, imaError } from './errors';

/** Algorithm names as tpm2-tools and upstream Keylime spell them (`keylime/common/algorithms.py`). */
export const HashAlg = {
  Sha1: 'sha1',
  Sha256: 'sha256',
  Sha384: 'sha384',
  Sha512: 'sha512',
  Sm3_256: 'sm3_256',
} as const;
export type HashAlg = (typeof HashAlg)[keyof typeof HashAlg];

const SIZES: Readonly<Record<HashAlg, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  sm3_256: 32,
};

/** OpenSSL names differ from tpm2-tools names only for SM3. */
const NODE_NAMES: Readonly<Record<HashAlg, string>> = {
  sha1: 'sha1',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  sm3_256: 'sm3',
};

/** All algorithms in upstream's order (used when guessing an algorithm from a digest length). */
export const HASH_ALGS: readonly HashAlg[] = ['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256'];

export function isHashAlg(name: string): name is HashAlg {
  return Object.prototype.hasOwnProperty.call(SIZES, name);
}

/** Parses an algorithm name or throws KL_IMA_UNKNOWN_HASH_ALG. */
export function toHashAlg(name: string): HashAlg {
  if (!isHashAlg(name)) {
    throw imaError(ImaErrorCode.UnknownHashAlg, `unknown hash algorithm '${name}'`);
  }
  return name;
}

/** Digest size in bytes. */
export function digestSize(alg: HashAlg): number {
  return SIZES[alg];
}

/** Node/OpenSSL name of an algorithm. */
export function nodeHashName(alg: HashAlg): string {
  return NODE_NAMES[alg];
}

// crypto.hash (Node >= 20.12) avoids the Hash object of createHash, and a string result avoids
// a Buffer allocation: together ~5x faster for the small inputs every IMA entry hashes 2-3 times.
type OneShot = (alg: string, data: Uint8Array, enc: 'latin1') => string;
const oneShot: OneShot | undefined = (crypto as unknown as { hash?: OneShot }).hash;

/** Hash of `data` with an OpenSSL algorithm name, as a latin1 string (one char per byte). */
export function hashLatin1(nodeName: string, data: Uint8Array): string {
  if (oneShot !== undefined) return oneShot(nodeName, data, 'latin1');
  return crypto.createHash(nodeName).update(data).digest('binary');
}

/** Hash of `data` with an OpenSSL algorithm name. */
export function hashWith(nodeName: string, data: Uint8Array): Buffer {
  return Buffer.from(hashLatin1(nodeName, data), 'latin1');
}

const hexScratch = Buffer.alloc(128);

/** Lower-case hex of a latin1 byte string. */
export function latin1ToHex(s: string): string {
  // Through one reused buffer: one allocation (the result), not one string per byte.
  if (s.length <= hexScratch.length) {
    const n = hexScratch.write(s, 0, 'latin1');
    return hexScratch.toString('hex', 0, n);
  }
  return Buffer.from(s, 'latin1').toString('hex');
}

/** ASCII code → hex digit value (either case), -1 elsewhere. */
const HEX_DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_DIGIT[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_DIGIT[0x41 + i] = 10 + i;
  HEX_DIGIT[0x61 + i] = 10 + i;
}

/**
 * True iff `hex` (either case) spells exactly the bytes of the latin1 string `bytes`. Same answer
 * as `hex.toLowerCase() === latin1ToHex(bytes)`, without building the hex string (hot loop).
 */
export function hexEqualsLatin1(hex: string, bytes: string): boolean {
  const n = bytes.length;
  if (hex.length !== 2 * n) return false;
  for (let i = 0; i < n; i++) {
    const hi = HEX_DIGIT[hex.charCodeAt(2 * i)] ?? -1;
    const lo = HEX_DIGIT[hex.charCodeAt(2 * i + 1)] ?? -1;
    // A non-hex char makes the value negative, so it never equals a byte.
    if (((hi << 4) | lo) !== bytes.charCodeAt(i)) return false;
  }
  return true;
}

/** Hash of `data` with `alg`. */
export function digest(alg: HashAlg, data: Uint8Array): Buffer {
  return hashWith(NODE_NAMES[alg], data);
}

/** The PCR start value (all zero) of a bank. */
export function zeroDigest(alg: HashAlg): Buffer {
  return Buffer.alloc(SIZES[alg]);
}

/** The all-0xff value IMA extends for a violation (§4.2). */
export function ffDigest(alg: HashAlg): Buffer {
  return Buffer.alloc(SIZES[alg], 0xff);
}

/** PCR extend: H(old || value). */
export function extend(alg: HashAlg, old: Uint8Array, value: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(old.length + value.length);
  buf.set(old, 0);
  buf.set(value, old.length);
  return digest(alg, buf);
}
