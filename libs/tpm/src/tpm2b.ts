/**
 * @module tpm2b: the sized-buffer wrapper that keeps parsed value and raw bytes together (style B4).
 * Signatures and Names are computed over `bytes` exactly as received, never over a re-marshalled value.
 */
import type { Reader } from '@keylime/core';

/** A TPM2B_* holding a structure: the decoded value and the bytes inside the size prefix. */
export interface Tpm2b<T> {
  readonly value: T;
  /** The structure bytes as received (without the u16 size prefix). */
  readonly bytes: Uint8Array;
}

/** Reads `u16 size ‖ structure`, decoding the structure with `fn` and requiring it to fill `size`. */
export function readSized<T>(r: Reader, fn: (inner: Reader) => T, allowEmpty = false): Tpm2b<T> {
  const size = r.field('size', () => r.u16());
  if (size === 0 && !allowEmpty) r.fail('empty sized structure');
  const inner = r.sub(size);
  const value = fn(inner);
  inner.end();
  return { value, bytes: inner.bytes };
}
