import { DecodeError } from './errors';
import { Reader, Writer, decodeAll, concatBytes, DecodeErrorCode } from './bytes';

describe('Reader/Writer', () => {
  it('round-trips every integer width big-endian', () => {
    const w = new Writer(1);
    w.u8(0xab)
      .u16(0xbeef)
      .u32(0xdeadbeef)
      .u64(0x0102030405060708n)
      .sized16(new Uint8Array([9, 8]));
    const bytes = w.finish();
    expect(Buffer.from(bytes).toString('hex')).toBe('abbeefdeadbeef010203040506070800020908');
    const r = new Reader(bytes);
    expect(r.u8()).toBe(0xab);
    expect(r.u16()).toBe(0xbeef);
    expect(r.u32()).toBe(0xdeadbeef);
    expect(r.u64()).toBe(0x0102030405060708n);
    expect([...r.sized16()]).toEqual([9, 8]);
    expect(() => r.end()).not.toThrow();
  });

  it('reports truncation as a DecodeError with offset and field path', () => {
    const r = new Reader(new Uint8Array([0, 1, 2]), 10);
    r.u16();
    let caught: unknown;
    try {
      r.field('TPMS_ATTEST', () => r.field('magic', () => r.u32()));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    const err = caught as DecodeError;
    expect(err.code).toBe(DecodeErrorCode.Truncated);
    expect(err.offset).toBe(12);
    expect(err.field).toBe('TPMS_ATTEST.magic');
  });

  it('rejects trailing bytes', () => {
    expect(() => decodeAll(new Uint8Array([1, 2]), (r) => r.u8())).toThrow(/trailing/);
  });

  it('enforces sized-buffer maxima', () => {
    const bytes = new Writer().sized16(new Uint8Array(10)).finish();
    expect(() => new Reader(bytes).sized16(4)).toThrow(/exceeds maximum 4/);
  });

  it('sub-readers report absolute offsets', () => {
    const r = new Reader(new Uint8Array([0, 0, 0, 1]));
    r.u16();
    const s = r.sub(2);
    s.u16();
    expect(() => s.u8()).toThrow(/offset 4/);
  });

  it('concatenates', () => {
    expect([
      ...concatBytes(new Uint8Array([1]), new Uint8Array([]), new Uint8Array([2, 3])),
    ]).toEqual([1, 2, 3]);
  });
});
