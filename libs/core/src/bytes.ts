/**
 * @module bytes: bounds-checked big-endian Reader and Writer, the basis of every binary codec.
 * A Reader never throws RangeError: running out of input is a DecodeError naming offset and field.
 */
import { DecodeError } from './errors';

export const DecodeErrorCode = {
  Truncated: 'KL_DECODE_TRUNCATED',
  TrailingBytes: 'KL_DECODE_TRAILING_BYTES',
  Invalid: 'KL_DECODE_INVALID',
} as const;

/** Reads big-endian integers and byte strings from a buffer, tracking a field path for errors. */
export class Reader {
  private pos = 0;
  private readonly path: string[] = [];

  constructor(
    readonly bytes: Uint8Array,
    /** Offset of `bytes[0]` in the outer input, so nested readers report absolute offsets. */
    private readonly base = 0,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Runs `fn` with `name` pushed on the field path, so errors say where they happened. */
  field<T>(name: string, fn: () => T): T {
    this.path.push(name);
    try {
      return fn();
    } finally {
      this.path.pop();
    }
  }

  /** The current field path, dotted. */
  where(): string {
    return this.path.join('.');
  }

  /** Throws a DecodeError at the current offset. */
  fail(message: string, code: string = DecodeErrorCode.Invalid): never {
    throw new DecodeError(code, message, this.base + this.pos, this.where());
  }

  private need(n: number): void {
    if (n > this.remaining) {
      this.fail(`truncated: need ${n} byte(s), ${this.remaining} left`, DecodeErrorCode.Truncated);
    }
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++] as number;
  }

  u16(): number {
    this.need(2);
    const b = this.bytes;
    const v = ((b[this.pos] as number) << 8) | (b[this.pos + 1] as number);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const b = this.bytes;
    const v =
      (b[this.pos] as number) * 0x1000000 +
      (((b[this.pos + 1] as number) << 16) |
        ((b[this.pos + 2] as number) << 8) |
        (b[this.pos + 3] as number));
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    const hi = BigInt(this.u32());
    const lo = BigInt(this.u32());
    return (hi << 32n) | lo;
  }

  /** `n` raw bytes (a view into the input, not a copy). */
  bytesN(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A TPM2B-style buffer: u16 length then that many bytes. `max` bounds the length. */
  sized16(max = 0xffff): Uint8Array {
    const n = this.u16();
    if (n > max) this.fail(`size ${n} exceeds maximum ${max}`);
    return this.bytesN(n);
  }

  /** A u32-length-prefixed buffer. */
  sized32(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) this.fail(`size ${n} exceeds maximum ${max}`);
    return this.bytesN(n);
  }

  /** A sub-reader over the next `n` bytes; offsets it reports stay absolute. */
  sub(n: number): Reader {
    const start = this.base + this.pos;
    const r = new Reader(this.bytesN(n), start);
    r.path.push(...this.path);
    return r;
  }

  /** Requires that all input was consumed. */
  end(): void {
    if (this.remaining !== 0) {
      this.fail(`${this.remaining} trailing byte(s)`, DecodeErrorCode.TrailingBytes);
    }
  }
}

/** Appends big-endian integers and byte strings; grows as needed. */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf[this.pos++] = (v >>> 24) & 0xff;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u64(v: bigint): this {
    this.u32(Number((v >> 32n) & 0xffffffffn));
    this.u32(Number(v & 0xffffffffn));
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** u16 length prefix then the bytes (TPM2B). */
  sized16(b: Uint8Array): this {
    if (b.length > 0xffff)
      throw new RangeError(`buffer of ${b.length} bytes does not fit a u16 size`);
    return this.u16(b.length).bytes(b);
  }

  /** Overwrites a u32 at `at` (used to patch a size field after writing the body). */
  patchU32(at: number, v: number): this {
    if (at + 4 > this.pos) throw new RangeError('patch outside written data');
    this.buf[at] = (v >>> 24) & 0xff;
    this.buf[at + 1] = (v >>> 16) & 0xff;
    this.buf[at + 2] = (v >>> 8) & 0xff;
    this.buf[at + 3] = v & 0xff;
    return this;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Decodes `bytes` with `fn` and requires that every byte was consumed. */
export function decodeAll<T>(bytes: Uint8Array, fn: (r: Reader) => T): T {
  const r = new Reader(bytes);
  const value = fn(r);
  r.end();
  return value;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte-wise equality; not constant time (use the crypto lib's timingSafeEqual for secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
