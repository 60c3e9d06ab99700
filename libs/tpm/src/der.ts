/** @module der: the DER TLVs this library writes (an EC SPKI). */
import { concatBytes } from '@keylime/core';

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  if (n < 0x100) return Uint8Array.of(0x81, n);
  return Uint8Array.of(0x82, n >> 8, n & 0xff);
}

/** One DER TLV: `tag`, definite length (short form, 0x81 or 0x82), the concatenated body. */
export function der(tag: number, ...body: Uint8Array[]): Uint8Array {
  const content = concatBytes(...body);
  return concatBytes(Uint8Array.of(tag), derLength(content.length), content);
}
