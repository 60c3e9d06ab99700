/** @module der: the DER this library writes (an EC SPKI, an ECDSA signature). */
import { concatBytes } from '@keylime/core';

/** Bytes of a DER definite length: short form, 0x81 or 0x82 (contents below 64 KiB). */
export function derLengthSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : 3;
}

/** Writes the definite length `n` at `at`; returns the offset after it. */
export function writeDerLength(out: Uint8Array, at: number, n: number): number {
  if (n < 0x80) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0x81;
    out[at + 1] = n;
    return at + 2;
  }
  out[at] = 0x82;
  out[at + 1] = n >> 8;
  out[at + 2] = n & 0xff;
  return at + 3;
}

/** One DER TLV: `tag`, definite length, the concatenated body. */
export function der(tag: number, ...body: Uint8Array[]): Uint8Array {
  const content = concatBytes(...body);
  const out = new Uint8Array(1 + derLengthSize(content.length) + content.length);
  out[0] = tag;
  out.set(content, writeDerLength(out, 1, content.length));
  return out;
}
