/**
 * @module identity/keys: the agent's software keys (spec §4.2, §6.3) — the RSA-2048 payload key
 * (NK) that receives U and V, and the mTLS key (ECC P-256) with its self-signed certificate.
 */
import { createPublicKey, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateEcKeyPairSync,
  generateRsaKeyPairSync,
  importPrivateKey,
} from '@keylime/crypto';
import type { Logger } from '@keylime/core';

export interface PayloadKey {
  readonly privateKey: KeyObject;
  /** SPKI PEM with trailing newline: what `pubkey` carries and what PCR 16 is bound to. */
  readonly publicPem: string;
}

export interface TlsIdentity {
  readonly privateKeyPem: string;
  readonly certificatePem: string;
}

function writePrivate(file: string, pem: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, pem, { mode: 0o600 });
}

function loadKey(file: string, password: string): KeyObject | undefined {
  if (!fs.existsSync(file)) return undefined;
  return importPrivateKey(fs.readFileSync(file, 'utf8'), password === '' ? undefined : password);
}

/** Loads `payload_key` or generates it; it must be RSA-2048 (the tenant encrypts U with OAEP). */
export function loadOrCreatePayloadKey(file: string, password: string, logger: Logger): PayloadKey {
  let privateKey = loadKey(file, password);
  if (privateKey === undefined) {
    privateKey = generateRsaKeyPairSync(2048).privateKey;
    writePrivate(file, exportPrivateKeyPem(privateKey, password === '' ? undefined : password));
    logger.info(`Generated a new payload key in ${file}`);
  }
  const details = privateKey.asymmetricKeyDetails;
  if (privateKey.asymmetricKeyType !== 'rsa' || details?.modulusLength !== 2048) {
    throw new Error(`payload key ${file} must be an RSA-2048 key`);
  }
  return { privateKey, publicPem: exportPublicKeyPem(privateKey) };
}

/** Loads `server_key` or generates an ECC P-256 key (existing RSA keys are accepted, as RK). */
export function loadOrCreateServerKey(file: string, password: string, logger: Logger): KeyObject {
  const existing = loadKey(file, password);
  if (existing !== undefined) {
    if (existing.asymmetricKeyType !== 'ec' && existing.asymmetricKeyType !== 'rsa')
      throw new Error(`mTLS key ${file} must be an EC or RSA key`);
    return existing;
  }
  const { privateKey } = generateEcKeyPairSync('P-256');
  writePrivate(file, exportPrivateKeyPem(privateKey, password === '' ? undefined : password));
  logger.info(`Generated a new mTLS key in ${file}`);
  return privateKey;
}

const DAY_MS = 86_400_000;

function signingAlgorithm(
  key: KeyObject,
): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
  if (key.asymmetricKeyType === 'ec') return { name: 'ECDSA', namedCurve: 'P-256' };
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/**
 * Self-signed server certificate as RK makes it: subject = issuer = CN <agent uuid>, SHA-256,
 * valid 365 days, SAN DNS localhost, localhost.domain and IP 127.0.0.1, ::1, contact_ip.
 */
export async function selfSignedCertificate(
  key: KeyObject,
  agentUuid: string,
  contactIp: string,
): Promise<string> {
  const params = signingAlgorithm(key);
  const subtle = webcrypto.subtle;
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', der, params, false, ['sign']);
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const publicKey = await subtle.importKey('spki', spki, params, true, ['verify']);
  const ips = ['127.0.0.1', '::1'];
  if (contactIp !== '' && !ips.includes(contactIp) && /^[\d.:a-fA-F]+$/.test(contactIp))
    ips.push(contactIp);
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: `CN=${agentUuid}`,
      notBefore: now,
      notAfter: new Date(now.getTime() + 365 * DAY_MS),
      keys: { privateKey, publicKey },
      signingAlgorithm:
        params.name === 'ECDSA'
          ? { name: 'ECDSA', hash: 'SHA-256' }
          : { name: params.name, hash: 'SHA-256' },
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: 'dns', value: 'localhost' },
          { type: 'dns', value: 'localhost.domain' },
          ...ips.map((value) => ({ type: 'ip' as const, value })),
        ]),
      ],
    },
    webcrypto,
  );
  return cert.toString('pem') + '\n';
}

/** Loads `server_cert` or creates the self-signed one and saves it (it is registered as mtls_cert). */
export async function loadOrCreateTlsIdentity(options: {
  readonly keyFile: string;
  readonly keyPassword: string;
  readonly certFile: string;
  readonly agentUuid: string;
  readonly contactIp: string;
  readonly logger: Logger;
}): Promise<TlsIdentity> {
  const key = loadOrCreateServerKey(options.keyFile, options.keyPassword, options.logger);
  let certificatePem: string;
  if (fs.existsSync(options.certFile)) {
    certificatePem = fs.readFileSync(options.certFile, 'utf8');
    const cert = new x509.X509Certificate(certificatePem);
    const spki = Buffer.from(cert.publicKey.rawData);
    if (!spki.equals(createPublicKey(key).export({ type: 'spki', format: 'der' })))
      throw new Error(
        `mTLS certificate ${options.certFile} does not match the key ${options.keyFile}`,
      );
  } else {
    certificatePem = await selfSignedCertificate(key, options.agentUuid, options.contactIp);
    fs.mkdirSync(path.dirname(options.certFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(options.certFile, certificatePem, { mode: 0o644 });
    options.logger.info(`Generated a new mTLS certificate in ${options.certFile}`);
  }
  return {
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificatePem,
  };
}
