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

/** True when b[from, to) is all zero; reads 4 bytes at a time through `view` (a DataView over `b`). */
function zero(b: Uint8Array, view: DataView, from: number, to: number): boolean {
  let i = from;
  for (; i + 4 <= to; i += 4) if (view.getUint32(i) !== 0) return false;
  for (; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** Validates and attributes a PCR blob in one pass; undefined when the strict decoder must decide. */
export function scanPcrBlob(b: Uint8Array): ScannedPcrBlob | undefined {
  if (b.length < PCR_BLOB_SELECTION_SIZE + 4) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const count = le32(b, 0);
  if (count > NUM_PCR_BANKS) return undefined;
  const selections: TpmsPcrSelection[] = [];
  for (let i = 0; i < NUM_PCR_BANKS; i++) {
    const o = 4 + i * 8;
    if (i >= count) {
      if (!zero(b, view, o, o + 8)) return undefined;
      continue;
    }
    const size = b[o + 2] as number;
    if ((size !== 0 && size !== 3) || !zero(b, view, o + 3 + size, o + 8)) return undefined;
    selections.push({
      hash: (b[o] as number) | ((b[o + 1] as number) << 8),
      pcrSelect: b.subarray(o + 3, o + 3 + size),
    });
  }
  const lists = le32(b, PCR_BLOB_SELECTION_SIZE);
  if (PCR_BLOB_SELECTION_SIZE + 4 + lists * PCR_BLOB_DIGEST_LIST_SIZE !== b.length)
    return undefined;
  const offsets: number[] = [];
  const sizes: number[] = [];
  for (let l = 0; l < lists; l++) {
    const base = PCR_BLOB_SELECTION_SIZE + 4 + l * PCR_BLOB_DIGEST_LIST_SIZE;
    const n = le32(b, base);
    if (n > MAX_PCR_DIGESTS) return undefined;
    for (let j = 0; j < MAX_PCR_DIGESTS; j++) {
      const so = base + 4 + j * (2 + MAX_DIGEST_SIZE);
      const size = (b[so] as number) | ((b[so + 1] as number) << 8);
      if (j >= n ? size !== 0 : size === 0 || size > MAX_DIGEST_SIZE) return undefined;
      if (!zero(b, view, so + 2 + size, so + 2 + MAX_DIGEST_SIZE)) return undefined;
      if (j < n) {
        offsets.push(so + 2);
        sizes.push(size);
      }
    }
  }
  const values: PcrBlobValue[] = [];
  let idx = 0;
  for (const sel of selections) {
    const want = tpmDigestSize(sel.hash);
    const bits = sel.pcrSelect;
    for (let i = 0; i < bits.length; i++) {
      const byte = bits[i] as number;
      if (byte === 0) continue;
      for (let k = 0; k < 8; k++) {
        if ((byte & (1 << k)) === 0) continue;
        const at = offsets[idx];
        if (at === undefined || want === undefined || sizes[idx] !== want) return undefined;
        values.push({ hash: sel.hash, pcr: i * 8 + k, value: b.subarray(at, at + want) });
        idx++;
      }
    }
  }
  return idx === offsets.length ? { selections, values } : undefined;
}
