/**
 * @module pcr-blob-scan: a fast, allocation-light validator for the tpm2-tools PCR blob used on the
 * verifier's hot path. It accepts exactly what decodePcrBlob + pcrBlobValues accept (a property test
 * checks this); on anything else it returns undefined and the caller re-runs the strict decoder, which
 * then reports the offset and field of the problem.
 */
import { MAX_DIGEST_SIZE, MAX_PCR_DIGESTS, NUM_PCR_BANKS } from './constants';
import { tpmDigestSize } from './hash';
import { PCR_BLOB_DIGEST_LIST_SIZE, PCR_BLOB_SELECTION_SIZE } from './pcr-blob';
import type { PcrBlobValue } from './pcr-blob';
import type { TpmsPcrSelection } from './pcr-selection';

/** What the scan yields: the selection and the attributed values (views into the input). */
export interface ScannedPcrBlob {
  readonly selections: TpmsPcrSelection[];
  readonly values: PcrBlobValue[];
}

function le32(b: Uint8Array, o: number): number {
  return (
    ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16)) +
    (b[o + 3] as number) * 0x1000000
  );
}

/**
 * True when b[from, to) is all zero. Reads 8 bytes per step through `view` (a DataView over `b`), in
 * native byte order, and ORs instead of branching per word: the blob is mostly zero padding.
 */
function zero(b: Uint8Array, view: DataView, from: number, to: number): boolean {
  let acc = 0;
  let i = from;
  for (; i + 8 <= to; i += 8) acc |= view.getInt32(i, true) | view.getInt32(i + 4, true);
  for (; i < to; i++) acc |= b[i] as number;
  return acc === 0;
}

/**
 * The hot path's view of a scanned blob, without per-value objects or views: `selection` is the set of
 * selected PCRs as [bank, bitmap, …] pairs (banks merged, empty bitmaps dropped); `values` holds
 * [bank, pcr, offset, size] per attributed value, in blob order, offsets into the scanned bytes.
 */
export interface PcrBlobLayout {
  readonly selection: number[];
  readonly values: number[];
}

/** Digest count of TPML_DIGEST number `list`, or -1 when it exceeds the 8 slots. */
function listCount(b: Uint8Array, list: number): number {
  const n = le32(b, PCR_BLOB_SELECTION_SIZE + 4 + list * PCR_BLOB_DIGEST_LIST_SIZE);
  return n > MAX_PCR_DIGESTS ? -1 : n;
}

/** Offset of digest slot `j` (its u16 size) in TPML_DIGEST number `list`. */
function digestSlot(list: number, j: number): number {
  return PCR_BLOB_SELECTION_SIZE + 8 + list * PCR_BLOB_DIGEST_LIST_SIZE + j * (2 + MAX_DIGEST_SIZE);
}

/** Validates and attributes a PCR blob in one pass; undefined when the strict decoder must decide. */
export function scanPcrBlobLayout(b: Uint8Array): PcrBlobLayout | undefined {
  const len = b.length;
  if (len < PCR_BLOB_SELECTION_SIZE + 4) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, len);
  const count = le32(b, 0);
  if (count > NUM_PCR_BANKS) return undefined;
  const lists = le32(b, PCR_BLOB_SELECTION_SIZE);
  if (PCR_BLOB_SELECTION_SIZE + 4 + lists * PCR_BLOB_DIGEST_LIST_SIZE !== len) return undefined;
  const selection: number[] = [];
  const values: number[] = [];
  let list = 0;
  let slot = 0;
  let inList = lists > 0 ? listCount(b, 0) : 0;
  if (inList < 0) return undefined;
  for (let i = 0; i < NUM_PCR_BANKS; i++) {
    const o = 4 + i * 8;
    if (i >= count) {
      if (!zero(b, view, o, o + 8)) return undefined;
      continue;
    }
    const size = b[o + 2] as number;
    if ((size !== 0 && size !== 3) || !zero(b, view, o + 3 + size, o + 8)) return undefined;
    if (size === 0) continue;
    const bank = (b[o] as number) | ((b[o + 1] as number) << 8);
    const bits = (b[o + 3] as number) | ((b[o + 4] as number) << 8) | ((b[o + 5] as number) << 16);
    if (bits === 0) continue;
    const want = tpmDigestSize(bank);
    if (want === undefined) return undefined;
    let at = -1;
    for (let j = 0; j < selection.length; j += 2) if (selection[j] === bank) at = j;
    if (at >= 0) selection[at + 1] = (selection[at + 1] as number) | bits;
    else selection.push(bank, bits);
    for (let pcr = 0; pcr < 24; pcr++) {
      if ((bits & (1 << pcr)) === 0) continue;
      // The next used digest slot, moving on to the next list when this one is exhausted.
      while (slot >= inList) {
        list++;
        if (list >= lists) return undefined;
        inList = listCount(b, list);
        if (inList < 0) return undefined;
        slot = 0;
      }
      const so = digestSlot(list, slot);
      if (((b[so] as number) | ((b[so + 1] as number) << 8)) !== want) return undefined;
      values.push(bank, pcr, so + 2, want);
      slot++;
    }
  }
  // Every used digest slot must have been attributed; unused slots and all padding must be zero.
  let used = 0;
  for (let l = 0; l < lists; l++) {
    const n = listCount(b, l);
    if (n < 0) return undefined;
    used += n;
    for (let j = 0; j < MAX_PCR_DIGESTS; j++) {
      const so = digestSlot(l, j);
      const size = j < n ? (b[so] as number) | ((b[so + 1] as number) << 8) : 0;
      if (j >= n && (b[so] !== 0 || b[so + 1] !== 0)) return undefined;
      if (!zero(b, view, so + 2 + size, so + 2 + MAX_DIGEST_SIZE)) return undefined;
    }
  }
  if (used * 4 !== values.length) return undefined;
  return { selection, values };
}

/** The layout as selection and value objects (views into the input); undefined as for the layout. */
export function scanPcrBlob(b: Uint8Array): ScannedPcrBlob | undefined {
  const layout = scanPcrBlobLayout(b);
  if (layout === undefined) return undefined;
  const selections: TpmsPcrSelection[] = [];
  const count = le32(b, 0);
  for (let i = 0; i < count; i++) {
    const o = 4 + i * 8;
    selections.push({
      hash: (b[o] as number) | ((b[o + 1] as number) << 8),
      pcrSelect: b.subarray(o + 3, o + 3 + (b[o + 2] as number)),
    });
  }
  const values: PcrBlobValue[] = [];
  const v = layout.values;
  for (let k = 0; k < v.length; k += 4) {
    const at = v[k + 2] as number;
    values.push({
      hash: v[k] as number,
      pcr: v[k + 1] as number,
      value: b.subarray(at, at + (v[k + 3] as number)),
    });
  }
  return { selections, values };
}
