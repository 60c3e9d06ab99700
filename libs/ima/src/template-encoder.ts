/**
 * @module template-encoder: a growable scratch buffer that builds IMA template data (spec
 * verifier.md §4.2) without allocating per entry. A view returned by `data()` is only valid
 * until the next `reset()`.
 */

const INITIAL_CAPACITY = 4096;

/** ASCII code → hex digit value, -1 elsewhere; bit 0x10 marks an upper-case digit (A-F). */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[0x41 + i] = 0x10 | (10 + i);
  HEX_VALUE[0x61 + i] = 10 + i;
}
const UPPER_BIT = 0x10;

/** Up to this length a JS loop writes ASCII faster than a call into Buffer#write. */
const ASCII_LOOP_MAX = 48;

export class TemplateEncoder {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private len = 0;
  /** Whether the last successful `hex()` input had an upper-case digit (spares callers a regex). */
  hexHadUpper = false;

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
    this.patchU32le(this.len, value);
    this.len += 4;
  }

  /** Overwrites a u32le written earlier at `offset` (plain stores: cheaper than writeUInt32LE's checks). */
  patchU32le(offset: number, value: number): void {
    const buf = this.buf;
    buf[offset] = value & 0xff;
    buf[offset + 1] = (value >>> 8) & 0xff;
    buf[offset + 2] = (value >>> 16) & 0xff;
    buf[offset + 3] = (value >>> 24) & 0xff;
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
    if (text.length <= ASCII_LOOP_MAX) {
      const buf = this.buf;
      const base = this.len;
      let i = 0;
      for (; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) break;
        buf[base + i] = c;
      }
      if (i === text.length) {
        this.len += i;
        return i;
      }
      // Non-ASCII: Buffer#write below rewrites the whole text as UTF-8.
    }
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
    let seen = 0;
    for (let i = 0; i < want; i++) {
      const hi = HEX_VALUE[hex.charCodeAt(2 * i)] ?? -1;
      const lo = HEX_VALUE[hex.charCodeAt(2 * i + 1)] ?? -1;
      if ((hi | lo) < 0) return -1;
      seen |= hi | lo;
      buf[base + i] = ((hi & 0xf) << 4) | (lo & 0xf);
    }
    this.len += want;
    this.hexHadUpper = (seen & UPPER_BIT) !== 0;
    return want;
  }

  /** Copy of the bytes in [from, to). */
  copy(from: number, to: number): Buffer {
    return Buffer.from(this.buf.subarray(from, to));
  }
}
