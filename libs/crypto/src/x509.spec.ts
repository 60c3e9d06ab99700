/** @module x509.spec: strict certificate parsing and the direct-issuer (EK cert) check on upstream's TPM vendor CAs. */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeylimeError } from '@keylime/core';
import {
  certificateHasPublicKey,
  certificateToBase64Der,
  certificateToPem,
  findDirectIssuer,
  isDirectlySignedByAny,
  parseCertificate,
  parseCertificates,
  pemBlocks,
} from './x509';

const data = (name: string): string => readFileSync(join(__dirname, 'test-data', name), 'utf8');
const store = (name: string): string => data(`kr-tpm_cert_store-${name}.pem`);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof KeylimeError ? e.code : 'not a KeylimeError';
  }
  return 'no error';
}

const infRsaRoot = parseCertificate(store('INF_RSA_010RT'));
const ifxRsaRoot = parseCertificate(store('IFX_RSA_RT'));
const infEccRoot = parseCertificate(store('INF_ECC_010RT'));
const rsaIssued = parseCertificate(store('IFX_RSA_034'));
const eccIssued = parseCertificate(store('IFX_ECC_034'));

describe('direct issuer check (spec §7.3 step 8)', () => {
  it('finds the RSA issuer among candidates', () => {
    expect(findDirectIssuer(rsaIssued, [ifxRsaRoot, infEccRoot, infRsaRoot])).toBe(infRsaRoot);
    expect(isDirectlySignedByAny(rsaIssued, [ifxRsaRoot, infEccRoot])).toBe(false);
  });

  it('finds an ECDSA issuer (P-256 cert signed by a P-384 root)', () => {
    expect(eccIssued.publicKey.asymmetricKeyType).toBe('ec');
    expect(findDirectIssuer(eccIssued, [infRsaRoot, infEccRoot])).toBe(infEccRoot);
  });

  it('rejects a candidate with the right subject but another key', async () => {
    const key = createPrivateKey(data('rk-test-rsa.pem'));
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
    const signingKey = await webcrypto.subtle.importKey(
      'pkcs8',
      key.export({ type: 'pkcs8', format: 'der' }),
      alg,
      false,
      ['sign'],
    );
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const fake = await x509.X509CertificateGenerator.create(
      {
        serialNumber: '01',
        subject: new x509.X509Certificate(infRsaRoot.raw).subjectName,
        issuer: new x509.X509Certificate(infRsaRoot.raw).subjectName,
        publicKey: spki,
        signingKey,
        signingAlgorithm: alg,
      },
      webcrypto,
    );
    const impostor = parseCertificate(new Uint8Array(fake.rawData));
    expect(impostor.subject).toBe(infRsaRoot.subject);
    expect(isDirectlySignedByAny(rsaIssued, [impostor])).toBe(false);
    expect(isDirectlySignedByAny(rsaIssued, [impostor, infRsaRoot])).toBe(true);
    expect(certificateHasPublicKey(impostor, key)).toBe(true);
    expect(certificateHasPublicKey(impostor, infRsaRoot.publicKey)).toBe(false);
  });
});

describe('parseCertificate', () => {
  it('accepts PEM, base64 DER, DER bytes and PEM bytes of the same certificate', () => {
    const pem = certificateToPem(rsaIssued);
    const b64 = certificateToBase64Der(rsaIssued);
    for (const input of [
      pem,
      b64,
      new Uint8Array(rsaIssued.raw),
      new Uint8Array(Buffer.from(pem)),
    ]) {
      expect(parseCertificate(input).fingerprint256).toBe(rsaIssued.fingerprint256);
    }
  });

  it('ignores text outside PEM blocks (openssl -text output in the cert store)', () => {
    const alibaba = store('Alibaba_Cloud_vTPM_EK');
    expect(alibaba.startsWith('Certificate:')).toBe(true);
    expect(parseCertificate(alibaba).subject).toContain('CN=Aliyun TPM EKMF CA');
  });

  it('refuses bundles, trailing bytes, bad base64 and other block types', () => {
    const two = certificateToPem(rsaIssued) + certificateToPem(eccIssued);
    expect(parseCertificates(two).length).toBe(2);
    expect(codeOf(() => parseCertificate(two))).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    const trailing = new Uint8Array([...rsaIssued.raw, 0]);
    expect(codeOf(() => parseCertificate(trailing))).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    expect(
      codeOf(() =>
        parseCertificate('-----BEGIN CERTIFICATE-----\nM$$\n-----END CERTIFICATE-----\n'),
      ),
    ).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    expect(
      codeOf(() => parseCertificate('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CRL-----\n')),
    ).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    expect(
      codeOf(() => parseCertificates('-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n')),
    ).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    expect(codeOf(() => parseCertificate('not a cert'))).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    expect(codeOf(() => parseCertificate(''))).toBe('KL_CRYPTO_BAD_CERTIFICATE');
    expect(codeOf(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])))).toBe(
      'KL_CRYPTO_BAD_CERTIFICATE',
    );
  });

  it('lists PEM blocks with labels', () => {
    const blocks = pemBlocks(`junk\n${certificateToPem(eccIssued)}more junk`);
    expect(blocks.map((b) => b.label)).toEqual(['CERTIFICATE']);
    expect(Buffer.from(blocks[0]!.der).equals(eccIssued.raw)).toBe(true);
  });
});
