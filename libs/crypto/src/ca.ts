/**
 * @module ca: the Keylime CA exactly as upstream's `tls_dir = generate` makes it (KR
 * ca_impl_openssl.py, ca_util.py; spec §6.1): CA, server/client certificates, CRL, as PEM/DER.
 */
// @peculiar/x509 resolves its algorithm registry through tsyringe, which needs Reflect metadata.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateRsaKeyPair,
  importPrivateKey,
  importPublicKey,
} from './keys';
import { toPem } from './x509';

/** Upstream's `[ca]` defaults (KR templates/2.x/mapping.json). */
export const KEYLIME_CA_DEFAULTS = {
  country: 'US',
  caName: 'Keylime Certificate Authority',
  state: 'MA',
  locality: 'Lexington',
  organization: 'Keylime',
  orgUnit: '53',
  caLifetimeDays: 3650,
  keyBits: 2048,
  crlDistributionPoint: 'http://localhost:38080/crl',
} as const;

/** Leaf validity: upstream's mk_cert_valid default; `cert_lifetime` is not used by upstream. */
export const KEYLIME_LEAF_LIFETIME_DAYS = 365;

/** The `[ca]` options that shape every certificate the CA issues. */
export interface CaProfile {
  readonly country: string;
  readonly state: string;
  readonly locality: string;
  readonly organization: string;
  readonly orgUnit: string;
  readonly keyBits: number;
  readonly crlDistributionPoint: string;
}

export interface KeylimeCaOptions extends Partial<CaProfile> {
  /** CN of the CA (`cert_ca_name`). */
  readonly caName?: string;
  /** `cert_ca_lifetime` in days. */
  readonly caLifetimeDays?: number;
  /** Clock for tests; defaults to now. */
  readonly now?: Date;
}

/** A CA's state. Immutable: issuing or revoking returns a new value. */
export interface KeylimeCa {
  readonly certificatePem: string;
  /** Unencrypted PKCS#8 PEM, as upstream stores `ca` in private.yml. */
  readonly privateKeyPem: string;
  /** SPKI PEM (`ca-public.pem`). */
  readonly publicKeyPem: string;
  readonly crlDer: Uint8Array;
  readonly crlPem: string;
  /** Last serial used; the CA itself is serial 1. */
  readonly lastSerial: number;
  /** Revoked serials as decimal strings (upstream `revoked_keys`). */
  readonly revokedSerials: readonly string[];
  readonly profile: CaProfile;
}

/** Subject alternative names; invalid IPs are skipped, as upstream does. */
export interface SubjectAltNames {
  readonly dns?: readonly string[];
  readonly ip?: readonly string[];
}

export interface IssueCertificateOptions {
  readonly commonName: string;
  /**
   * Informational: upstream gives server and client certificates the same profile (including the
   * "SSL Server" Netscape comment and no EKU), so `kind` does not change the certificate.
   */
  readonly kind?: 'server' | 'client';
  /** Without any entry the SAN is DNS:<commonName> (upstream fallback). */
  readonly subjectAltNames?: SubjectAltNames;
  /** Encrypts the returned private key PEM (upstream `server_key_password`/`client_key_password`). */
  readonly passphrase?: string;
  readonly days?: number;
  readonly now?: Date;
}

export interface IssuedCertificate {
  readonly commonName: string;
  readonly serial: number;
  readonly certificatePem: string;
  /** PKCS#8 PEM, encrypted ("ENCRYPTED PRIVATE KEY") when a passphrase was given. */
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

const RSA_SHA256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;
const NETSCAPE_COMMENT_OID = '2.16.840.1.113730.1.13';
const DAY_MS = 86_400_000;

let providerSet = false;

/** @peculiar/x509 uses Node's WebCrypto; set once, on first use, rather than at import time. */
function x509Crypto(): webcrypto.Crypto {
  if (!providerSet) {
    x509.cryptoProvider.set(webcrypto);
    providerSet = true;
  }
  return webcrypto;
}

/** X.509 times have whole seconds; drop milliseconds so the encoded time equals `now`. */
function wholeSeconds(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** Positive INTEGER serial as even-length hex, with a 00 pad when the top bit is set. */
function serialHex(serial: number | bigint): string {
  let hex = BigInt(serial).toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (/^[89a-f]/.test(hex)) hex = `00${hex}`;
  return hex;
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), as python-cryptography computes it. */
function keyIdentifierHex(publicKey: KeyObject): string {
  // For RSA the BIT STRING content of the SPKI is exactly the PKCS#1 RSAPublicKey DER.
  const pkcs1 = publicKey.export({ type: 'pkcs1', format: 'der' });
  return createHash('sha1').update(pkcs1).digest('hex');
}

/** Upstream mk_name order: C, CN, ST, L, O, OU; C as PrintableString, the rest UTF8String. */
function keylimeName(commonName: string, p: CaProfile): x509.Name {
  return new x509.Name([
    { C: [{ printableString: p.country }] },
    { CN: [{ utf8String: commonName }] },
    { ST: [{ utf8String: p.state }] },
    { L: [{ utf8String: p.locality }] },
    { O: [{ utf8String: p.organization }] },
    { OU: [{ utf8String: p.orgUnit }] },
  ]);
}

function importSigningKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return x509Crypto().subtle.importKey('pkcs8', der, RSA_SHA256, false, ['sign']);
}

function spkiDer(publicKey: KeyObject): ArrayBuffer {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength);
}

function checkDays(days: number, what: string): void {
  if (!Number.isInteger(days) || days <= 0 || days > 36500) {
    throw cryptoError(
      CryptoErrorCode.BadArgument,
      `${what} must be a whole number of days in 1..36500`,
      {
        details: { days },
      },
    );
  }
}

function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return (
    parts.length === 4 && parts.every((p) => /^(?:0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)
  );
}

function isIPv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(':')) return false;
  try {
    // The WHATWG URL parser implements the full IPv6 grammar, without any I/O.
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** True for a literal IPv4 or IPv6 address (what Python's ipaddress.ip_address accepts, roughly). */
export function isIpAddress(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}

/** True for 0.0.0.0 and :: (and their spelled-out IPv6 forms). */
function isUnspecified(ip: string): boolean {
  if (isIPv4(ip)) return ip === '0.0.0.0';
  return new URL(`http://[${ip}]/`).hostname === '[::]';
}

export interface ServerSanInput {
  /** os.hostname(), looked up by the caller (this lib does no I/O). */
  readonly hostname?: string;
  /** The fully qualified name, if known and different from hostname. */
  readonly fqdn?: string;
  /** The `ip` option the server binds to (hostname or address). */
  readonly bindAddress?: string;
  readonly additionalDns?: readonly string[];
  readonly additionalIps?: readonly string[];
}

/**
 * Upstream get_san_entries: localhost, 127.0.0.1, ::1, hostname, FQDN, the bind address unless
 * unspecified (a hostname goes to DNS), extra names; invalid extra IPs dropped; sorted, unique.
 */
export function serverSubjectAltNames(input: ServerSanInput = {}): { dns: string[]; ip: string[] } {
  const dns = new Set<string>(['localhost']);
  const ip = new Set<string>(['127.0.0.1', '::1']);
  if (input.hostname) dns.add(input.hostname);
  if (input.fqdn && input.fqdn !== input.hostname) dns.add(input.fqdn);
  if (input.bindAddress) {
    if (isIpAddress(input.bindAddress)) {
      if (!isUnspecified(input.bindAddress)) ip.add(input.bindAddress);
    } else {
      dns.add(input.bindAddress);
    }
  }
  for (const d of input.additionalDns ?? []) if (d) dns.add(d);
  for (const a of input.additionalIps ?? []) if (a && isIpAddress(a)) ip.add(a);
  return { dns: [...dns].sort(), ip: [...ip].sort() };
}

/** The profile for `options`, upstream defaults filled in. */
export function caProfile(options: Partial<CaProfile> = {}): CaProfile {
  const d = KEYLIME_CA_DEFAULTS;
  return {
    country: options.country ?? d.country,
    state: options.state ?? d.state,
    locality: options.locality ?? d.locality,
    organization: options.organization ?? d.organization,
    orgUnit: options.orgUnit ?? d.orgUnit,
    keyBits: options.keyBits ?? d.keyBits,
    crlDistributionPoint: options.crlDistributionPoint ?? d.crlDistributionPoint,
  };
}

function caFailed(what: string, cause: unknown): never {
  if (
    cause instanceof Error &&
    'code' in cause &&
    typeof cause.code === 'string' &&
    cause.code.startsWith('KL_')
  ) {
    throw cause;
  }
  throw cryptoError(CryptoErrorCode.CaFailed, `${what} failed`, { cause });
}

/**
 * Upstream gencrl: issuer = CA, thisUpdate = nextUpdate = now, one entry per revoked serial
 * (revocation date now), SHA-256 with RSA, no extensions. Returns DER.
 */
export async function generateCrl(
  caCertificatePem: string,
  caPrivateKeyPem: string,
  revokedSerials: readonly string[],
  now: Date = new Date(),
): Promise<Uint8Array> {
  try {
    const when = wholeSeconds(now);
    const caCert = new x509.X509Certificate(caCertificatePem);
    const crl = await x509.X509CrlGenerator.create(
      {
        issuer: caCert.issuerName,
        thisUpdate: when,
        nextUpdate: when,
        entries: revokedSerials.map((s) => {
          if (!/^[0-9]+$/.test(s))
            throw cryptoError(
              CryptoErrorCode.BadArgument,
              'revoked serial is not a decimal number',
            );
          return { serialNumber: serialHex(BigInt(s)), revocationDate: when };
        }),
        signingAlgorithm: RSA_SHA256,
        signingKey: await importSigningKey(importPrivateKey(caPrivateKeyPem)),
      },
      x509Crypto(),
    );
    return new Uint8Array(crl.rawData);
  } catch (cause) {
    return caFailed('CRL generation', cause);
  }
}

/** PEM ("X509 CRL") of a DER CRL, as upstream's convert_crl_to_pem writes cacrl.pem. */
export function crlToPem(der: Uint8Array): string {
  return toPem('X509 CRL', der);
}

/** Upstream cmd_init: a self-signed CA (serial 1) and an empty CRL. */
export async function createKeylimeCa(options: KeylimeCaOptions = {}): Promise<KeylimeCa> {
  const profile = caProfile(options);
  const caName = options.caName ?? KEYLIME_CA_DEFAULTS.caName;
  const lifetime = options.caLifetimeDays ?? KEYLIME_CA_DEFAULTS.caLifetimeDays;
  checkDays(lifetime, 'cert_ca_lifetime');
  const now = wholeSeconds(options.now ?? new Date());
  const keys = await generateRsaKeyPair(profile.keyBits);
  try {
    const keyId = keyIdentifierHex(keys.publicKey);
    const name = keylimeName(caName, profile);
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialHex(1),
        subject: name,
        issuer: name,
        notBefore: now,
        notAfter: new Date(now.getTime() + lifetime * DAY_MS),
        publicKey: spkiDer(keys.publicKey),
        signingKey: await importSigningKey(keys.privateKey),
        signingAlgorithm: RSA_SHA256,
        // Same extensions, order and criticality as upstream mk_cacert.
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.SubjectKeyIdentifierExtension(keyId, false),
          new x509.CRLDistributionPointsExtension([profile.crlDistributionPoint], false),
          new x509.KeyUsagesExtension(
            x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
            true,
          ),
          new x509.AuthorityKeyIdentifierExtension(keyId, false),
        ],
      },
      x509Crypto(),
    );
    const certificatePem = toPem('CERTIFICATE', new Uint8Array(cert.rawData));
    const privateKeyPem = exportPrivateKeyPem(keys.privateKey);
    const crlDer = await generateCrl(certificatePem, privateKeyPem, [], now);
    return {
      certificatePem,
      privateKeyPem,
      publicKeyPem: exportPublicKeyPem(keys.publicKey),
      crlDer,
      crlPem: crlToPem(crlDer),
      lastSerial: 1,
      revokedSerials: [],
      profile,
    };
  } catch (cause) {
    return caFailed('CA creation', cause);
  }
}

/**
 * Upstream mk_signed_cert: a leaf with serial lastSerial + 1, valid 365 days, issuer = CA, and
 * non-critical extensions Netscape comment "SSL Server", SAN, CRL DP, AKI (no EKU, no KeyUsage).
 */
export async function issueCertificate(
  ca: KeylimeCa,
  options: IssueCertificateOptions,
): Promise<{ ca: KeylimeCa; certificate: IssuedCertificate }> {
  if (options.commonName.length === 0)
    throw cryptoError(CryptoErrorCode.BadArgument, 'certificate CN is empty');
  const days = options.days ?? KEYLIME_LEAF_LIFETIME_DAYS;
  checkDays(days, 'certificate lifetime');
  const now = wholeSeconds(options.now ?? new Date());
  const serial = ca.lastSerial + 1;
  const caKey = importPrivateKey(ca.privateKeyPem);
  const keys = await generateRsaKeyPair(ca.profile.keyBits);
  try {
    const caCert = new x509.X509Certificate(ca.certificatePem);
    const names: x509.JsonGeneralName[] = [
      ...(options.subjectAltNames?.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(options.subjectAltNames?.ip ?? [])
        .filter(isIpAddress)
        .map((value) => ({ type: 'ip' as const, value })),
    ];
    if (names.length === 0) names.push({ type: 'dns', value: options.commonName });
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialHex(serial),
        subject: keylimeName(options.commonName, ca.profile),
        issuer: caCert.issuerName,
        notBefore: now,
        notAfter: new Date(now.getTime() + days * DAY_MS),
        publicKey: spkiDer(keys.publicKey),
        signingKey: await importSigningKey(caKey),
        signingAlgorithm: RSA_SHA256,
        extensions: [
          // Upstream writes the raw bytes "SSL Server" as the extension value (not an IA5String).
          new x509.Extension(NETSCAPE_COMMENT_OID, false, Buffer.from('SSL Server', 'ascii')),
          new x509.SubjectAlternativeNameExtension(names, false),
          new x509.CRLDistributionPointsExtension([ca.profile.crlDistributionPoint], false),
          new x509.AuthorityKeyIdentifierExtension(keyIdentifierHex(importPublicKey(caKey)), false),
        ],
      },
      x509Crypto(),
    );
    const certificate: IssuedCertificate = {
      commonName: options.commonName,
      serial,
      certificatePem: toPem('CERTIFICATE', new Uint8Array(cert.rawData)),
      privateKeyPem: exportPrivateKeyPem(keys.privateKey, options.passphrase),
      publicKeyPem: exportPublicKeyPem(keys.publicKey),
    };
    return { ca: { ...ca, lastSerial: serial }, certificate };
  } catch (cause) {
    return caFailed('certificate issuance', cause);
  }
}

/** Upstream cmd_revoke: adds the serial to revoked_keys and re-signs the CRL. */
export async function revokeCertificate(
  ca: KeylimeCa,
  serial: number | string,
  now?: Date,
): Promise<KeylimeCa> {
  const s = String(serial);
  if (!/^[0-9]+$/.test(s))
    throw cryptoError(CryptoErrorCode.BadArgument, 'serial must be a decimal number');
  const revokedSerials = ca.revokedSerials.includes(s)
    ? ca.revokedSerials
    : [...ca.revokedSerials, s];
  const crlDer = await generateCrl(ca.certificatePem, ca.privateKeyPem, revokedSerials, now);
  return { ...ca, revokedSerials, crlDer, crlPem: crlToPem(crlDer) };
}

/** Parses the CA certificate with Node (for callers that want X509Certificate checks). */
export function caCertificate(ca: KeylimeCa): X509Certificate {
  return new X509Certificate(ca.certificatePem);
}
