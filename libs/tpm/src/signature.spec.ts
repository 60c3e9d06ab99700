/** @module signature.spec: the ECDSA (r, s) → DER encoder the verifier hands to crypto.verify. */
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { hex, toHexStr } from '../tests/fixtures';
import { TpmAlg } from './constants';
import { TpmErrorCode } from './errors';
import { ecdsaSignatureToDer, ecdsaSignatureToP1363 } from './signature';
import type { TpmtSignatureEcdsa } from './signature';

function ecdsa(r: Uint8Array | string, s: Uint8Array | string): TpmtSignatureEcdsa {
  return {
    sigAlg: TpmAlg.Ecdsa,
    hash: TpmAlg.Sha256,
    signatureR: typeof r === 'string' ? hex(r) : r,
    signatureS: typeof s === 'string' ? hex(s) : s,
  };
}

function der(r: string, s: string, size: number): string {
  return toHexStr(ecdsaSignatureToDer(ecdsa(r, s), size));
}

/** r and s of a DER ECDSA-Sig-Value (as OpenSSL writes it), each left-padded to `size` bytes. */
function parseDer(sig: Uint8Array, size: number): [Uint8Array, Uint8Array] {
  let at = 0;
  const byte = (): number => sig[at++] as number;
  const length = (): number => {
    const first = byte();
    if (first < 0x80) return first;
    let len = 0;
    for (let n = first & 0x7f; n > 0; n--) len = (len << 8) | byte();
    return len;
  };
  expect(byte()).toBe(0x30);
  expect(length()).toBe(sig.length - at);
  const integer = (): Uint8Array => {
    expect(byte()).toBe(0x02);
    const len = length();
    const v = sig.subarray(at, at + len);
    at += len;
    const out = new Uint8Array(size);
    const stripped = v[0] === 0 ? v.subarray(1) : v;
    out.set(stripped, size - stripped.length);
    return out;
  };
  return [integer(), integer()];
}

describe('ecdsaSignatureToDer', () => {
  it('writes minimal INTEGERs: leading zero bytes stripped, 0x00 added before a set high bit', () => {
    // r = 0x00ff01 → ff01 has its high bit set → 00 ff 01; s = 02.
    expect(der('00ff01', '02', 4)).toBe('3008' + '020300ff01' + '020102');
    // Leading zeros stripped, high bit clear: no pad.
    expect(der('0000017f', '7f', 4)).toBe('3007' + '0202017f' + '02017f');
    // A single 0x80 byte needs the pad; 0x0080 is the same value.
    expect(der('80', '0080', 4)).toBe('3008' + '02020080' + '02020080');
    // Full-size P-256 values with and without the high bit.
    const r = 'ff'.repeat(32);
    const s = '7f' + '00'.repeat(31);
    expect(der(r, s, 32)).toBe('3045' + '022100' + r + '0220' + s);
    // The same r with TPM-style extra leading zeros (beyond the curve size) encodes identically.
    expect(der('0000' + r, s, 32)).toBe(der(r, s, 32));
  });

  it('uses the long-form sequence length once the body exceeds 127 bytes (P-521)', () => {
    // 66-byte r and s, top byte 0x01 (r, s < n < 2^521): body 2 × (2 + 66) = 136 = 0x88.
    const r = '01' + 'ab'.repeat(65);
    const s = '01' + '23'.repeat(65);
    expect(der(r, s, 66)).toBe('308188' + '0242' + r + '0242' + s);
    // Leading zero of a 66-byte s stripped, then 0x80… padded: still 66 content bytes.
    const s2 = '00' + '80'.repeat(65);
    expect(der(r, s2, 66)).toBe('308188' + '0242' + r + '0242' + '00' + '80'.repeat(65));
    // Short r: total below 128 again → short form.
    expect(der('01', '02', 66)).toBe('3006020101020102');
    // Largest case: 67-byte INTEGERs (high bit set), body 138 = 0x8a.
    const ff = 'ff'.repeat(66);
    expect(der(ff, ff, 66)).toBe('30818a' + '024300' + ff + '024300' + ff);
    // Body of exactly 127 (short) and 128 (0x81) bytes: 2+61 + 2+62 and 2+62 + 2+62.
    const a = '11'.repeat(61);
    const b = '22'.repeat(62);
    expect(der(a, b, 66)).toBe('307f' + '023d' + a + '023e' + b);
    expect(der(b, b, 66)).toBe('308180' + '023e' + b + '023e' + b);
    // Beyond any TPM curve: a body of 256+ bytes takes 0x82 and two length bytes.
    const big = '7f'.repeat(200);
    expect(der(big, big, 200)).toBe('30820196' + '0281c8' + big + '0281c8' + big);
  });

  it('rejects r or s that is empty, zero, or longer than the curve size as a bad value', () => {
    const one = '01';
    for (const [r, s, message] of [
      ['', one, /ECDSA r is zero/],
      [one, '', /ECDSA s is zero/],
      ['00', one, /ECDSA r is zero/],
      [one, '00'.repeat(32), /ECDSA s is zero/],
      ['01' + '00'.repeat(32), one, /ECDSA r of 33 bytes exceeds the curve size 32/],
      [one, 'ff'.repeat(67), /ECDSA s of 67 bytes exceeds the curve size 32/],
    ] as const) {
      expect(() => der(r, s, 32)).toThrow(message);
      expect(() => der(r, s, 32)).toThrow(expect.objectContaining({ code: TpmErrorCode.BadValue }));
    }
    // 33 bytes with a leading zero is a 32-byte value: accepted.
    expect(der('00' + 'ff'.repeat(32), one, 32)).toBe('3026022100' + 'ff'.repeat(32) + '020101');
  });

  it.each([
    ['P-256', 32],
    ['P-384', 48],
    ['P-521', 66],
  ] as const)(
    'agrees with OpenSSL on %s: converted P1363 signatures verify, DER bytes match',
    (curve, size) => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      let padded = 0;
      let stripped = 0;
      for (let i = 0; i < 64; i++) {
        const msg = Buffer.from(`quote ${curve} ${i}`);
        // TPM-style (r, s): the P1363 halves, always the full curve size.
        const rs = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
        const tpm = ecdsa(rs.subarray(0, size), rs.subarray(size));
        const mine = ecdsaSignatureToDer(tpm, size);
        expect(verify('sha256', msg, publicKey, mine)).toBe(true);
        expect(ecdsaSignatureToP1363(tpm, size)).toEqual(new Uint8Array(rs));
        // OpenSSL's own DER for a fresh signature: our encoding of its (r, s) is byte-identical.
        const ref = new Uint8Array(sign('sha256', msg, privateKey));
        const [r, s] = parseDer(ref, size);
        expect(toHexStr(ecdsaSignatureToDer(ecdsa(r, s), size))).toBe(toHexStr(ref));
        if ((r[0] as number) >= 0x80 || (s[0] as number) >= 0x80) padded++;
        if (r[0] === 0 || s[0] === 0) stripped++;
        // A flipped bit in s no longer verifies.
        const badS = Uint8Array.from(tpm.signatureS);
        badS[size - 1] = (badS[size - 1] as number) ^ 1;
        const bad = ecdsaSignatureToDer(ecdsa(tpm.signatureR, badS), size);
        expect(verify('sha256', msg, publicKey, bad)).toBe(false);
      }
      // P-256/P-384: r or s has its high bit set (0x00 pad) in ≈3/4 of signatures. P-521: values
      // below 2^521 have a top byte of 0 or 1, so about half of them lose a leading zero byte.
      expect(size === 66 ? stripped : padded).toBeGreaterThan(0);
    },
  );
});
