/**
 * @module structures: the few TPM structures the command layer marshals itself (Part 2):
 * TPML_PCR_SELECTION, TPML_DIGEST, TPMT_HA lists and TPMS_CONTEXT.
 */
import type { Reader, Writer } from '@keylime/core';
import { DIGEST_SIZES } from './constants';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';

/** The PCRs selected in one bank (one TPMS_PCR_SELECTION). */
export interface PcrBankSelection {
  /** TPM_ALG_ID of the bank, e.g. 0x000b for SHA-256. */
  readonly hashAlg: number;
  /** PCR indices, each 0..(8·sizeofSelect − 1). */
  readonly pcrs: readonly number[];
}

/** A TPML_PCR_SELECTION as data: banks in the order the TPM sees them. */
export type PcrSelection = readonly PcrBankSelection[];

/** Upper bounds from the reference implementation, to refuse absurd lists from a broken TPM. */
const MAX_PCR_BANKS = 16;
const MAX_DIGESTS = 8;

/** Writes a TPML_PCR_SELECTION; sizeofSelect is 3 (24 PCRs) or more if a higher PCR is named. */
export function writePcrSelection(w: Writer, selection: PcrSelection): void {
  w.u32(selection.length);
  for (const bank of selection) {
    const highest = Math.max(23, ...bank.pcrs);
    const bitmap = new Uint8Array(Math.ceil((highest + 1) / 8));
    for (const pcr of bank.pcrs) {
      if (!Number.isInteger(pcr) || pcr < 0 || pcr > 255) {
        throw new TpmDeviceError(TpmDeviceErrorCode.BadArgument, `invalid PCR index ${pcr}`);
      }
      bitmap[pcr >> 3] = (bitmap[pcr >> 3] ?? 0) | (1 << (pcr & 7));
    }
    w.u16(bank.hashAlg).u8(bitmap.length).bytes(bitmap);
  }
}

/** Reads a TPML_PCR_SELECTION; PCR lists come out ascending. */
export function readPcrSelection(r: Reader): PcrBankSelection[] {
  return r.field('TPML_PCR_SELECTION', () => {
    const count = r.u32();
    if (count > MAX_PCR_BANKS) r.fail(`${count} banks exceed ${MAX_PCR_BANKS}`);
    const banks: PcrBankSelection[] = [];
    for (let i = 0; i < count; i++) {
      const hashAlg = r.u16();
      const bitmap = r.bytesN(r.u8());
      const pcrs: number[] = [];
      bitmap.forEach((byte, index) => {
        for (let bit = 0; bit < 8; bit++) if ((byte & (1 << bit)) !== 0) pcrs.push(index * 8 + bit);
      });
      banks.push({ hashAlg, pcrs });
    }
    return banks;
  });
}

/** Reads a TPML_DIGEST (at most 8 digests per the spec). */
export function readDigestList(r: Reader): Uint8Array[] {
  return r.field('TPML_DIGEST', () => {
    const count = r.u32();
    if (count > MAX_DIGESTS) r.fail(`${count} digests exceed ${MAX_DIGESTS}`);
    const digests: Uint8Array[] = [];
    for (let i = 0; i < count; i++) digests.push(r.sized16(64));
    return digests;
  });
}

/** One TPMT_HA: a digest tagged with its algorithm. */
export interface TaggedDigest {
  readonly hashAlg: number;
  readonly digest: Uint8Array;
}

/** Writes a TPML_DIGEST_VALUES, checking each digest has its algorithm's size. */
export function writeDigestValues(w: Writer, digests: readonly TaggedDigest[]): void {
  w.u32(digests.length);
  for (const d of digests) {
    const size = DIGEST_SIZES[d.hashAlg];
    if (size === undefined || size !== d.digest.length) {
      throw new TpmDeviceError(
        TpmDeviceErrorCode.BadArgument,
        `digest for hash 0x${d.hashAlg.toString(16)} has ${d.digest.length} bytes, expected ${size ?? 'a known hash'}`,
      );
    }
    w.u16(d.hashAlg).bytes(d.digest);
  }
}

/** TPMS_CONTEXT (Part 2 §14.3): a saved object or session, opaque to us except its handle. */
export interface TpmsContext {
  readonly sequence: bigint;
  readonly savedHandle: number;
  readonly hierarchy: number;
  readonly contextBlob: Uint8Array;
}

export function readContext(r: Reader): TpmsContext {
  return r.field('TPMS_CONTEXT', () => ({
    sequence: r.u64(),
    savedHandle: r.u32(),
    hierarchy: r.u32(),
    contextBlob: r.sized16(),
  }));
}

export function writeContext(w: Writer, c: TpmsContext): void {
  w.u64(c.sequence).u32(c.savedHandle).u32(c.hierarchy).sized16(c.contextBlob);
}
