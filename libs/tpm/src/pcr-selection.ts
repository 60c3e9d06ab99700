/**
 * @module pcr-selection: TPMS_PCR_SELECTION / TPML_PCR_SELECTION (Part 2 §10.6.2, §10.9.7) and
 * TPML_DIGEST (§10.9.2), big-endian as the TPM marshals them, plus bitmap ↔ PCR index helpers.
 */
import { Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import { MAX_DIGEST_SIZE, MAX_PCR_DIGESTS, NUM_PCR_BANKS, PCR_SELECT_MAX } from './constants';
import type { TpmAlgId } from './constants';
import { TpmErrorCode, tpmError } from './errors';

/** TPMS_PCR_SELECTION: a bank and its bitmap (byte 0 bit 0 = PCR 0). `pcrSelect.length` is sizeofSelect. */
export interface TpmsPcrSelection {
  readonly hash: TpmAlgId;
  readonly pcrSelect: Uint8Array;
}

/** TPML_PCR_SELECTION. */
export type TpmlPcrSelection = readonly TpmsPcrSelection[];

/** TPML_DIGEST. */
export type TpmlDigest = readonly Uint8Array[];

/** The PCR indices set in a selection bitmap, ascending. */
export function selectedPcrs(sel: TpmsPcrSelection): number[] {
  const out: number[] = [];
  const bits = sel.pcrSelect;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i] as number;
    if (b === 0) continue;
    for (let j = 0; j < 8; j++) if ((b & (1 << j)) !== 0) out.push(i * 8 + j);
  }
  return out;
}

/** Builds a selection for `hash` over `pcrs` with a bitmap of `sizeofSelect` bytes (3 = 24 PCRs). */
export function pcrSelection(
  hash: TpmAlgId,
  pcrs: Iterable<number>,
  sizeofSelect = 3,
): TpmsPcrSelection {
  const pcrSelect = new Uint8Array(sizeofSelect);
  for (const p of pcrs) {
    if (!Number.isInteger(p) || p < 0 || p >= sizeofSelect * 8) {
      throw tpmError(TpmErrorCode.Encode, `PCR ${p} does not fit a ${sizeofSelect}-byte selection`);
    }
    pcrSelect[p >> 3] = (pcrSelect[p >> 3] as number) | (1 << (p & 7));
  }
  return { hash, pcrSelect };
}

/** Reads a TPMS_PCR_SELECTION. */
export function readTpmsPcrSelection(r: Reader): TpmsPcrSelection {
  const hash = r.field('hash', () => r.u16());
  const size = r.field('sizeofSelect', () => r.u8());
  if (size > PCR_SELECT_MAX)
    r.fail(`sizeofSelect ${size} exceeds ${PCR_SELECT_MAX}`, TpmErrorCode.BadValue);
  const pcrSelect = r.field('pcrSelect', () => r.bytesN(size));
  return { hash, pcrSelect };
}

/** Reads a TPML_PCR_SELECTION. */
export function readTpmlPcrSelection(r: Reader): TpmlPcrSelection {
  return r.field('TPML_PCR_SELECTION', () => {
    const count = r.field('count', () => r.u32());
    if (count > NUM_PCR_BANKS)
      r.fail(`count ${count} exceeds ${NUM_PCR_BANKS}`, TpmErrorCode.BadValue);
    const out: TpmsPcrSelection[] = [];
    for (let i = 0; i < count; i++)
      out.push(r.field(`pcrSelections[${i}]`, () => readTpmsPcrSelection(r)));
    return out;
  });
}

/** Writes a TPML_PCR_SELECTION. */
export function writeTpmlPcrSelection(w: Writer, list: TpmlPcrSelection): void {
  if (list.length > NUM_PCR_BANKS)
    throw tpmError(TpmErrorCode.Encode, `more than ${NUM_PCR_BANKS} selections`);
  w.u32(list.length);
  for (const s of list) {
    if (s.pcrSelect.length > PCR_SELECT_MAX)
      throw tpmError(TpmErrorCode.Encode, 'pcrSelect too long');
    w.u16(s.hash).u8(s.pcrSelect.length).bytes(s.pcrSelect);
  }
}

/** Reads a TPML_DIGEST (at most 8 digests of at most 64 bytes). */
export function readTpmlDigest(r: Reader): TpmlDigest {
  return r.field('TPML_DIGEST', () => {
    const count = r.field('count', () => r.u32());
    if (count > MAX_PCR_DIGESTS)
      r.fail(`count ${count} exceeds ${MAX_PCR_DIGESTS}`, TpmErrorCode.BadValue);
    const out: Uint8Array[] = [];
    for (let i = 0; i < count; i++)
      out.push(r.field(`digests[${i}]`, () => r.sized16(MAX_DIGEST_SIZE)));
    return out;
  });
}

/** Writes a TPML_DIGEST. */
export function writeTpmlDigest(w: Writer, list: TpmlDigest): void {
  if (list.length > MAX_PCR_DIGESTS)
    throw tpmError(TpmErrorCode.Encode, `more than ${MAX_PCR_DIGESTS} digests`);
  w.u32(list.length);
  for (const d of list) {
    if (d.length > MAX_DIGEST_SIZE)
      throw tpmError(TpmErrorCode.Encode, 'digest longer than 64 bytes');
    w.sized16(d);
  }
}

/** Decodes a complete TPML_PCR_SELECTION. */
export function decodeTpmlPcrSelection(bytes: Uint8Array): TpmlPcrSelection {
  return decodeAll(bytes, readTpmlPcrSelection);
}

/** Marshals a TPML_PCR_SELECTION. */
export function encodeTpmlPcrSelection(list: TpmlPcrSelection): Uint8Array {
  const w = new Writer(4 + list.length * 7);
  writeTpmlPcrSelection(w, list);
  return w.finish();
}

/** Decodes a complete TPML_DIGEST. */
export function decodeTpmlDigest(bytes: Uint8Array): TpmlDigest {
  return decodeAll(bytes, readTpmlDigest);
}

/** Marshals a TPML_DIGEST. */
export function encodeTpmlDigest(list: TpmlDigest): Uint8Array {
  const w = new Writer(4 + list.length * 66);
  writeTpmlDigest(w, list);
  return w.finish();
}
