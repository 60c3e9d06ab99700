/**
 * @module x509: strict certificate parsing (PEM, DER, base64 DER) and the checks Keylime does
 * with certificates: "directly signed by one of these" (EK cert, spec §7.3 step 8), key match.
 */
import { KeyObject, X509Certificate } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';
import { importPublicKey } from './keys';
import type { PublicKeyInput } from './keys';

/** One PEM block: its label ("CERTIFICATE", "X509 CRL", ...) and decoded DER. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

const PEM_BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * All PEM blocks in `text`. Text outside blocks is ignored (OpenSSL does the same, and upstream's
 * tpm_cert_store has files with `openssl x509 -text` output before the block); inside a block only
 * base64 and line breaks are allowed, and BEGIN/END labels must match.
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK_RE)) {
    const [, begin = '', body = '', end = ''] = m;
    if (begin !== end)
      throw cryptoError(CryptoErrorCode.BadCertificate, 'PEM BEGIN/END labels differ');
    const compact = body.replace(/[\r\n\t ]+/g, '');
    if (compact.length === 0 || !BASE64_RE.test(compact)) {
      throw cryptoError(CryptoErrorCode.BadCertificate, `PEM ${begin} block is not valid base64`);
    }
    blocks.push({ label: begin, der: new Uint8Array(Buffer.from(compact, 'base64')) });
  }
  return blocks;
}

/** PEM text of DER bytes, 64-character lines, trailing newline. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Parses DER and insists the certificate uses every byte (no trailing data). */
export function parseCertificateDer(der: Uint8Array): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(der));
  } catch (cause) {
    throw cryptoError(CryptoErrorCode.BadCertificate, 'certificate DER does not parse', { cause });
  }
  if (cert.raw.length !== der.length) {
    throw cryptoError(CryptoErrorCode.BadCertificate, 'certificate DER has trailing bytes', {
      details: { length: der.length, used: cert.raw.length },
    });
  }
  return cert;
}

function looksLikePem(text: string): boolean {
  return text.includes('-----BEGIN ');
}

/** Every CERTIFICATE in a PEM bundle (at least one); other block types are refused. */
export function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pemBlocks(pem);
  if (blocks.length === 0)
    throw cryptoError(CryptoErrorCode.BadCertificate, 'no PEM certificate found');
  return blocks.map((b) => {
    if (b.label !== 'CERTIFICATE') {
      throw cryptoError(CryptoErrorCode.BadCertificate, `unexpected PEM block "${b.label}"`);
    }
    return parseCertificateDer(b.der);
  });
}

/**
 * One certificate from PEM text (exactly one CERTIFICATE block), base64 DER text (what the
 * registrar stores as `ekcert`), or DER bytes (bytes holding PEM text are accepted too).
 */
export function parseCertificate(input: string | Uint8Array): X509Certificate {
  if (typeof input !== 'string') {
    // A DER certificate starts with a SEQUENCE tag; anything else is read as text.
    if (input[0] === 0x30) return parseCertificateDer(input);
    return parseCertificate(Buffer.from(input).toString('latin1'));
  }
  if (looksLikePem(input)) {
    const certs = parseCertificates(input);
    if (certs.length !== 1) {
      throw cryptoError(CryptoErrorCode.BadCertificate, 'expected exactly one certificate', {
        details: { count: certs.length },
      });
    }
    return certs[0] as X509Certificate;
  }
  const compact = input.trim();
  if (compact.length === 0 || !BASE64_RE.test(compact)) {
    throw cryptoError(CryptoErrorCode.BadCertificate, 'certificate is neither PEM nor base64 DER');
  }
  return parseCertificateDer(Buffer.from(compact, 'base64'));
}

/** PEM of a certificate. */
export function certificateToPem(cert: X509Certificate): string {
  return toPem('CERTIFICATE', cert.raw);
}

/** base64 DER, the form the registrar returns for `ekcert`. */
export function certificateToBase64Der(cert: X509Certificate): string {
  return cert.raw.toString('base64');
}

/** True if `issuer`'s key verifies `cert`'s signature (RSA PKCS#1/PSS or ECDSA, any hash). */
export function isSignatureFrom(
  cert: X509Certificate,
  issuer: X509Certificate | KeyObject,
): boolean {
  const key = issuer instanceof KeyObject ? issuer : issuer.publicKey;
  try {
    return cert.verify(key);
  } catch {
    return false;
  }
}

/**
 * The first candidate whose subject equals `cert`'s issuer and whose key verifies `cert`'s
 * signature, or undefined. No path building, no validity-date or extension checks: exactly
 * upstream's EK certificate rule (KR cert_utils.verify_cert), so intermediates must be listed.
 */
export function findDirectIssuer(
  cert: X509Certificate,
  candidates: readonly X509Certificate[],
): X509Certificate | undefined {
  return candidates.find((c) => c.subject === cert.issuer && isSignatureFrom(cert, c));
}

/** True if some candidate directly signed `cert` (see findDirectIssuer). */
export function isDirectlySignedByAny(
  cert: X509Certificate,
  candidates: readonly X509Certificate[],
): boolean {
  return findDirectIssuer(cert, candidates) !== undefined;
}

/** True if the certificate certifies `key` (a public key, private key, or PEM/DER of one). */
export function certificateHasPublicKey(cert: X509Certificate, key: PublicKeyInput): boolean {
  return cert.publicKey.equals(importPublicKey(key));
}
