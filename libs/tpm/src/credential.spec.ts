/** @module credential.spec: MakeCredential known-answer vectors (upstream RSA/ECC) and the credential blob codec. */
import { createPrivateKey } from 'node:crypto';
import { DecodeError } from '@keylime/core';
import { dataFile, expectEveryTruncationFails, hex, toHexStr, upstream } from '../tests/fixtures';
import {
  decodeCredentialBlob,
  decodeIdObject,
  encodeCredentialBlob,
  makeCredential,
  makeCredentialBlob,
  randomCredential,
} from './credential';
import { TpmAlg } from './constants';
import { TpmErrorCode } from './errors';
import { decodeTpm2bPublic } from './public';

function bigToB64url(dec: string, size: number): string {
  return Buffer.from(
    BigInt(dec)
      .toString(16)
      .padStart(size * 2, '0'),
    'hex',
  ).toString('base64url');
}

describe('MakeCredential (agent-registrar-tenant §3.4)', () => {
  it('reproduces upstream test_makecredential (RSA EK, seed 0x12…, first 80 bytes)', () => {
    const v = upstream.makecredentialRsa;
    const ek = decodeTpm2bPublic(hex(v.ekTpm)).value;
    const blob = makeCredential(ek, hex(v.challenge), hex(v.akName), {
      seed: new Uint8Array(32).fill(0x12),
    });
    const bytes = encodeCredentialBlob(blob);
    expect(toHexStr(bytes.subarray(0, 80))).toBe(v.expectedPrefix);
    expect(bytes.length).toBe(336);
  });

  it('reproduces upstream test_makecredential_ecc (fixed ephemeral key, whole blob)', () => {
    const v = upstream.makecredentialEcc;
    const ephemeralKey = createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: bigToB64url(v.ephemeralPrivate, 32),
        x: bigToB64url(v.ephemeralX, 32),
        y: bigToB64url(v.ephemeralY, 32),
      },
      format: 'jwk',
    });
    const ek = decodeTpm2bPublic(hex(v.ekTpm)).value;
    const blob = makeCredential(ek, hex(v.challenge), hex(v.akName), { ephemeralKey });
    expect(toHexStr(encodeCredentialBlob(blob))).toBe(v.expected);
  });

  it('produces a blob of the registrar layout from ek/ak public areas', () => {
    const ek = decodeTpm2bPublic(dataFile('upstream/ek.pub'));
    const ak = decodeTpm2bPublic(dataFile('upstream/ak.pub'));
    const { credential, key } = randomCredential();
    expect(Buffer.from(credential).toString()).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(Buffer.from(key, 'base64')).toEqual(Buffer.from(credential));
    const bytes = makeCredentialBlob(ek, ak, credential);
    const blob = decodeCredentialBlob(bytes);
    const id = decodeIdObject(blob.idObject);
    expect(id.integrityHmac.length).toBe(32);
    expect(id.encIdentity.length).toBe(34);
    expect(blob.encryptedSecret.length).toBe(256);
  });

  it('decodes the tpm2-tools mkcred.out and rejects truncation, trailing bytes and a bad magic', () => {
    const file = dataFile('upstream/mkcred.out');
    const blob = decodeCredentialBlob(file);
    expect(encodeCredentialBlob(blob)).toEqual(file);
    expectEveryTruncationFails(file, decodeCredentialBlob);
    expect(() => decodeCredentialBlob(new Uint8Array([...file, 1]))).toThrow(DecodeError);
    const bad = new Uint8Array(file);
    bad[0] = 0;
    expect(() => decodeCredentialBlob(bad)).toThrow(
      expect.objectContaining({ code: TpmErrorCode.BadMagic }),
    );
  });

  it('refuses an EK without AES-CFB and an oversized credential', () => {
    const ek = decodeTpm2bPublic(hex(upstream.makecredentialRsa.ekTpm)).value;
    if (ek.type !== TpmAlg.Rsa) throw new Error('expected an RSA EK');
    const name = hex(upstream.makecredentialRsa.akName);
    expect(() =>
      makeCredential(
        { ...ek, parameters: { ...ek.parameters, symmetric: { algorithm: 0x10 } } },
        hex('00'),
        name,
      ),
    ).toThrow(expect.objectContaining({ code: TpmErrorCode.Unsupported }));
    expect(() => makeCredential(ek, new Uint8Array(33), name)).toThrow(
      expect.objectContaining({ code: TpmErrorCode.BadValue }),
    );
  });
});
