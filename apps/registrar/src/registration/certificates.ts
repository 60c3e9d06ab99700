/**
 * @module certificates: certificate fields as agents send them (PEM, PEM bundle or base64 DER;
 * spec §1.2, §3.2) and the EK CA store: a directory of vendor roots and intermediates.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fromBase64 } from '@keylime/core';

const PEM_BLOCK_RE = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/** DER bytes of every PEM certificate block in `text`, in order. */
export function pemBlocks(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_BLOCK_RE)) {
    out.push(fromBase64((m[1] ?? '').replace(/\s+/g, ''), 'PEM certificate'));
  }
  return out;
}

/** A parsed certificate field: the leaf and any further certificates of a PEM bundle. */
export interface CertificateInput {
  readonly cert: X509Certificate;
  /** The leaf's DER, as stored (base64) and compared on re-registration. */
  readonly der: Uint8Array;
  readonly chain: readonly X509Certificate[];
}

/**
 * Parses a certificate field. PEM must start with the BEGIN line (upstream's rule); a bundle's
 * first certificate is the leaf. Anything else must be base64 of DER. Throws with a short reason.
 */
export function parseCertificateField(text: string, field: string): CertificateInput {
  const trimmed = text.trim();
  let ders: Uint8Array[];
  if (trimmed.startsWith('-----BEGIN CERTIFICATE-----')) {
    ders = pemBlocks(trimmed);
    if (ders.length === 0) throw new Error(`${field} is not a valid PEM certificate`);
  } else {
    ders = [fromBase64(trimmed, field)];
  }
  const parsed = ders.map((der) => {
    try {
      return new X509Certificate(der);
    } catch {
      throw new Error(`${field} is not a parseable X.509 certificate`);
    }
  });
  const [cert, ...chain] = parsed;
  if (!cert || !ders[0]) throw new Error(`${field} is empty`);
  return { cert, der: ders[0], chain };
}

/** PEM text of DER bytes, the way upstream renders certificates (64-character lines). */
export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export interface CaStore {
  readonly dir: string;
  readonly certificates: readonly X509Certificate[];
  /** Files that held no certificate we could parse. */
  readonly skipped: readonly string[];
}

/** Loads every certificate (PEM blocks or a DER file) in `dir`; unreadable entries are listed. */
export function loadCaStore(dir: string): CaStore {
  const certificates: X509Certificate[] = [];
  const skipped: string[] = [];
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (!fs.statSync(file).isFile() || name.endsWith('.md')) continue;
    const data = fs.readFileSync(file);
    const text = data.toString('latin1');
    const ders = text.includes('-----BEGIN CERTIFICATE-----') ? pemBlocks(text) : [data];
    let any = false;
    for (const der of ders) {
      try {
        certificates.push(new X509Certificate(der));
        any = true;
      } catch {
        // not a certificate; reported below
      }
    }
    if (!any) skipped.push(name);
  }
  return { dir, certificates, skipped };
}

function issuedBy(child: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return child.checkIssued(issuer) && child.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * True when `cert` was signed by a store certificate, directly or through CA certificates the
 * agent sent with it (at most four links). Validity dates are not checked: EK certificates
 * routinely outlive them, and upstream's tenant does not check them either.
 */
export function chainsToStore(
  cert: X509Certificate,
  extra: readonly X509Certificate[],
  store: CaStore,
): boolean {
  let current = cert;
  const used = new Set<X509Certificate>();
  for (let depth = 0; depth < 5; depth++) {
    if (store.certificates.some((anchor) => issuedBy(current, anchor))) return true;
    const next = extra.find((c) => !used.has(c) && c.ca && issuedBy(current, c));
    if (!next) return false;
    used.add(next);
    current = next;
  }
  return false;
}
