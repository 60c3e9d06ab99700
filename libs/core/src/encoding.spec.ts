import { fromBase64, fromHex, toBase64, toHex, isBase64 } from './encoding';

describe('strict encodings', () => {
  it('round-trips hex and base64', () => {
    const b = new Uint8Array([0, 1, 254, 255]);
    expect(toHex(b)).toBe('0001feff');
    expect([...fromHex('0001FEFF')]).toEqual([...b]);
    expect([...fromBase64(toBase64(b))]).toEqual([...b]);
  });

  it.each(['abc', 'zz', '0x00'])('rejects bad hex %p', (s) => {
    expect(() => fromHex(s, 'nonce')).toThrow('nonce is not valid hex');
  });

  it('accepts a 0x prefix only when asked', () => {
    expect([...fromHex('0x0a', 'mask', true)]).toEqual([10]);
  });

  it.each(['AAE', 'AA==AA==', 'AA E=', 'AA-_', 'A==='])('rejects bad base64 %p', (s) => {
    expect(isBase64(s)).toBe(false);
    expect(() => fromBase64(s)).toThrow(/base64/);
  });
});
