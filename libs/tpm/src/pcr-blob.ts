/**
 * @module pcr-blob: the tpm2-tools "pcrs output" blob Keylime agents send as the third part of a quote
 * (verifier §3.1, agent-registrar-tenant §4.3): little-endian C structs, not TPM marshalling.
 * TPML_PCR_SELECTION (u32 count + 16 slots of 8 bytes) ‖ u32 n ‖ n × TPML_DIGEST (u32 count + 8 slots
 * of u16 size + 64 bytes). Decoding is strict: unused slots and padding must be zero, as every known
 * producer (tpm2-tools, rust-keylime `pcrdata_to_vec`) writes them, so no byte of the blob is unchecked.
 */
import { DecodeErrorCode, Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import { MAX_DIGEST_SIZE, MAX_PCR_DIGESTS, NUM_PCR_BANKS } from './constants';
import type { TpmAlgId } from './constants';
import { TpmErrorCode, tpmError } from './errors';
import { tpmDigestSize } from './hash';
import { selectedPcrs } from './pcr-selection';
import type { TpmlDigest, TpmlPcrSelection, TpmsPcrSelection } from './pcr-selection';

/** The decoded blob: the selection and the digest lists in the order they were read. */
export interface PcrBlob {
  readonly selections: TpmlPcrSelection;
  readonly digests: readonly TpmlDigest[];
}

/** One PCR value of the blob, attributed to its bank and index. */
export interface PcrBlobValue {
  readonly hash: TpmAlgId;
  readonly pcr: number;
  readonly value: Uint8Array;
}

const SLOT_SIZE = 8;
const SELECT_BYTES = 4;
/** tpm2-tools writes sizeofSelect 3 (24 PCRs); upstream rejects anything but 0 and 3. */
const BLOB_SIZEOF_SELECT = 3;
const DIGEST_SLOT = 2 + MAX_DIGEST_SIZE;
/** Byte size of one TPML_DIGEST record. */
export const PCR_BLOB_DIGEST_LIST_SIZE = 4 + MAX_PCR_DIGESTS * DIGEST_SLOT;
/** Byte size of the TPML_PCR_SELECTION part. */
export const PCR_BLOB_SELECTION_SIZE = 4 + NUM_PCR_BANKS * SLOT_SIZE;

function u16le(r: Reader): number {
  const b = r.bytesN(2);
  return (b[0] as number) | ((b[1] as number) << 8);
}

function u32le(r: Reader): number {
  const b = r.bytesN(4);
  return (
    ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16)) +
    (b[3] as number) * 0x1000000
  );
}

function requireZero(r: Reader, n: number, what: string): void {
  const at = r.offset;
  const b = r.bytesN(n);
  for (let i = 0; i < n; i++) {
    if (b[i] !== 0) {
      r.fail(
        `${what} must be zero (byte ${at + i} is 0x${(b[i] as number).toString(16)})`,
        TpmErrorCode.BadValue,
      );
    }
  }
}

function readSelections(r: Reader): TpmsPcrSelection[] {
  return r.field('TPML_PCR_SELECTION', () => {
    const count = r.field('count', () => u32le(r));
    if (count > NUM_PCR_BANKS)
      r.fail(`count ${count} exceeds ${NUM_PCR_BANKS}`, TpmErrorCode.BadValue);
    const out: TpmsPcrSelection[] = [];
    for (let i = 0; i < NUM_PCR_BANKS; i++) {
      r.field(`pcrSelections[${i}]`, () => {
        if (i >= count) {
          requireZero(r, SLOT_SIZE, 'unused selection slot');
          return;
        }
        const hash = r.field('hash', () => u16le(r));
        const size = r.field('sizeofSelect', () => r.u8());
        if (size !== 0 && size !== BLOB_SIZEOF_SELECT) {
          r.fail(`sizeofSelect must be 0 or 3 but it is ${size}`, TpmErrorCode.BadValue);
        }
        const pcrSelect = r.field('pcrSelect', () => r.bytesN(size));
        r.field('padding', () => requireZero(r, SELECT_BYTES - size + 1, 'selection padding'));
        out.push({ hash, pcrSelect });
      });
    }
    return out;
  });
}

function readDigestList(r: Reader): Uint8Array[] {
  const count = r.field('count', () => u32le(r));
  if (count > MAX_PCR_DIGESTS)
    r.fail(`count ${count} exceeds ${MAX_PCR_DIGESTS}`, TpmErrorCode.BadValue);
  const out: Uint8Array[] = [];
  for (let i = 0; i < MAX_PCR_DIGESTS; i++) {
    r.field(`digests[${i}]`, () => {
      const size = r.field('size', () => u16le(r));
      if (i >= count) {
        if (size !== 0) r.fail('unused digest slot has a size', TpmErrorCode.BadValue);
        requireZero(r, MAX_DIGEST_SIZE, 'unused digest slot');
        return;
      }
      if (size === 0 || size > MAX_DIGEST_SIZE)
        r.fail(`digest size ${size} out of range`, TpmErrorCode.BadValue);
      out.push(r.field('buffer', () => r.bytesN(size)));
      r.field('padding', () => requireZero(r, MAX_DIGEST_SIZE - size, 'digest padding'));
    });
  }
  return out;
}

/** Reads the blob (the whole input; see decodePcrBlob). */
export function readPcrBlob(r: Reader): PcrBlob {
  return r.field('pcrblob', () => {
    const selections = readSelections(r);
    const n = r.field('digestListCount', () => u32le(r));
    // Bound n by the input so a forged count cannot make us loop: each list is 532 bytes.
    if (n * PCR_BLOB_DIGEST_LIST_SIZE > r.remaining) {
      r.fail(
        `${n} digest lists need ${n * PCR_BLOB_DIGEST_LIST_SIZE} bytes, ${r.remaining} left`,
        DecodeErrorCode.Truncated,
      );
    }
    const digests: TpmlDigest[] = [];
    for (let i = 0; i < n; i++) digests.push(r.field(`TPML_DIGEST[${i}]`, () => readDigestList(r)));
    return { selections, digests };
  });
}

/** Decodes a complete PCR blob; trailing bytes are an error (upstream: "Failed to parse the entire pcrblob"). */
export function decodePcrBlob(bytes: Uint8Array): PcrBlob {
  return decodeAll(bytes, readPcrBlob);
}

function u16leBytes(w: Writer, v: number): void {
  w.u8(v & 0xff).u8((v >>> 8) & 0xff);
}

function u32leBytes(w: Writer, v: number): void {
  w.u8(v & 0xff)
    .u8((v >>> 8) & 0xff)
    .u8((v >>> 16) & 0xff)
    .u8((v >>> 24) & 0xff);
}

/** Encodes a PCR blob exactly as tpm2-tools and rust-keylime lay it out. */
export function encodePcrBlob(blob: PcrBlob): Uint8Array {
  const { selections, digests } = blob;
  if (selections.length > NUM_PCR_BANKS) throw tpmError(TpmErrorCode.Encode, 'too many selections');
  const w = new Writer(PCR_BLOB_SELECTION_SIZE + 4 + digests.length * PCR_BLOB_DIGEST_LIST_SIZE);
  u32leBytes(w, selections.length);
  for (let i = 0; i < NUM_PCR_BANKS; i++) {
    const s = selections[i];
    if (s === undefined) {
      w.bytes(new Uint8Array(SLOT_SIZE));
      continue;
    }
    if (s.pcrSelect.length !== 0 && s.pcrSelect.length !== BLOB_SIZEOF_SELECT) {
      throw tpmError(TpmErrorCode.Encode, 'PCR blob selections must have sizeofSelect 0 or 3');
    }
    u16leBytes(w, s.hash);
    w.u8(s.pcrSelect.length)
      .bytes(s.pcrSelect)
      .bytes(new Uint8Array(SELECT_BYTES - s.pcrSelect.length + 1));
  }
  u32leBytes(w, digests.length);
  for (const list of digests) {
    if (list.length > MAX_PCR_DIGESTS)
      throw tpmError(TpmErrorCode.Encode, 'more than 8 digests in a list');
    u32leBytes(w, list.length);
    for (let i = 0; i < MAX_PCR_DIGESTS; i++) {
      const d = list[i] ?? new Uint8Array(0);
      if (d.length > MAX_DIGEST_SIZE)
        throw tpmError(TpmErrorCode.Encode, 'digest longer than 64 bytes');
      u16leBytes(w, d.length);
      w.bytes(d).bytes(new Uint8Array(MAX_DIGEST_SIZE - d.length));
    }
  }
  return w.finish();
}

/** Builds a blob from selections and the PCR values in selection order, 8 values per digest list. */
export function pcrBlobFromValues(
  selections: TpmlPcrSelection,
  values: readonly Uint8Array[],
): PcrBlob {
  const digests: Uint8Array[][] = [];
  for (let i = 0; i < values.length; i += MAX_PCR_DIGESTS)
    digests.push(values.slice(i, i + MAX_PCR_DIGESTS));
  return { selections, digests };
}

/**
 * Attributes the blob's values to (bank, PCR) in selection order: slot by slot, PCRs ascending, values
 * taken sequentially across the digest lists. Every value must be used and have its bank's digest size.
 */
export function pcrBlobValues(blob: PcrBlob): PcrBlobValue[] {
  const values: Uint8Array[] = [];
  for (const list of blob.digests) for (const d of list) values.push(d);
  const out: PcrBlobValue[] = [];
  let idx = 0;
  for (const sel of blob.selections) {
    const size = tpmDigestSize(sel.hash);
    for (const pcr of selectedPcrs(sel)) {
      const value = values[idx++];
      if (value === undefined) {
        throw tpmError(TpmErrorCode.BadValue, `PCR blob has fewer values than selected PCRs`, {
          at: idx - 1,
        });
      }
      if (size === undefined) {
        throw tpmError(
          TpmErrorCode.Unsupported,
          `PCR bank 0x${sel.hash.toString(16)} is not supported`,
        );
      }
      if (value.length !== size) {
        throw tpmError(
          TpmErrorCode.BadValue,
          `PCR ${pcr} value has ${value.length} bytes, bank needs ${size}`,
        );
      }
      out.push({ hash: sel.hash, pcr, value });
    }
  }
  if (idx !== values.length) {
    throw tpmError(
      TpmErrorCode.BadValue,
      `PCR blob has ${values.length} values for ${idx} selected PCRs`,
    );
  }
  return out;
}
