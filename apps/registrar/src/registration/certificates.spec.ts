import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestPki } from '@keylime/server/src/testing/openssl-pki';
import { chainsToStore, derToPem, loadCaStore, parseCertificateField } from './certificates';

const pki = createTestPki();
afterAll(() => fs.rmSync(pki.dir, { recursive: true, force: true }));

describe('certificate fields', () => {
  it('reads PEM, PEM bundles (leaf first) and base64 DER to the same DER', () => {
    const der = new X509Certificate(pki.clientCert).raw;
    const fromPem = parseCertificateField(pki.clientCert, 'ekcert');
    const fromBundle = parseCertificateField(`${pki.clientCert}${pki.caCert}`, 'ekcert');
    const fromDer = parseCertificateField(der.toString('base64'), 'ekcert');
    for (const c of [fromPem, fromBundle, fromDer]) expect(Buffer.from(c.der)).toEqual(der);
    expect(fromBundle.chain).toHaveLength(1);
    expect(derToPem(fromDer.der)).toBe(new X509Certificate(der).toString());
  });

  it('refuses text that is no certificate', () => {
    expect(() => parseCertificateField('AAAA', 'ekcert')).toThrow(
      /ekcert is not a parseable X.509/,
    );
    expect(() => parseCertificateField('###', 'ekcert')).toThrow();
    expect(() => parseCertificateField('-----BEGIN CERTIFICATE-----\n', 'ekcert')).toThrow(/PEM/);
  });
});

describe('EK CA store', () => {
  it('loads all 51 vendor CAs shipped from upstream, including text-prefixed PEM files', () => {
    const store = loadCaStore(path.join(__dirname, '..', '..', 'tpm_cert_store'));
    expect(store.certificates).toHaveLength(51);
    expect(store.skipped).toEqual([]);
  });

  it('accepts a certificate signed by a store CA, directly or through a sent intermediate', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-store-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), pki.caCert);
    fs.writeFileSync(path.join(dir, 'junk.txt'), 'not a cert');
    const store = loadCaStore(dir);
    expect(store.skipped).toEqual(['junk.txt']);
    const client = new X509Certificate(pki.clientCert);
    const stranger = new X509Certificate(pki.strangerCert);
    expect(chainsToStore(client, [], store)).toBe(true);
    expect(chainsToStore(stranger, [], store)).toBe(false);
    // a self-signed CA the agent sends along is no trust anchor
    expect(
      chainsToStore(
        stranger,
        [new X509Certificate(fs.readFileSync(path.join(pki.dir, 'otherca.crt')))],
        store,
      ),
    ).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
