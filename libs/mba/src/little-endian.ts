/** @module little-endian: little-endian reads over the core Reader (event logs are LE, TPM wire is BE). */
import type { Reader } from '@keylime/core';

/** Unsigned 16-bit little-endian. */
export function u16le(r: Reader): number {
  const b = r.bytesN(2);
  return (b[0] as number) | ((b[1] as number) << 8);
}

/** Unsigned 32-bit little-endian. */
export function u32le(r: Reader): number {
  return leNumber(r.bytesN(4));
}

/** Unsigned 64-bit little-endian as bigint (addresses and LBAs may exceed 2^53). */
export function u64le(r: Reader): bigint {
  const b = r.bytesN(8);
  return (BigInt(leNumber(b.subarray(4, 8))) << 32n) | BigInt(leNumber(b.subarray(0, 4)));
}

/** A 64-bit length that must fit the remaining input; bounded so it is a safe number. */
export function u64leLength(r: Reader, what: string): number {
  const v = u64le(r);
  if (v > BigInt(r.remaining)) r.fail(`${what} ${v} exceeds the ${r.remaining} byte(s) left`);
  return Number(v);
}

/** Unsigned 32-bit little-endian from a 4-byte array. */
export function leNumber(b: Uint8Array): number {
  return ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16)) + (b[3] as number) * 0x1000000;
}

/** An EFI_GUID (mixed endian) in canonical lowercase text, as tpm2-tools >= 5.2 prints it. */
export function guidText(b: Uint8Array): string {
  const h = (i: number): string => (b[i] as number).toString(16).padStart(2, '0');
  return (
    h(3) + h(2) + h(1) + h(0) + '-' + h(5) + h(4) + '-' + h(7) + h(6) + '-' + h(8) + h(9) + '-' +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15)
  );
}

/** Reads an EFI_GUID (16 bytes) and returns its canonical text. */
export function readGuid(r: Reader): string {
  return guidText(r.bytesN(16));
}

/** 64-bit value as tpm2_eventlog's YAML loads it: a number when exact, else "0x…" text. */
export function jsonU64(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`;
}
