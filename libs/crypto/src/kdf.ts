/**
 * @module kdf: TPM 2.0 key derivation functions KDFa (Part 1 §11.4.10.2, SP 800-108 counter mode
 * with HMAC) and KDFe (Part 1 §11.4.10.3, SP 800-56A concatenation KDF for ECDH).
 */
import { createHash, createHmac } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';
import { assertHashAlg, DIGEST_SIZES } from './hash';
import type { HashAlg } from './hash';

/** Largest output we derive: a TPM2B buffer cannot hold more than 65535 bytes. */
export const KDF_MAX_BITS = 65535 * 8;

/** Label bytes with exactly one terminating NUL, as the TPM reference code does. */
function labelBytes(label: string | Uint8Array): Buffer {
  const raw = typeof label === 'string' ? Buffer.from(label, 'utf8') : Buffer.from(label);
  // TPM reference CryptKDFa/KDFe: append 0x00 when the label is empty or not NUL-terminated.
  if (raw.length === 0 || raw[raw.length - 1] !== 0) return Buffer.concat([raw, Buffer.alloc(1)]);
  return raw;
}

function checkBits(bits: number): void {
  if (!Number.isInteger(bits) || bits <= 0 || bits > KDF_MAX_BITS) {
    throw cryptoError(
      CryptoErrorCode.BadArgument,
      `KDF bit length must be an integer in 1..${KDF_MAX_BITS}`,
      {
        details: { bits },
      },
    );
  }
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** Runs `block(counter)` for counter = 1, 2, … and keeps ceil(bits/8) bytes, masking excess high bits. */
function counterKdf(alg: HashAlg, bits: number, block: (counter: Buffer) => Buffer): Uint8Array {
  const bytes = Math.ceil(bits / 8);
  const blocks = Math.ceil(bytes / DIGEST_SIZES[alg]);
  const parts: Buffer[] = [];
  for (let i = 1; i <= blocks; i++) parts.push(block(u32be(i)));
  const out = new Uint8Array(Buffer.concat(parts).subarray(0, bytes));
  // Part 1 §11.4.10: when bits is not a multiple of 8 the unused leading bits are zero.
  const rem = bits % 8;
  if (rem !== 0) out[0] = (out[0] ?? 0) & ((1 << rem) - 1);
  return out;
}

/**
 * KDFa(hashAlg, key, label, contextU, contextV, bits): block i = HMAC_h(key, u32be(i) ‖ label ‖ 0x00
 * ‖ contextU ‖ contextV ‖ u32be(bits)). A string label is UTF-8 encoded; the NUL is added once.
 */
export function kdfa(
  hashAlg: HashAlg,
  key: Uint8Array,
  label: string | Uint8Array,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  const alg = assertHashAlg(hashAlg);
  checkBits(bits);
  const lbl = labelBytes(label);
  const tail = u32be(bits);
  return counterKdf(alg, bits, (counter) =>
    createHmac(alg, key)
      .update(counter)
      .update(lbl)
      .update(contextU)
      .update(contextV)
      .update(tail)
      .digest(),
  );
}

/**
 * KDFe(hashAlg, z, label, partyUInfo, partyVInfo, bits): block i = H(u32be(i) ‖ Z ‖ label ‖ 0x00 ‖
 * partyUInfo ‖ partyVInfo). Z and the party infos are x-coordinates, padded by the caller.
 */
export function kdfe(
  hashAlg: HashAlg,
  z: Uint8Array,
  label: string | Uint8Array,
  partyUInfo: Uint8Array,
  partyVInfo: Uint8Array,
  bits: number,
): Uint8Array {
  const alg = assertHashAlg(hashAlg);
  checkBits(bits);
  const lbl = labelBytes(label);
  return counterKdf(alg, bits, (counter) =>
    createHash(alg)
      .update(counter)
      .update(z)
      .update(lbl)
      .update(partyUInfo)
      .update(partyVInfo)
      .digest(),
  );
}
