/**
 * @module ca.spec: the generated cv_ca file set checked with Node's X509Certificate and
 * @peculiar/x509 parsing: profile, extensions and criticality, CRL, private.yml round trip.
 * One CA + server + client (3 RSA keys) is shared by the whole file; one more key is issued.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeylimeError } from '@keylime/core';
import { issueCertificate, revokeCertificate, serverSubjectAltNames, isIpAddress } from './ca';
import type { KeylimeCa } from './ca';
import {
  decodePrivateYml,
  encodePrivateYml,
  generateCvCaFiles,
  keyStoreToYaml,
  openKeylimeCa,
} from './ca-store';
import type { CvCaResult } from './ca-store';

const DAY = 86_400_000;
const text = (b: Uint8Array | undefined): string =>
  Buffer.from(b ?? new Uint8Array(0)).toString('utf8');

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    return e instanceof KeylimeError ? e.code : 'not a KeylimeError';
  }
  return 'no error';
}

/** [oid, critical] of every extension, in order. */
function extensionList(pem: string): [string, boolean][] {
  return new x509.X509Certificate(pem).extensions.map((e) => [e.type, e.critical]);
}

let result: CvCaResult;
let caCert: X509Certificate;
const now = new Date('2026-01-02T03:04:05Z');

beforeAll(async () => {
  x509.cryptoProvider.set(webcrypto);
  result = await generateCvCaFiles({
    now,
    server: {
      hostname: 'host1',
      fqdn: 'host1.example.org',
      bindAddress: '0.0.0.0',
      additionalIps: ['10.0.0.1', 'bogus'],
    },
  });
  caCert = new X509Certificate(text(result.files.get('cacert.crt')));
});

describe('cv_ca file set', () => {
  it('has exactly upstream file names', () => {
    expect([...result.files.keys()].sort()).toEqual(
      [
        'ca-public.pem',
        'cacert.crt',
        'cacrl.der',
        'cacrl.pem',
        'client-cert.crt',
        'client-private.pem',
        'client-public.pem',
        'private.yml',
        'server-cert.crt',
        'server-private.pem',
        'server-public.pem',
      ].sort(),
    );
  });

  it('writes PKCS#8 private keys and SPKI public keys that match the certificates', () => {
    for (const name of ['server', 'client']) {
      const priv = text(result.files.get(`${name}-private.pem`));
      expect(priv.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
      const pub = text(result.files.get(`${name}-public.pem`));
      expect(pub.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);
      const cert = new X509Certificate(text(result.files.get(`${name}-cert.crt`)));
      expect(cert.publicKey.equals(createPublicKey(createPrivateKey(priv)))).toBe(true);
      expect(cert.publicKey.equals(createPublicKey(pub))).toBe(true);
    }
    expect(caCert.publicKey.equals(createPublicKey(text(result.files.get('ca-public.pem'))))).toBe(
      true,
    );
  });
});

describe('CA certificate', () => {
  it('is self-signed, serial 1, RSA 2048 e=65537, upstream subject, cert_ca_lifetime days', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.serialNumber).toBe('01');
    expect(caCert.subject).toBe(
      'C=US\nCN=Keylime Certificate Authority\nST=MA\nL=Lexington\nO=Keylime\nOU=53',
    );
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.publicKey.asymmetricKeyDetails).toEqual({
      modulusLength: 2048,
      publicExponent: 65537n,
    });
    expect(new Date(caCert.validFrom).getTime()).toBe(now.getTime());
    expect(new Date(caCert.validTo).getTime()).toBe(now.getTime() + 3650 * DAY);
  });

  it('has upstream extensions in order: BC critical, SKI, CRL DP, KU critical, AKI', () => {
    expect(extensionList(caCert.toString())).toEqual([
      ['2.5.29.19', true],
      ['2.5.29.14', false],
      ['2.5.29.31', false],
      ['2.5.29.15', true],
      ['2.5.29.35', false],
    ]);
    const c = new x509.X509Certificate(caCert.toString());
    const ku = c.getExtension(x509.KeyUsagesExtension);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const ski = c.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = c.getExtension(x509.AuthorityKeyIdentifierExtension);
    expect(ski?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(aki?.keyId).toBe(ski?.keyId);
    const dp = c.getExtension(x509.CRLDistributionPointsExtension);
    expect(JSON.stringify(dp?.toTextObject())).toContain('http://localhost:38080/crl');
  });
});

describe('server and client certificates', () => {
  it('are issued by the CA with serials 2 and 3, 365 days, upstream subject', () => {
    for (const [name, serial] of [
      ['server', '02'],
      ['client', '03'],
    ] as const) {
      const cert = new X509Certificate(text(result.files.get(`${name}-cert.crt`)));
      expect(cert.checkIssued(caCert)).toBe(true);
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.ca).toBe(false);
      expect(cert.serialNumber).toBe(serial);
      expect(cert.subject).toBe(`C=US\nCN=${name}\nST=MA\nL=Lexington\nO=Keylime\nOU=53`);
      expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(365 * DAY);
      expect(cert.keyUsage).toBeUndefined();
      expect(extensionList(cert.toString())).toEqual([
        ['2.16.840.1.113730.1.13', false],
        ['2.5.29.17', false],
        ['2.5.29.31', false],
        ['2.5.29.35', false],
      ]);
      const p = new x509.X509Certificate(cert.toString());
      expect(Buffer.from(p.getExtension('2.16.840.1.113730.1.13')!.value).toString()).toBe(
        'SSL Server',
      );
      expect(p.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
        new x509.X509Certificate(caCert.toString()).getExtension(x509.SubjectKeyIdentifierExtension)
          ?.keyId,
      );
    }
  });

  it('carry upstream SANs: server from get_san_entries, client DNS:client', () => {
    const server = new X509Certificate(text(result.files.get('server-cert.crt')));
    expect(server.subjectAltName).toBe(
      'DNS:host1, DNS:host1.example.org, DNS:localhost, IP Address:10.0.0.1, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    const client = new X509Certificate(text(result.files.get('client-cert.crt')));
    expect(client.subjectAltName).toBe('DNS:client');
  });
});

describe('CRL', () => {
  it('is an empty CRL signed by the CA, thisUpdate = nextUpdate, PEM matching DER', async () => {
    const der = result.files.get('cacrl.der')!;
    const crl = new x509.X509Crl(der);
    expect(crl.entries.length).toBe(0);
    expect(crl.issuer).toBe(new x509.X509Certificate(caCert.toString()).subject);
    expect(crl.thisUpdate.getTime()).toBe(now.getTime());
    expect(crl.nextUpdate?.getTime()).toBe(now.getTime());
    expect(
      await crl.verify({ publicKey: new x509.X509Certificate(caCert.toString()).publicKey }),
    ).toBe(true);
    const pem = text(result.files.get('cacrl.pem'));
    expect(pem.startsWith('-----BEGIN X509 CRL-----\n')).toBe(true);
    expect(Buffer.from(new x509.X509Crl(pem).rawData).equals(Buffer.from(der))).toBe(true);
  });
});

describe('private.yml and re-opening the CA', () => {
  let reopened: KeylimeCa;

  it('decrypts with the default password into upstream key-store content', async () => {
    const store = await decodePrivateYml(text(result.files.get('private.yml')));
    expect(store.lastSerial).toBe(3);
    expect(store.revokedSerials).toEqual([]);
    expect(store.ca).toBe(result.ca.privateKeyPem);
    expect(store.keys['server']).toBe(text(result.files.get('server-private.pem')));
    expect(store.keys['client']).toBe(text(result.files.get('client-private.pem')));
    expect(
      await codeOfAsync(() => decodePrivateYml(text(result.files.get('private.yml')), 'wrong')),
    ).toBe('KL_CRYPTO_DECRYPT_FAILED');
  });

  it('issues serial 4 with an encrypted key after re-opening, and revokes it', async () => {
    ({ ca: reopened } = await openKeylimeCa(
      text(result.files.get('cacert.crt')),
      text(result.files.get('private.yml')),
    ));
    expect(reopened.lastSerial).toBe(3);
    const { ca, certificate } = await issueCertificate(reopened, {
      commonName: 'agent-1',
      kind: 'client',
      passphrase: 'pw',
      subjectAltNames: { ip: ['192.0.2.1'] },
    });
    expect(ca.lastSerial).toBe(4);
    expect(certificate.privateKeyPem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----\n')).toBe(
      true,
    );
    const cert = new X509Certificate(certificate.certificatePem);
    expect(cert.serialNumber).toBe('04');
    expect(cert.subjectAltName).toBe('IP Address:192.0.2.1');
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    expect(
      cert.publicKey.equals(
        createPublicKey(createPrivateKey({ key: certificate.privateKeyPem, passphrase: 'pw' })),
      ),
    ).toBe(true);

    const revoked = await revokeCertificate(ca, 4);
    const crl = new x509.X509Crl(revoked.crlDer);
    expect(crl.entries.map((e) => e.serialNumber)).toEqual(['04']);
    expect(revoked.revokedSerials).toEqual(['4']);
    const yml = await encodePrivateYml(
      { ca: revoked.privateKeyPem, lastSerial: 4, revokedSerials: ['4'], keys: {} },
      'pw2',
    );
    const store = await decodePrivateYml(yml, 'pw2');
    expect(store.revokedSerials).toEqual(['4']);
    expect(store.lastSerial).toBe(4);
  });

  it('refuses a private.yml whose CA key does not match cacert.crt', async () => {
    const other = await encodePrivateYml({
      ca: text(result.files.get('server-private.pem')),
      lastSerial: 1,
      revokedSerials: [],
      keys: {},
    });
    expect(
      await codeOfAsync(() => openKeylimeCa(text(result.files.get('cacert.crt')), other)),
    ).toBe('KL_CRYPTO_BAD_KEY');
  });

  it('reads a private.yml written by upstream (PyYAML + python-cryptography) and dumps the same YAML', async () => {
    const yml = readFileSync(join(__dirname, 'test-data', 'pyyaml-private.yml'), 'utf8');
    const store = await decodePrivateYml(yml);
    expect(store).toEqual({
      ca: '-----BEGIN PRIVATE KEY-----\nNOT-A-REAL-KEY\n-----END PRIVATE KEY-----\n',
      lastSerial: 7,
      revokedSerials: ['5'],
      keys: { 'agent-1': 'agent key\n', server: 'server key pem\n' },
    });
    expect(keyStoreToYaml(store)).toBe(
      [
        'agent-1: !!binary |',
        '  YWdlbnQga2V5Cg==',
        'ca: !!binary |',
        '  LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk5PVC1BLVJFQUwtS0VZCi0tLS0tRU5EIFBSSVZB',
        '  VEUgS0VZLS0tLS0K',
        'lastserial: 7',
        'revoked_keys:',
        "- '5'",
        'server: !!binary |',
        '  c2VydmVyIGtleSBwZW0K',
        '',
      ].join('\n'),
    );
    expect(await codeOfAsync(() => decodePrivateYml('priv: [1, 2]\nsalt: x\n'))).toBe(
      'KL_CRYPTO_BAD_KEY_ENCODING',
    );
  });
});

describe('SAN helpers', () => {
  it('mirror upstream get_san_entries', () => {
    expect(serverSubjectAltNames()).toEqual({ dns: ['localhost'], ip: ['127.0.0.1', '::1'] });
    expect(serverSubjectAltNames({ hostname: 'h', fqdn: 'h', bindAddress: '::' })).toEqual({
      dns: ['h', 'localhost'],
      ip: ['127.0.0.1', '::1'],
    });
    expect(
      serverSubjectAltNames({ bindAddress: 'verifier.local', additionalDns: ['', 'x'] }).dns,
    ).toEqual(['localhost', 'verifier.local', 'x']);
    expect(serverSubjectAltNames({ bindAddress: '192.0.2.7' }).ip).toEqual([
      '127.0.0.1',
      '192.0.2.7',
      '::1',
    ]);
  });

  it('recognise IP literals', () => {
    for (const ok of ['127.0.0.1', '0.0.0.0', '::1', 'fe80::1', '2001:db8::192.0.2.1'])
      expect(isIpAddress(ok)).toBe(true);
    for (const bad of ['256.0.0.1', '01.2.3.4', '1.2.3', 'host', ':::', '', '[::1]'])
      expect(isIpAddress(bad)).toBe(false);
  });
});
