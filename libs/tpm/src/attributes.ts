/**
 * @module attributes: TPMA_OBJECT (Part 2 §8.3) as a record of named booleans with its bit table.
 * Reserved bits set on input are a decode error (style B4).
 */
import type { Reader } from '@keylime/core';
import { TpmErrorCode } from './errors';

/** TPMA_OBJECT bit positions (Part 2 §8.3.2, Table 31). */
export const TpmaObjectBits = {
  fixedTpm: 1,
  stClear: 2,
  fixedParent: 4,
  sensitiveDataOrigin: 5,
  userWithAuth: 6,
  adminWithPolicy: 7,
  noDa: 10,
  encryptedDuplication: 11,
  restricted: 16,
  decrypt: 17,
  sign: 18,
  x509Sign: 19,
} as const;

export type TpmaObjectFlag = keyof typeof TpmaObjectBits;

/** TPMA_OBJECT as named booleans. `sign` is the spec's `sign`/`encrypt` bit. */
export type TpmaObject = Readonly<Record<TpmaObjectFlag, boolean>>;

const FLAGS = Object.keys(TpmaObjectBits) as TpmaObjectFlag[];
const DEFINED_MASK = FLAGS.reduce((m, f) => (m | (1 << TpmaObjectBits[f])) >>> 0, 0);

/** Attributes of upstream's expected AK (tpm2_objects.py AK_EXPECTED_ATTRS = 0x00050072). */
export const AK_EXPECTED_ATTRIBUTES = 0x00050072;
/** Low-range EK template attributes (TCG EK Credential Profile, template L-1/L-2) = 0x000300b2. */
export const EK_LOW_ATTRIBUTES = 0x000300b2;

/** Decodes a TPMA_OBJECT word; undefined if a reserved bit is set. */
export function tpmaObjectFromWord(word: number): TpmaObject | undefined {
  if ((word & ~DEFINED_MASK) >>> 0 !== 0) return undefined;
  const out = {} as Record<TpmaObjectFlag, boolean>;
  for (const f of FLAGS) out[f] = (word & (1 << TpmaObjectBits[f])) !== 0;
  return out;
}

/** Encodes named attributes into a TPMA_OBJECT word. Missing flags are false. */
export function tpmaObjectToWord(attrs: Partial<TpmaObject>): number {
  let word = 0;
  for (const f of FLAGS) if (attrs[f] === true) word |= 1 << TpmaObjectBits[f];
  return word >>> 0;
}

/** Reads a TPMA_OBJECT, rejecting reserved bits. */
export function readTpmaObject(r: Reader): TpmaObject {
  const word = r.u32();
  const attrs = tpmaObjectFromWord(word);
  if (attrs === undefined) {
    r.fail(
      `reserved TPMA_OBJECT bits set in 0x${word.toString(16).padStart(8, '0')}`,
      TpmErrorCode.BadValue,
    );
  }
  return attrs;
}
