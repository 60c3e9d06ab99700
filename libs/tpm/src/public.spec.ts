/** @module public.spec: TPM2B_PUBLIC codec, Names and key conversion against upstream vectors and tpm2-tools files. */
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { DecodeError, Reader } from '@keylime/core';
import fc from 'fast-check';
import {
  dataFile,
  expectEveryTruncationFails,
  hex,
  textFile,
  toHexStr,
  upstream,
} from '../tests/fixtures';
import { AK_EXPECTED_ATTRIBUTES, tpmaObjectFromWord, tpmaObjectToWord } from './attributes';
import { TpmAlg, TpmEccCurve } from './constants';
import { TpmErrorCode } from './errors';
import {
  EK_LOW_TEMPLATE,
  ekCertificateMatches,
  publicKeysEqual,
  tpmPublicFromKeyObject,
  tpmPublicToKeyObject,
  tpmPublicToPem,
} from './keys';
import {
  decodeTpm2bPublic,
  decodeTpmtPublic,
  encodeTpm2bPublic,
  objectName,
  readTpm2bPublic,
} from './public';

describe('TPM2B_PUBLIC codec', () => {
  it('decodes upstream AK and computes its Name (tpm2_objects_test)', () => {
    const pub = decodeTpm2bPublic(hex(upstream.akName.tpm2bPublic));
    expect(pub.value.type).toBe(TpmAlg.Rsa);
    expect(pub.value.nameAlg).toBe(TpmAlg.Sha256);
    expect(tpmaObjectToWord(pub.value.objectAttributes)).toBe(upstream.akName.attributes);
    expect(pub.value.objectAttributes.restricted && pub.value.objectAttributes.sign).toBe(true);
    expect(toHexStr(objectName(pub))).toBe(upstream.akName.name);
  });

  it('matches tpm2-tools ak.pub / ak.name / akpub.pem', () => {
    const pub = decodeTpm2bPublic(dataFile('upstream/ak.pub'));
    expect(toHexStr(objectName(pub))).toBe(toHexStr(dataFile('upstream/ak.name')));
    const expected = createPublicKey(textFile('upstream/akpub.pem'));
    expect(publicKeysEqual(tpmPublicToKeyObject(pub.value), expected)).toBe(true);
    expect(tpmPublicToPem(pub.value)).toBe(
      expected.export({ format: 'pem', type: 'spki' }).toString(),
    );
  });

  it('decodes EK low-range RSA and ECC templates, matches their certificates, and rebuilds them', () => {
    for (const v of [upstream.ekLowRsa, upstream.ekLowEcc]) {
      const bytes = hex(v.tpm2bPublic);
      const pub = decodeTpm2bPublic(bytes);
      const cert = new X509Certificate(Buffer.from(v.certDer, 'hex'));
      expect(ekCertificateMatches(cert, pub.value)).toBe(true);
      expect(ekCertificateMatches(cert.publicKey, pub.value)).toBe(true);
      const rebuilt = tpmPublicFromKeyObject(cert.publicKey, EK_LOW_TEMPLATE);
      expect(toHexStr(encodeTpm2bPublic(rebuilt))).toBe(v.tpm2bPublic);
      expect(pub.value.parameters.symmetric).toEqual({
        algorithm: TpmAlg.Aes,
        keyBits: 128,
        mode: TpmAlg.Cfb,
      });
    }
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(
      ekCertificateMatches(other, decodeTpm2bPublic(hex(upstream.ekLowEcc.tpm2bPublic)).value),
    ).toBe(false);
  });

  it('converts upstream RSA and ECC keys without encryption (exponent 0 = 65537)', () => {
    const rsa = decodeTpm2bPublic(hex(upstream.rsaWithoutEncryption.tpm2bPublic)).value;
    const rsaJwk = tpmPublicToKeyObject(rsa).export({ format: 'jwk' });
    expect(BigInt(`0x${Buffer.from(rsaJwk.n ?? '', 'base64url').toString('hex')}`).toString()).toBe(
      upstream.rsaWithoutEncryption.n,
    );
    expect(rsaJwk.e).toBe('AQAB');
    const ecc = decodeTpm2bPublic(hex(upstream.eccWithoutEncryption.tpm2bPublic)).value;
    expect(ecc.type === TpmAlg.Ecc && ecc.parameters.curveId).toBe(TpmEccCurve.NistP256);
    const jwk = tpmPublicToKeyObject(ecc).export({ format: 'jwk' });
    expect(BigInt(`0x${Buffer.from(jwk.x ?? '', 'base64url').toString('hex')}`).toString()).toBe(
      upstream.eccWithoutEncryption.x,
    );
    expect(BigInt(`0x${Buffer.from(jwk.y ?? '', 'base64url').toString('hex')}`).toString()).toBe(
      upstream.eccWithoutEncryption.y,
    );
    expect(decodeTpm2bPublic(hex(upstream.rsaNullScheme.tpm2bPublic)).value.nameAlg).toBe(
      TpmAlg.Sha256,
    );
  });

  it('round-trips every vector byte-exactly', () => {
    for (const h of [
      upstream.akName.tpm2bPublic,
      upstream.ekLowRsa.tpm2bPublic,
      upstream.ekLowEcc.tpm2bPublic,
      upstream.rsaWithoutEncryption.tpm2bPublic,
      upstream.rsaNullScheme.tpm2bPublic,
      upstream.eccWithoutEncryption.tpm2bPublic,
    ]) {
      const pub = decodeTpm2bPublic(hex(h));
      expect(toHexStr(encodeTpm2bPublic(pub.value))).toBe(h);
      expect(decodeTpmtPublic(pub.bytes).value).toEqual(pub.value);
    }
  });

  it('gives a DecodeError for every truncation and for trailing bytes', () => {
    for (const h of [upstream.akName.tpm2bPublic, upstream.ekLowEcc.tpm2bPublic]) {
      expectEveryTruncationFails(hex(h), decodeTpm2bPublic);
      expect(() => decodeTpm2bPublic(new Uint8Array([...hex(h), 0]))).toThrow(DecodeError);
    }
  });

  it('names the offset and field of a bad value', () => {
    const bytes = hex(upstream.akName.tpm2bPublic);
    bytes[2] = 0x00;
    bytes[3] = 0x08; // keyedHash
    let err: unknown;
    try {
      decodeTpm2bPublic(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe(TpmErrorCode.Unsupported);
    expect((err as DecodeError).field).toBe('TPM2B_PUBLIC.TPMT_PUBLIC.type');
    expect((err as DecodeError).offset).toBe(4);
  });

  it('rejects reserved attribute bits and a modulus that contradicts keyBits', () => {
    const bytes = hex(upstream.akName.tpm2bPublic);
    bytes[9] = bytes[9]! | 0x01; // bit 0 reserved
    expect(() => decodeTpm2bPublic(bytes)).toThrow(/reserved TPMA_OBJECT/);
    expect(tpmaObjectFromWord(AK_EXPECTED_ATTRIBUTES | 0x100)).toBeUndefined();
    const short = hex(upstream.rsaWithoutEncryption.tpm2bPublic);
    short[18] = 0x04; // keyBits 0x0400 = 1024
    short[19] = 0x00;
    expect(() => decodeTpm2bPublic(short)).toThrow(/keyBits/);
  });

  it('never throws anything but DecodeError on random input (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        try {
          readTpm2bPublic(new Reader(b));
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      }),
    );
  });

  it('converts generated keys both ways for RSA and P-256/P-384/P-521', () => {
    const keys = [
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
      ...['P-256', 'P-384', 'P-521'].map(
        (c) => generateKeyPairSync('ec', { namedCurve: c }).publicKey,
      ),
    ];
    for (const k of keys) {
      const pub = tpmPublicFromKeyObject(k, EK_LOW_TEMPLATE);
      const back = decodeTpm2bPublic(encodeTpm2bPublic(pub));
      expect(publicKeysEqual(tpmPublicToKeyObject(back.value), k)).toBe(true);
    }
  });

  it('rejects ECC points off the field and unsupported curves', () => {
    const pub = decodeTpm2bPublic(hex(upstream.eccWithoutEncryption.tpm2bPublic)).value;
    if (pub.type !== TpmAlg.Ecc) throw new Error('expected ECC');
    expect(() =>
      tpmPublicToKeyObject({
        ...pub,
        unique: { x: new Uint8Array(32).fill(0xff), y: pub.unique.y },
      }),
    ).toThrow(expect.objectContaining({ code: TpmErrorCode.BadKey }));
    expect(() =>
      tpmPublicToKeyObject({ ...pub, unique: { x: pub.unique.x, y: pub.unique.y.subarray(1) } }),
    ).toThrow(expect.objectContaining({ code: TpmErrorCode.BadKey }));
    expect(() =>
      tpmPublicToKeyObject({
        ...pub,
        parameters: { ...pub.parameters, curveId: TpmEccCurve.BnP256 },
      }),
    ).toThrow(expect.objectContaining({ code: TpmErrorCode.Unsupported }));
    const badPoint = new Uint8Array(pub.unique.y);
    badPoint[31] = badPoint[31]! ^ 1;
    expect(() =>
      tpmPublicToKeyObject({ ...pub, unique: { x: pub.unique.x, y: badPoint } }),
    ).toThrow(expect.objectContaining({ code: TpmErrorCode.BadKey }));
  });
});
