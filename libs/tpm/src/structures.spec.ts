/** @module structures.spec: TPMS_ATTEST, TPMT_SIGNATURE, PCR selections, the PCR blob and the quote string codecs. */
import { DecodeError, Reader } from '@keylime/core';
import fc from 'fast-check';
import {
  dataFile,
  expectEveryTruncationFails,
  hex,
  specVectors,
  toHexStr,
  upstream,
} from '../tests/fixtures';
import { decodeTpmsAttest, encodeTpmsAttest, readTpmsAttest } from './attest';
import { TpmAlg, TpmSt } from './constants';
import { TpmErrorCode } from './errors';
import {
  decodePcrBlob,
  encodePcrBlob,
  pcrBlobFromValues,
  pcrBlobValues,
  readPcrBlob,
} from './pcr-blob';
import {
  decodeTpmlDigest,
  decodeTpmlPcrSelection,
  encodeTpmlDigest,
  encodeTpmlPcrSelection,
  pcrSelection,
  selectedPcrs,
} from './pcr-selection';
import { formatQuoteString, parseQuoteString } from './quote-string';
import {
  decodeTpmtSignature,
  ecdsaSignatureToP1363,
  encodeTpmtSignature,
  readTpmtSignature,
} from './signature';

const cq = upstream.checkquote;

function neverThrowsButDecodeError(read: (r: Reader) => unknown): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 800 }), (b) => {
      try {
        read(new Reader(b));
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
  );
}

describe('TPMS_ATTEST', () => {
  it('decodes the upstream quote (verifier §11.2)', () => {
    const a = decodeTpmsAttest(hex(cq.quoteblob));
    expect(a.type).toBe(TpmSt.AttestQuote);
    if (a.type !== TpmSt.AttestQuote) return;
    expect(Buffer.from(a.extraData).toString()).toBe(cq.nonce);
    expect(a.clockInfo).toEqual({ clock: 1284787942n, resetCount: 3, restartCount: 0, safe: 1 });
    expect(a.firmwareVersion).toBe(0x2019102300163636n);
    expect(a.qualifiedSigner.length).toBe(34);
    expect(a.attested.pcrSelect.map((s) => [s.hash, selectedPcrs(s)])).toEqual([
      [TpmAlg.Sha256, [16]],
    ]);
    expect(toHexStr(a.attested.pcrDigest)).toBe(cq.pcrDigest);
  });

  it('decodes tpm2-tools quote.out (PCRs 15, 16, 22)', () => {
    const a = decodeTpmsAttest(dataFile('upstream/quote.out'));
    if (a.type !== TpmSt.AttestQuote) throw new Error('not a quote');
    expect(a.extraData).toEqual(dataFile('upstream/rand.out'));
    expect(a.clockInfo.clock).toBe(BigInt(specVectors.quoteOut.clock));
    expect(selectedPcrs(a.attested.pcrSelect[0]!)).toEqual([15, 16, 22]);
  });

  it('round-trips quote and certify, rejects bad magic, other types, truncation, trailing bytes', () => {
    const q = hex(cq.quoteblob);
    expect(encodeTpmsAttest(decodeTpmsAttest(q))).toEqual(q);
    const certify = encodeTpmsAttest({
      type: TpmSt.AttestCertify,
      qualifiedSigner: hex('000b' + '11'.repeat(32)),
      extraData: hex('abcd'),
      clockInfo: { clock: 2n ** 63n + 5n, resetCount: 1, restartCount: 2, safe: 0 },
      firmwareVersion: 0xffffffffffffffffn,
      attested: {
        name: hex('000b' + '22'.repeat(32)),
        qualifiedName: hex('000b' + '33'.repeat(32)),
      },
    });
    const c = decodeTpmsAttest(certify);
    expect(c.type === TpmSt.AttestCertify && toHexStr(c.attested.name)).toBe(
      '000b' + '22'.repeat(32),
    );
    expect(c.firmwareVersion).toBe(0xffffffffffffffffn);
    expect(encodeTpmsAttest(c)).toEqual(certify);
    const bad = hex(cq.quoteblob);
    bad[0] = 0;
    expect(() => decodeTpmsAttest(bad)).toThrow(
      expect.objectContaining({ code: TpmErrorCode.BadMagic, offset: 4 }),
    );
    const time = hex(cq.quoteblob);
    time[5] = 0x19;
    expect(() => decodeTpmsAttest(time)).toThrow(
      expect.objectContaining({ code: TpmErrorCode.Unsupported }),
    );
    expectEveryTruncationFails(q, decodeTpmsAttest);
    expectEveryTruncationFails(certify, decodeTpmsAttest);
    expect(() => decodeTpmsAttest(new Uint8Array([...q, 0]))).toThrow(DecodeError);
    neverThrowsButDecodeError(readTpmsAttest);
  });
});

describe('TPMT_SIGNATURE', () => {
  it('decodes RSASSA, round-trips RSAPSS and ECDSA, and pads ECDSA to P1363', () => {
    const s = decodeTpmtSignature(hex(cq.sigblob));
    expect(s.sigAlg).toBe(TpmAlg.RsaSsa);
    expect(s.hash).toBe(TpmAlg.Sha256);
    expect(s.sigAlg !== TpmAlg.Ecdsa && s.sig.length).toBe(256);
    expect(toHexStr(encodeTpmtSignature(s))).toBe(cq.sigblob);
    const pss = encodeTpmtSignature({
      sigAlg: TpmAlg.RsaPss,
      hash: TpmAlg.Sha384,
      sig: hex('0102'),
    });
    expect(toHexStr(pss)).toBe('0016000c00020102');
    const ecdsa = {
      sigAlg: TpmAlg.Ecdsa,
      hash: TpmAlg.Sha256,
      signatureR: hex('00ff01'),
      signatureS: hex('02'),
    } as const;
    const bytes = encodeTpmtSignature(ecdsa);
    expect(decodeTpmtSignature(bytes)).toEqual(ecdsa);
    expect(toHexStr(ecdsaSignatureToP1363(ecdsa, 4))).toBe('0000ff0100000002');
    expect(() => ecdsaSignatureToP1363({ ...ecdsa, signatureR: hex('0101010101') }, 4)).toThrow(
      /exceeds/,
    );
    expectEveryTruncationFails(hex(cq.sigblob), decodeTpmtSignature);
    expectEveryTruncationFails(bytes, decodeTpmtSignature);
    expect(() => decodeTpmtSignature(hex('0005000b0000'))).toThrow(
      expect.objectContaining({ code: TpmErrorCode.Unsupported }),
    );
    neverThrowsButDecodeError(readTpmtSignature);
  });
});

describe('TPML_PCR_SELECTION / TPML_DIGEST', () => {
  it('round-trips and bounds counts', () => {
    const sel = [pcrSelection(TpmAlg.Sha1, [0, 7]), pcrSelection(TpmAlg.Sha256, [10, 16, 23])];
    const b = encodeTpmlPcrSelection(sel);
    expect(toHexStr(b)).toBe('00000002' + '000403810000' + '000b03000481');
    expect(decodeTpmlPcrSelection(b)).toEqual(sel);
    expectEveryTruncationFails(b, decodeTpmlPcrSelection);
    expect(() => decodeTpmlPcrSelection(hex('00000011'))).toThrow(/exceeds/);
    const d = [hex('aa'.repeat(32)), hex('bb'.repeat(20))];
    expect(decodeTpmlDigest(encodeTpmlDigest(d))).toEqual(d);
    expectEveryTruncationFails(encodeTpmlDigest(d), decodeTpmlDigest);
    expect(() => decodeTpmlDigest(hex('00000009'))).toThrow(/exceeds/);
    expect(() => pcrSelection(TpmAlg.Sha256, [24])).toThrow(
      expect.objectContaining({ code: TpmErrorCode.Encode }),
    );
  });
});

describe('PCR blob (tpm2-tools layout)', () => {
  it('decodes the upstream blobs and re-encodes them byte-exactly', () => {
    const blob = decodePcrBlob(hex(cq.pcrblob));
    expect(blob.selections.map((s) => [s.hash, selectedPcrs(s)])).toEqual([[TpmAlg.Sha256, [16]]]);
    expect(pcrBlobValues(blob).map((v) => [v.pcr, toHexStr(v.value)])).toEqual([
      [16, cq.pcrs['16']],
    ]);
    expect(toHexStr(encodePcrBlob(blob))).toBe(cq.pcrblob);
    const file = dataFile('upstream/quotepcr.out');
    const values = pcrBlobValues(decodePcrBlob(file));
    expect(Object.fromEntries(values.map((v) => [String(v.pcr), toHexStr(v.value)]))).toEqual(
      specVectors.quoteOut.pcrs,
    );
    expect(encodePcrBlob(decodePcrBlob(file))).toEqual(file);
  });

  it('splits more than 8 values into several digest lists (1200 bytes for 9 PCRs)', () => {
    const pcrs = [0, 1, 2, 3, 4, 5, 6, 7, 16];
    const values = pcrs.map((p) => new Uint8Array(32).fill(p));
    const bytes = encodePcrBlob(pcrBlobFromValues([pcrSelection(TpmAlg.Sha256, pcrs)], values));
    expect(bytes.length).toBe(1200);
    expect(pcrBlobValues(decodePcrBlob(bytes)).map((v) => v.pcr)).toEqual(pcrs);
  });

  it('rejects every single-byte change outside the values, truncation and trailing bytes', () => {
    const good = hex(cq.pcrblob);
    const valueStart = 132 + 4 + 4 + 2;
    for (let i = 0; i < good.length; i++) {
      if (i >= valueStart && i < valueStart + 32) continue; // the digest itself: caught by the quote's pcrDigest
      const bad = new Uint8Array(good);
      bad[i] = bad[i]! ^ 0x01;
      let ok = false;
      try {
        pcrBlobValues(decodePcrBlob(bad));
        ok = true;
      } catch {
        // expected
      }
      if (ok) throw new Error(`byte ${i} change accepted`);
    }
    expectEveryTruncationFails(good, decodePcrBlob);
    expect(() => decodePcrBlob(new Uint8Array([...good, 0]))).toThrow(DecodeError);
    neverThrowsButDecodeError(readPcrBlob);
  });
});

describe('quote string', () => {
  it('parses and formats r<attest>:<sig>:<pcrs>', () => {
    const s = `r${Buffer.from(hex(cq.quoteblob)).toString('base64')}:${Buffer.from(hex(cq.sigblob)).toString('base64')}:${Buffer.from(hex(cq.pcrblob)).toString('base64')}`;
    const parts = parseQuoteString(s);
    expect(toHexStr(parts.attest)).toBe(cq.quoteblob);
    expect(toHexStr(parts.pcrBlob)).toBe(cq.pcrblob);
    expect(formatQuoteString(parts)).toBe(s);
    for (const bad of [
      '',
      'x' + s.slice(1),
      s + ':AAAA',
      s.replace(/:/g, ';'),
      'r:AAAA:AAAA',
      s.replace('/', '*'),
      'rAA=A:AAAA:AAAA',
    ]) {
      expect(() => parseQuoteString(bad)).toThrow(
        expect.objectContaining({ code: TpmErrorCode.BadQuoteString }),
      );
    }
  });
});
