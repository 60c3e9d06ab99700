/**
 * @module keys: TPM public areas ↔ Node KeyObject / PEM (upstream tpm2_objects.py
 * pubkey_from_tpm2b_public, tpm2b_public_from_pubkey), and the EK certificate ↔ `ek_tpm` match
 * (agent-registrar-tenant §3.3 step 3).
 */
import { createPublicKey } from 'node:crypto';
import type { KeyObject, X509Certificate } from 'node:crypto';
import { KeylimeError, concatBytes } from '@keylime/core';
import { EK_LOW_ATTRIBUTES, tpmaObjectFromWord } from './attributes';
import type { TpmaObject } from './attributes';
import { TpmAlg, TpmEccCurve } from './constants';
import { der } from './der';
import type { TpmAlgId } from './constants';
import { TpmErrorCode, tpmError } from './errors';
import type { TpmtAsymScheme, TpmtKdfScheme, TpmtPublic, TpmtSymDefObject } from './public';

/** A NIST curve we can convert: its size, field prime, DER OID and OpenSSL name. */
export interface EccCurveInfo {
  readonly curveId: number;
  readonly coordinateSize: number;
  readonly bits: number;
  readonly prime: bigint;
  readonly oid: Uint8Array;
  readonly nodeName: string;
}

function oid(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

const CURVES: ReadonlyMap<number, EccCurveInfo> = new Map<number, EccCurveInfo>([
  [
    TpmEccCurve.NistP192,
    {
      curveId: TpmEccCurve.NistP192,
      coordinateSize: 24,
      bits: 192,
      prime: 2n ** 192n - 2n ** 64n - 1n,
      oid: oid('06082a8648ce3d030101'),
      nodeName: 'prime192v1',
    },
  ],
  [
    TpmEccCurve.NistP224,
    {
      curveId: TpmEccCurve.NistP224,
      coordinateSize: 28,
      bits: 224,
      prime: 2n ** 224n - 2n ** 96n + 1n,
      oid: oid('06052b81040021'),
      nodeName: 'secp224r1',
    },
  ],
  [
    TpmEccCurve.NistP256,
    {
      curveId: TpmEccCurve.NistP256,
      coordinateSize: 32,
      bits: 256,
      prime: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
      oid: oid('06082a8648ce3d030107'),
      nodeName: 'prime256v1',
    },
  ],
  [
    TpmEccCurve.NistP384,
    {
      curveId: TpmEccCurve.NistP384,
      coordinateSize: 48,
      bits: 384,
      prime: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
      oid: oid('06052b81040022'),
      nodeName: 'secp384r1',
    },
  ],
  [
    TpmEccCurve.NistP521,
    {
      curveId: TpmEccCurve.NistP521,
      coordinateSize: 66,
      bits: 521,
      prime: 2n ** 521n - 1n,
      oid: oid('06052b81040023'),
      nodeName: 'secp521r1',
    },
  ],
]);

const EC_PUBLIC_KEY_OID = oid('06072a8648ce3d0201');

/** Curve facts for a TPM_ECC_CURVE, or undefined for curves we do not support (BN, SM2). */
export function eccCurveInfo(curveId: number): EccCurveInfo | undefined {
  return CURVES.get(curveId);
}

function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

function checkCoordinate(c: Uint8Array, curve: EccCurveInfo, what: string): Uint8Array {
  // Upstream accepts full-size coordinates (one byte less for P-521's 521 bits) below the field prime.
  const min = curve.bits % 8 === 0 ? curve.coordinateSize : curve.coordinateSize - 1;
  if (c.length < min || c.length > curve.coordinateSize) {
    throw tpmError(
      TpmErrorCode.BadKey,
      `ECC ${what} has ${c.length} bytes, expected ${min}-${curve.coordinateSize}`,
    );
  }
  if (toBigInt(c) >= curve.prime)
    throw tpmError(TpmErrorCode.BadKey, `ECC ${what} is not below the field prime`);
  const out = new Uint8Array(curve.coordinateSize);
  out.set(c, curve.coordinateSize - c.length);
  return out;
}

/** The public key of an RSA or ECC TPMT_PUBLIC as a Node KeyObject; throws KL_TPM_BAD_KEY / KL_TPM_UNSUPPORTED. */
export function tpmPublicToKeyObject(pub: TpmtPublic): KeyObject {
  try {
    if (pub.type === TpmAlg.Rsa) {
      const n = pub.unique;
      if (n.length === 0 || n.length * 8 !== pub.parameters.keyBits) {
        throw tpmError(
          TpmErrorCode.BadKey,
          `RSA modulus of ${n.length} bytes does not match keyBits ${pub.parameters.keyBits}`,
        );
      }
      const exp = pub.parameters.exponent === 0 ? 65537 : pub.parameters.exponent;
      const e = Uint8Array.of(exp >>> 24, (exp >>> 16) & 0xff, (exp >>> 8) & 0xff, exp & 0xff);
      let start = 0;
      while (start < 3 && e[start] === 0) start++;
      return createPublicKey({
        key: { kty: 'RSA', n: base64url(n), e: base64url(e.subarray(start)) },
        format: 'jwk',
      });
    }
    const curve = CURVES.get(pub.parameters.curveId);
    if (curve === undefined) {
      throw tpmError(
        TpmErrorCode.Unsupported,
        `unsupported ECC curve 0x${pub.parameters.curveId.toString(16)}`,
      );
    }
    const x = checkCoordinate(pub.unique.x, curve, 'x');
    const y = checkCoordinate(pub.unique.y, curve, 'y');
    const point = concatBytes(Uint8Array.of(0x00, 0x04), x, y);
    const spki = der(0x30, der(0x30, EC_PUBLIC_KEY_OID, curve.oid), der(0x03, point));
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (e) {
    if (e instanceof KeylimeError) throw e;
    throw tpmError(TpmErrorCode.BadKey, 'TPM public area is not a valid public key', {}, e);
  }
}

/** The public key of a TPMT_PUBLIC as SubjectPublicKeyInfo PEM (what upstream hands to checkquote). */
export function tpmPublicToPem(pub: TpmtPublic): string {
  return tpmPublicToKeyObject(pub).export({ format: 'pem', type: 'spki' }).toString();
}

/** What a public area needs besides the key: the rest of a TPM template. */
export interface PublicTemplate {
  readonly nameAlg: TpmAlgId;
  readonly objectAttributes: TpmaObject;
  readonly authPolicy: Uint8Array;
  readonly symmetric: TpmtSymDefObject;
  readonly scheme: TpmtAsymScheme;
  /** ECC only; NULL when absent. */
  readonly kdf?: TpmtKdfScheme;
}

/** TCG EK Credential Profile low-range template L-1 / L-2 (upstream EK_LOW_*): AES-128-CFB, PolicySecret(EH). */
export const EK_LOW_TEMPLATE: PublicTemplate = {
  nameAlg: TpmAlg.Sha256,
  objectAttributes: tpmaObjectFromWord(EK_LOW_ATTRIBUTES) as TpmaObject,
  authPolicy: oid('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa'),
  symmetric: { algorithm: TpmAlg.Aes, keyBits: 128, mode: TpmAlg.Cfb },
  scheme: { scheme: TpmAlg.Null },
};

/** Builds a TPMT_PUBLIC from an RSA or NIST ECC public key and a template (upstream tpm2b_public_from_pubkey). */
export function tpmPublicFromKeyObject(key: KeyObject, template: PublicTemplate): TpmtPublic {
  const common = {
    nameAlg: template.nameAlg,
    objectAttributes: template.objectAttributes,
    authPolicy: template.authPolicy,
  };
  const params = { symmetric: template.symmetric, scheme: template.scheme };
  if (key.asymmetricKeyType === 'rsa') {
    const jwk = key.export({ format: 'jwk' });
    const n = new Uint8Array(Buffer.from(jwk.n ?? '', 'base64url'));
    const e = Number(toBigInt(new Uint8Array(Buffer.from(jwk.e ?? '', 'base64url'))));
    return {
      type: TpmAlg.Rsa,
      ...common,
      parameters: {
        ...params,
        keyBits: key.asymmetricKeyDetails?.modulusLength ?? n.length * 8,
        exponent: e === 65537 ? 0 : e,
      },
      unique: n,
    };
  }
  if (key.asymmetricKeyType === 'ec') {
    const name = key.asymmetricKeyDetails?.namedCurve;
    const curve = [...CURVES.values()].find((c) => c.nodeName === name);
    if (curve === undefined)
      throw tpmError(TpmErrorCode.Unsupported, `unsupported curve ${String(name)}`);
    const spki = new Uint8Array(key.export({ format: 'der', type: 'spki' }));
    const point = spki.subarray(spki.length - 2 * curve.coordinateSize);
    return {
      type: TpmAlg.Ecc,
      ...common,
      parameters: {
        ...params,
        curveId: curve.curveId,
        kdf: template.kdf ?? { scheme: TpmAlg.Null },
      },
      unique: { x: point.slice(0, curve.coordinateSize), y: point.slice(curve.coordinateSize) },
    };
  }
  throw tpmError(TpmErrorCode.Unsupported, `unsupported key type ${String(key.asymmetricKeyType)}`);
}

/** True when two public keys are the same (SubjectPublicKeyInfo DER equality). */
export function publicKeysEqual(a: KeyObject, b: KeyObject): boolean {
  return a
    .export({ format: 'der', type: 'spki' })
    .equals(b.export({ format: 'der', type: 'spki' }));
}

/**
 * True when the EK certificate's public key is the key inside `ek_tpm` (agent-registrar-tenant §3.3
 * step 3). Pass a parsed certificate or its public KeyObject.
 */
export function ekCertificateMatches(
  cert: X509Certificate | KeyObject,
  ekPublic: TpmtPublic,
): boolean {
  const certKey = 'publicKey' in cert ? cert.publicKey : cert;
  return publicKeysEqual(certKey, tpmPublicToKeyObject(ekPublic));
}
