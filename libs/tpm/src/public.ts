/**
 * @module public: TPMT_PUBLIC / TPM2B_PUBLIC codecs for RSA and ECC objects (Part 2 §12.2) and the
 * object Name (Part 1 §16). Decoding is strict: unknown types, schemes and reserved bits are errors.
 */
import { Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import { MAX_DIGEST_SIZE, TpmAlg } from './constants';
import type { TpmAlgId } from './constants';
import { readTpmaObject, tpmaObjectToWord } from './attributes';
import type { TpmaObject } from './attributes';
import { TpmErrorCode, tpmError } from './errors';
import { isTpmHashAlg, tpmHash } from './hash';
import { readSized } from './tpm2b';
import type { Tpm2b } from './tpm2b';

/** TPMT_SYM_DEF_OBJECT (Part 2 §11.1.7): keyBits and mode are present unless algorithm is NULL. */
export interface TpmtSymDefObject {
  readonly algorithm: TpmAlgId;
  readonly keyBits?: number;
  readonly mode?: TpmAlgId;
}

/** TPMT_RSA_SCHEME / TPMT_ECC_SCHEME (Part 2 §11.2.4-5): hashAlg for hash schemes, count for ECDAA. */
export interface TpmtAsymScheme {
  readonly scheme: TpmAlgId;
  readonly hashAlg?: TpmAlgId;
  readonly count?: number;
}

/** TPMT_KDF_SCHEME (Part 2 §11.2.3.3). */
export interface TpmtKdfScheme {
  readonly scheme: TpmAlgId;
  readonly hashAlg?: TpmAlgId;
}

/** TPMS_RSA_PARMS (Part 2 §12.2.3.5). `exponent` 0 means 65537, as on the wire. */
export interface TpmsRsaParms {
  readonly symmetric: TpmtSymDefObject;
  readonly scheme: TpmtAsymScheme;
  readonly keyBits: number;
  readonly exponent: number;
}

/** TPMS_ECC_PARMS (Part 2 §12.2.3.6). */
export interface TpmsEccParms {
  readonly symmetric: TpmtSymDefObject;
  readonly scheme: TpmtAsymScheme;
  readonly curveId: number;
  readonly kdf: TpmtKdfScheme;
}

/** TPMS_ECC_POINT (Part 2 §11.2.5.2). */
export interface TpmsEccPoint {
  readonly x: Uint8Array;
  readonly y: Uint8Array;
}

interface TpmtPublicCommon {
  readonly nameAlg: TpmAlgId;
  readonly objectAttributes: TpmaObject;
  readonly authPolicy: Uint8Array;
}

/** TPMT_PUBLIC of an RSA object; `unique` is the modulus (empty in a template). */
export interface TpmtPublicRsa extends TpmtPublicCommon {
  readonly type: typeof TpmAlg.Rsa;
  readonly parameters: TpmsRsaParms;
  readonly unique: Uint8Array;
}

/** TPMT_PUBLIC of an ECC object; `unique` is the public point (empty coordinates in a template). */
export interface TpmtPublicEcc extends TpmtPublicCommon {
  readonly type: typeof TpmAlg.Ecc;
  readonly parameters: TpmsEccParms;
  readonly unique: TpmsEccPoint;
}

/** TPMT_PUBLIC (Part 2 §12.2.4), discriminated by `type`. */
export type TpmtPublic = TpmtPublicRsa | TpmtPublicEcc;

const SYM_OBJECT_ALGS: ReadonlySet<number> = new Set([TpmAlg.Aes, TpmAlg.Sm4, TpmAlg.Camellia]);
const RSA_SCHEMES: ReadonlySet<number> = new Set([
  TpmAlg.Null,
  TpmAlg.RsaSsa,
  TpmAlg.RsaPss,
  TpmAlg.RsaEs,
  TpmAlg.Oaep,
]);
const ECC_SCHEMES: ReadonlySet<number> = new Set([
  TpmAlg.Null,
  TpmAlg.Ecdsa,
  TpmAlg.Ecdh,
  TpmAlg.Ecdaa,
  TpmAlg.Sm2,
  TpmAlg.EcSchnorr,
  TpmAlg.EcMqv,
]);
const KDF_SCHEMES: ReadonlySet<number> = new Set([
  TpmAlg.Null,
  TpmAlg.Mgf1,
  TpmAlg.Kdf1Sp800_56a,
  TpmAlg.Kdf2,
  TpmAlg.Kdf1Sp800_108,
]);
/** Largest RSA modulus / ECC coordinate a TPM2B_PUBLIC_KEY_RSA / TPM2B_ECC_PARAMETER may hold. */
const MAX_RSA_KEY_BYTES = 512;
const MAX_ECC_KEY_BYTES = 66;

function schemeHasHash(scheme: number): boolean {
  return scheme !== TpmAlg.Null && scheme !== TpmAlg.RsaEs;
}

function readSymDef(r: Reader): TpmtSymDefObject {
  return r.field('symmetric', () => {
    const algorithm = r.field('algorithm', () => r.u16());
    if (algorithm === TpmAlg.Null) return { algorithm };
    if (!SYM_OBJECT_ALGS.has(algorithm)) {
      r.fail(
        `unsupported symmetric algorithm 0x${algorithm.toString(16)}`,
        TpmErrorCode.Unsupported,
      );
    }
    const keyBits = r.field('keyBits', () => r.u16());
    const mode = r.field('mode', () => r.u16());
    return { algorithm, keyBits, mode };
  });
}

function readScheme(r: Reader, allowed: ReadonlySet<number>): TpmtAsymScheme {
  return r.field('scheme', () => {
    const scheme = r.field('scheme', () => r.u16());
    if (!allowed.has(scheme)) {
      r.fail(`unsupported scheme 0x${scheme.toString(16)}`, TpmErrorCode.Unsupported);
    }
    if (!schemeHasHash(scheme)) return { scheme };
    const hashAlg = r.field('hashAlg', () => r.u16());
    if (scheme !== TpmAlg.Ecdaa) return { scheme, hashAlg };
    const count = r.field('count', () => r.u16());
    return { scheme, hashAlg, count };
  });
}

function readKdf(r: Reader): TpmtKdfScheme {
  return r.field('kdf', () => {
    const scheme = r.field('scheme', () => r.u16());
    if (!KDF_SCHEMES.has(scheme))
      r.fail(`unsupported kdf 0x${scheme.toString(16)}`, TpmErrorCode.Unsupported);
    if (scheme === TpmAlg.Null) return { scheme };
    return { scheme, hashAlg: r.field('hashAlg', () => r.u16()) };
  });
}

/** Reads a TPMT_PUBLIC (RSA or ECC). */
export function readTpmtPublic(r: Reader): TpmtPublic {
  return r.field('TPMT_PUBLIC', () => {
    const type = r.field('type', () => {
      const t = r.u16();
      if (t !== TpmAlg.Rsa && t !== TpmAlg.Ecc)
        r.fail(`unsupported object type 0x${t.toString(16)}`, TpmErrorCode.Unsupported);
      return t;
    });
    const nameAlg = r.field('nameAlg', () => {
      const a = r.u16();
      if (!isTpmHashAlg(a))
        r.fail(`unsupported nameAlg 0x${a.toString(16)}`, TpmErrorCode.Unsupported);
      return a;
    });
    const objectAttributes = r.field('objectAttributes', () => readTpmaObject(r));
    const authPolicy = r.field('authPolicy', () => r.sized16(MAX_DIGEST_SIZE));
    const common = { nameAlg, objectAttributes, authPolicy };
    if (type === TpmAlg.Rsa) {
      const parameters = r.field('parameters', (): TpmsRsaParms => {
        const symmetric = readSymDef(r);
        const scheme = readScheme(r, RSA_SCHEMES);
        const keyBits = r.field('keyBits', () => r.u16());
        const exponent = r.field('exponent', () => r.u32());
        return { symmetric, scheme, keyBits, exponent };
      });
      const unique = r.field('unique', () => r.sized16(MAX_RSA_KEY_BYTES));
      if (unique.length !== 0 && unique.length * 8 !== parameters.keyBits) {
        r.fail(
          `modulus of ${unique.length * 8} bits but keyBits ${parameters.keyBits}`,
          TpmErrorCode.BadValue,
        );
      }
      return { type: TpmAlg.Rsa, ...common, parameters, unique };
    }
    const parameters = r.field('parameters', (): TpmsEccParms => {
      const symmetric = readSymDef(r);
      const scheme = readScheme(r, ECC_SCHEMES);
      const curveId = r.field('curveID', () => r.u16());
      const kdf = readKdf(r);
      return { symmetric, scheme, curveId, kdf };
    });
    const unique = r.field('unique', () => readEccPoint(r));
    return { type: TpmAlg.Ecc, ...common, parameters, unique };
  });
}

/** Reads a TPMS_ECC_POINT (two TPM2B_ECC_PARAMETERs). */
export function readEccPoint(r: Reader): TpmsEccPoint {
  const x = r.field('x', () => r.sized16(MAX_ECC_KEY_BYTES));
  const y = r.field('y', () => r.sized16(MAX_ECC_KEY_BYTES));
  return { x, y };
}

/** Writes a TPMS_ECC_POINT. */
export function writeEccPoint(w: Writer, p: TpmsEccPoint): void {
  w.sized16(p.x).sized16(p.y);
}

function writeSymDef(w: Writer, s: TpmtSymDefObject): void {
  w.u16(s.algorithm);
  if (s.algorithm === TpmAlg.Null) return;
  if (s.keyBits === undefined || s.mode === undefined) {
    throw tpmError(TpmErrorCode.Encode, 'symmetric definition needs keyBits and mode');
  }
  w.u16(s.keyBits).u16(s.mode);
}

function writeScheme(w: Writer, s: TpmtAsymScheme): void {
  w.u16(s.scheme);
  if (!schemeHasHash(s.scheme)) return;
  if (s.hashAlg === undefined) throw tpmError(TpmErrorCode.Encode, 'scheme needs hashAlg');
  w.u16(s.hashAlg);
  if (s.scheme === TpmAlg.Ecdaa) w.u16(s.count ?? 0);
}

/** Writes a TPMT_PUBLIC. */
export function writeTpmtPublic(w: Writer, pub: TpmtPublic): void {
  w.u16(pub.type)
    .u16(pub.nameAlg)
    .u32(tpmaObjectToWord(pub.objectAttributes))
    .sized16(pub.authPolicy);
  const p = pub.parameters;
  writeSymDef(w, p.symmetric);
  writeScheme(w, p.scheme);
  if (pub.type === TpmAlg.Rsa) {
    w.u16(pub.parameters.keyBits).u32(pub.parameters.exponent).sized16(pub.unique);
    return;
  }
  w.u16(pub.parameters.curveId);
  const kdf = pub.parameters.kdf;
  w.u16(kdf.scheme);
  if (kdf.scheme !== TpmAlg.Null) {
    if (kdf.hashAlg === undefined) throw tpmError(TpmErrorCode.Encode, 'kdf needs hashAlg');
    w.u16(kdf.hashAlg);
  }
  writeEccPoint(w, pub.unique);
}

/** Reads a TPM2B_PUBLIC, keeping the TPMT_PUBLIC bytes as received. */
export function readTpm2bPublic(r: Reader): Tpm2b<TpmtPublic> {
  return r.field('TPM2B_PUBLIC', () => readSized(r, readTpmtPublic));
}

/** Writes a TPM2B_PUBLIC (u16 size ‖ TPMT_PUBLIC). */
export function writeTpm2bPublic(w: Writer, pub: TpmtPublic): void {
  w.sized16(encodeTpmtPublic(pub));
}

/** Decodes a complete TPMT_PUBLIC; trailing bytes are an error. */
export function decodeTpmtPublic(bytes: Uint8Array): Tpm2b<TpmtPublic> {
  return { value: decodeAll(bytes, readTpmtPublic), bytes };
}

/** Decodes a complete TPM2B_PUBLIC (e.g. upstream's `aik_tpm` / `ek_tpm` after base64). */
export function decodeTpm2bPublic(bytes: Uint8Array): Tpm2b<TpmtPublic> {
  return decodeAll(bytes, readTpm2bPublic);
}

/** Marshals a TPMT_PUBLIC. */
export function encodeTpmtPublic(pub: TpmtPublic): Uint8Array {
  const w = new Writer(512);
  writeTpmtPublic(w, pub);
  return w.finish();
}

/** Marshals a TPM2B_PUBLIC. */
export function encodeTpm2bPublic(pub: TpmtPublic): Uint8Array {
  const w = new Writer(514);
  writeTpm2bPublic(w, pub);
  return w.finish();
}

/**
 * The object Name: nameAlg (u16) ‖ H_nameAlg(TPMT_PUBLIC bytes as received) (Part 1 §16;
 * agent-registrar-tenant §3.4 step 2).
 */
export function objectName(pub: Tpm2b<TpmtPublic>): Uint8Array {
  const alg = pub.value.nameAlg;
  const digest = tpmHash(alg, pub.bytes);
  const name = new Uint8Array(2 + digest.length);
  name[0] = alg >>> 8;
  name[1] = alg & 0xff;
  name.set(digest, 2);
  return name;
}
