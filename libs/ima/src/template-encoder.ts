/**
 * @module template-encoder: a growable scratch buffer that builds IMA template data (spec
 * verifier.md §4.2) without allocating per entry. A view returned by `data()` is only valid
 * until the next `reset()`.
 */

const INITIAL_CAPACITY = 4096;

/** ASCII code → hex digit value, -1 elsewhere. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 10 + i;
  HEX_VALUE[0x61 + i] = 10 + i;
}

export class TemplateEncoder {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private len = 0;

  reset(): void {
    this.len = 0;
  }

  get length(): number {
    return this.len;
  }

  /** View of the bytes written since `reset()`; valid until the next write or reset. */
  data(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** Current write offset, for fields whose length is patched in afterwards. */
  mark(): number {
    return this.len;
  }

  private ensure(extra: number): void {
    const need = this.len + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u32le(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.len);
    this.len += 4;
  }

  /** Overwrites a u32le written earlier at `offset`. */
  patchU32le(offset: number, value: number): void {
    this.buf.writeUInt32LE(value >>> 0, offset);
  }

  byte(value: number): void {
    this.ensure(1);
    this.buf[this.len++] = value & 0xff;
  }

  zeros(count: number): void {
    this.ensure(count);
    this.buf.fill(0, this.len, this.len + count);
    this.len += count;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  /** ASCII/UTF-8 text; returns the number of bytes written. */
  utf8(text: string): number {
    // A UTF-16 code unit needs at most 3 UTF-8 bytes.
    this.ensure(text.length * 3);
    const n = this.buf.write(text, this.len, 'utf8');
    this.len += n;
    return n;
  }

  /**
   * Decodes strict hex (either case, even length) into the buffer. Returns the byte count, or
   * -1 (and writes nothing) if `hex` is not valid hex.
   */
  hex(hex: string): number {
    if ((hex.length & 1) !== 0) return -1;
    const want = hex.length >>> 1;
    this.ensure(want);
    // A table-driven loop beats Buffer#write(hex) for digest-sized inputs and validates as it goes.
    const buf = this.buf;
    const base = this.len;
    for (let i = 0; i < want; i++) {
      const hi = HEX_VALUE[hex.charCodeAt(2 * i)] ?? -1;
      const lo = HEX_VALUE[hex.charCodeAt(2 * i + 1)] ?? -1;
      if ((hi | lo) < 0) return -1;
      buf[base + i] = (hi << 4) | lo;
    }
    this.len += want;
    return want;
  }

  /** Copy of the bytes in [from, to). */
  copy(from: number, to: number): Buffer {
    return Buffer.from(this.buf.subarray(from, to));
  }
}
