/**
 * @module policy/dsse: DSSE envelopes for signed runtime policies (spec verifier.md §4.8;
 * upstream `keylime/dsse/*`, `keylime/signing.py`): PAE, ECDSA-SHA256 signing and verification,
 * with either a given EC public key or the x509 certificates carried in `keyid`.
 */
import * as crypto from 'node:crypto';
import { ImaErrorCode, imaError } from '../errors';
import { toPythonJson } from './python-json';

export const KEYLIME_PAYLOAD_TYPE = 'application/vnd.keylime+json';

export interface DsseEnvelope {
  readonly payload: string;
  readonly payloadType: string;
  readonly signatures: readonly { readonly keyid?: string; readonly sig: string }[];
}

/** Something that signs PAE bytes (ECDSA-SHA256, DER) and names its key. */
export interface DsseSigner {
  readonly keyid: string | undefined;
  sign(message: Uint8Array): Uint8Array;
}

/** Pre-Authentication Encoding: "DSSEv1 <len(type)> <type> <len(payload)> <payload>". */
export function dssePae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

/**
 * Upstream's `b64dec` quirk: hex first, then standard base64, then URL-safe base64 (all strict).
 */
export function dsseDecode(text: string): Buffer {
  if (text.length > 0 && /^(?:[0-9a-fA-F]{2})+$/.test(text)) return Buffer.from(text, 'hex');
  if (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return Buffer.from(text, 'base64');
  if (/^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?$/.test(text)) return Buffer.from(text, 'base64url');
  throw imaError(ImaErrorCode.InvalidEnvelope, 'DSSE field is neither hex nor base64');
}

/** Parses envelope JSON text; throws KL_IMA_INVALID_ENVELOPE when it is not one. */
export function parseDsseEnvelope(text: string): DsseEnvelope {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw imaError(ImaErrorCode.InvalidEnvelope, 'DSSE envelope is not valid JSON', { cause: e });
  }
  const env = o as Partial<Record<string, unknown>> | null;
  if (typeof env !== 'object' || env === null || typeof env['payload'] !== 'string' || typeof env['payloadType'] !== 'string') {
    throw imaError(ImaErrorCode.InvalidEnvelope, 'DSSE envelope needs string fields payload and payloadType');
  }
  const sigs = env['signatures'];
  if (!Array.isArray(sigs) || !sigs.every((s) => typeof s === 'object' && s !== null && typeof (s as Record<string, unknown>)['sig'] === 'string')) {
    throw imaError(ImaErrorCode.InvalidEnvelope, 'DSSE envelope needs a list of signatures with a string sig');
  }
  return env as unknown as DsseEnvelope;
}

/** True iff `text` is a JSON object with a truthy `payload` (how upstream detects an envelope). */
export function isDsseEnvelope(text: string): boolean {
  try {
    const o: unknown = JSON.parse(text);
    return typeof o === 'object' && o !== null && Boolean((o as Record<string, unknown>)['payload']);
  } catch {
    return false;
  }
}

/** Signs `payload`; returns the envelope text exactly as upstream's `dsse.Sign` prints it. */
export function signDsse(payload: Uint8Array, signer: DsseSigner, payloadType = KEYLIME_PAYLOAD_TYPE): string {
  const sig = Buffer.from(signer.sign(dssePae(payloadType, payload))).toString('base64');
  const signature = signer.keyid ? { keyid: signer.keyid, sig } : { sig };
  return toPythonJson({ payload: Buffer.from(payload).toString('base64'), payloadType, signatures: [signature] });
}

/** keyid of upstream's ECDSA backend: SHA-256 hex of the SubjectPublicKeyInfo PEM text. */
export function ecdsaKeyId(publicKey: crypto.KeyObject): string {
  const pem = publicKey.export({ type: 'spki', format: 'pem' });
  return crypto.createHash('sha256').update(pem).digest('hex');
}

/** ECDSA backend signer; `certificatePem` switches to the x509 backend (keyid = base64 of the PEM). */
export function ecdsaSigner(privateKey: crypto.KeyObject, certificatePem?: string): DsseSigner {
  if (privateKey.asymmetricKeyType !== 'ec') {
    throw imaError(ImaErrorCode.InvalidKey, 'Only elliptic curve keys are supported');
  }
  const keyid =
    certificatePem === undefined
      ? ecdsaKeyId(crypto.createPublicKey(privateKey))
      : Buffer.from(certificatePem, 'utf8').toString('base64');
  return { keyid, sign: (m) => crypto.sign('sha256', m, privateKey) };
}

export interface DsseVerified {
  readonly payloadType: string;
  readonly payload: Buffer;
  /** Names of the verifiers that accepted a signature. */
  readonly recognizedSigners: readonly string[];
}

function verifyEc(key: crypto.KeyObject, message: Buffer, sig: Buffer): boolean {
  try {
    return crypto.verify('sha256', message, key, sig);
  } catch {
    return false;
  }
}

/**
 * Verifies an envelope (upstream `verify_dsse_envelope`): with `publicKey` (PEM text or key) as
 * the only verifier, otherwise with the certificate in each signature's `keyid` (base64 PEM).
 * Throws KL_IMA_INVALID_ENVELOPE when no signature verifies.
 */
export function verifyDsseEnvelope(text: string, options: { publicKey?: string | crypto.KeyObject } = {}): DsseVerified {
  const env = parseDsseEnvelope(text);
  const verifiers: { name: string; key: crypto.KeyObject }[] = [];
  if (options.publicKey !== undefined) {
    let key: crypto.KeyObject;
    try {
      key = typeof options.publicKey === 'string' ? crypto.createPublicKey(options.publicKey) : options.publicKey;
    } catch (e) {
      throw imaError(ImaErrorCode.InvalidKey, 'DSSE verification key is not a PEM public key', { cause: e });
    }
    if (key.asymmetricKeyType !== 'ec') throw imaError(ImaErrorCode.InvalidKey, 'DSSE verification key must be an EC key');
    verifiers.push({ name: 'user_provided_key', key });
  } else {
    for (const s of env.signatures) {
      try {
        const pem = Buffer.from(s.keyid ?? '', 'base64');
        const cert = new crypto.X509Certificate(pem);
        verifiers.push({ name: crypto.createHash('sha256').update(pem).digest('hex'), key: cert.publicKey });
      } catch {
        // a keyid that is not a certificate contributes no verifier
      }
    }
  }
  const payload = dsseDecode(env.payload);
  const pae = dssePae(env.payloadType, payload);
  const recognized: string[] = [];
  for (const s of env.signatures) {
    let sig: Buffer;
    try {
      sig = dsseDecode(s.sig);
    } catch {
      continue;
    }
    for (const v of verifiers) if (verifyEc(v.key, pae, sig)) recognized.push(v.name);
  }
  if (recognized.length === 0) {
    throw imaError(ImaErrorCode.InvalidEnvelope, 'Runtime policy failed DSSE signature verification!', { details: { reason: 'signature' } });
  }
  return { payloadType: env.payloadType, payload, recognizedSigners: recognized };
}

/** The policy text inside an envelope, without verification (what the verifier uses after upload). */
export function dssePayloadText(text: string): string {
  return dsseDecode(parseDsseEnvelope(text).payload).toString('utf8');
}
