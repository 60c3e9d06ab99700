/**
 * @module signature: TPMT_SIGNATURE (Part 2 §11.3.4) for RSASSA, RSAPSS and ECDSA, and the forms Node's
 * crypto.verify takes for ECDSA (DER `SEQUENCE { r, s }`, which the verifier uses, or IEEE-P1363 r‖s
 * padded to the curve size; verifier §3.1 sigblob).
 */
import { Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import { TpmAlg } from './constants';
import { derLengthSize, writeDerLength } from './der';
import type { TpmAlgId } from './constants';
import { TpmErrorCode, tpmError } from './errors';

/** TPMS_SIGNATURE_RSA under RSASSA or RSAPSS. */
export interface TpmtSignatureRsa {
  readonly sigAlg: typeof TpmAlg.RsaSsa | typeof TpmAlg.RsaPss;
  readonly hash: TpmAlgId;
  readonly sig: Uint8Array;
}

/** TPMS_SIGNATURE_ECC under ECDSA. r and s as the TPM sent them (may be shorter than the curve size). */
export interface TpmtSignatureEcdsa {
  readonly sigAlg: typeof TpmAlg.Ecdsa;
  readonly hash: TpmAlgId;
  readonly signatureR: Uint8Array;
  readonly signatureS: Uint8Array;
}

/** TPMT_SIGNATURE, discriminated by `sigAlg`. */
export type TpmtSignature = TpmtSignatureRsa | TpmtSignatureEcdsa;

/** TPM2B_PUBLIC_KEY_RSA max (4096-bit) and TPM2B_ECC_PARAMETER max (P-521). */
const MAX_RSA_SIG = 512;
const MAX_ECC_PARAM = 66;

/** Reads a TPMT_SIGNATURE. */
export function readTpmtSignature(r: Reader): TpmtSignature {
  return r.field('TPMT_SIGNATURE', () => {
    const sigAlg = r.field('sigAlg', () => r.u16());
    const hash = r.field('hash', () => r.u16());
    if (sigAlg === TpmAlg.RsaSsa || sigAlg === TpmAlg.RsaPss) {
      const sig = r.field('sig', () => r.sized16(MAX_RSA_SIG));
      if (sig.length === 0) r.fail('empty RSA signature', TpmErrorCode.BadValue);
      return { sigAlg, hash, sig };
    }
    if (sigAlg === TpmAlg.Ecdsa) {
      const signatureR = r.field('signatureR', () => r.sized16(MAX_ECC_PARAM));
      const signatureS = r.field('signatureS', () => r.sized16(MAX_ECC_PARAM));
      if (signatureR.length === 0 || signatureS.length === 0)
        r.fail('empty ECDSA r or s', TpmErrorCode.BadValue);
      return { sigAlg, hash, signatureR, signatureS };
    }
    return r.fail(
      `unsupported signature algorithm 0x${sigAlg.toString(16)}`,
      TpmErrorCode.Unsupported,
    );
  });
}

/** Writes a TPMT_SIGNATURE. */
export function writeTpmtSignature(w: Writer, s: TpmtSignature): void {
  w.u16(s.sigAlg).u16(s.hash);
  if (s.sigAlg === TpmAlg.Ecdsa) w.sized16(s.signatureR).sized16(s.signatureS);
  else w.sized16(s.sig);
}

/** Decodes a complete TPMT_SIGNATURE (a quote's sigblob). */
export function decodeTpmtSignature(bytes: Uint8Array): TpmtSignature {
  return decodeAll(bytes, readTpmtSignature);
}

/**
 * Fast path for the verifier: a TPMT_SIGNATURE by offset arithmetic, without the Reader's field
 * bookkeeping. Accepts exactly what decodeTpmtSignature accepts (a property test checks this);
 * undefined means "let the strict decoder decide" — it then reports offset and field.
 */
export function scanTpmtSignature(b: Uint8Array): TpmtSignature | undefined {
  const len = b.length;
  if (len < 6) return undefined;
  const sigAlg = ((b[0] as number) << 8) | (b[1] as number);
  const hash = ((b[2] as number) << 8) | (b[3] as number);
  const n = ((b[4] as number) << 8) | (b[5] as number);
  if (sigAlg === TpmAlg.RsaSsa || sigAlg === TpmAlg.RsaPss) {
    if (n === 0 || n > MAX_RSA_SIG || 6 + n !== len) return undefined;
    return { sigAlg, hash, sig: b.subarray(6, len) };
  }
  if (sigAlg !== TpmAlg.Ecdsa || n === 0 || n > MAX_ECC_PARAM || 8 + n > len) return undefined;
  const m = ((b[6 + n] as number) << 8) | (b[7 + n] as number);
  if (m === 0 || m > MAX_ECC_PARAM || 8 + n + m !== len) return undefined;
  return {
    sigAlg,
    hash,
    signatureR: b.subarray(6, 6 + n),
    signatureS: b.subarray(8 + n, len),
  };
}

/** Marshals a TPMT_SIGNATURE. */
export function encodeTpmtSignature(s: TpmtSignature): Uint8Array {
  const w = new Writer(6 + 512);
  writeTpmtSignature(w, s);
  return w.finish();
}

/**
 * r‖s, each left-padded to `coordinateSize` (IEEE-P1363, what Node's `dsaEncoding: 'ieee-p1363'`
 * takes). Leading zero bytes beyond the size are stripped; a value that still does not fit is an error
 * (upstream ecdsa_der_from_tpm checks the same bound).
 */
export function ecdsaSignatureToP1363(s: TpmtSignatureEcdsa, coordinateSize: number): Uint8Array {
  const out = new Uint8Array(coordinateSize * 2);
  placeInteger(out, 0, coordinateSize, s.signatureR, 'r');
  placeInteger(out, coordinateSize, coordinateSize, s.signatureS, 's');
  return out;
}

function placeInteger(
  out: Uint8Array,
  at: number,
  size: number,
  value: Uint8Array,
  what: string,
): void {
  let start = 0;
  while (start < value.length - size && value[start] === 0) start++;
  const v = value.subarray(start);
  if (v.length > size) {
    throw tpmError(
      TpmErrorCode.BadValue,
      `ECDSA ${what} of ${v.length} bytes exceeds the curve size ${size}`,
    );
  }
  out.set(v, at + size - v.length);
}

/**
 * DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3), what Node's
 * crypto.verify takes by default. The verifier uses this form, not IEEE-P1363: a KeyObject verified
 * with `dsaEncoding: 'ieee-p1363'` keeps ≈2 KiB of native OpenSSL state per key, DER ≈0.1 KiB.
 * Integers are minimal (leading zero bytes stripped, 0x00 prepended when the high bit is set), so
 * OpenSSL's canonical-encoding check accepts them. r or s of zero, or longer than `coordinateSize`
 * once stripped, is a malformed signature (KL_TPM_BAD_VALUE; upstream ecdsa_der_from_tpm checks the
 * same bound).
 */
export function ecdsaSignatureToDer(s: TpmtSignatureEcdsa, coordinateSize: number): Uint8Array {
  // Built in one allocation: this runs once per quote (docs/performance.md, allocation profile).
  const r = stripInteger(s.signatureR, coordinateSize, 'r');
  const sv = stripInteger(s.signatureS, coordinateSize, 's');
  const rLen = r.length + ((r[0] as number) >= 0x80 ? 1 : 0);
  const sLen = sv.length + ((sv[0] as number) >= 0x80 ? 1 : 0);
  const body = 1 + derLengthSize(rLen) + rLen + 1 + derLengthSize(sLen) + sLen;
  const out = new Uint8Array(1 + derLengthSize(body) + body);
  out[0] = 0x30;
  let at = writeDerLength(out, 1, body);
  at = writeDerInteger(out, at, r, rLen);
  writeDerInteger(out, at, sv, sLen);
  return out;
}

/** INTEGER `v` with content length `len` at `at`; a 0x00 pad, when `len` has one, is already zero. */
function writeDerInteger(out: Uint8Array, at: number, v: Uint8Array, len: number): number {
  out[at] = 0x02;
  const content = writeDerLength(out, at + 1, len);
  out.set(v, content + len - v.length);
  return content + len;
}

/** `value` without leading zero bytes; throws for zero (or empty) and for more than `size` bytes. */
function stripInteger(value: Uint8Array, size: number, what: string): Uint8Array {
  let start = 0;
  while (start < value.length && value[start] === 0) start++;
  if (start === value.length) throw tpmError(TpmErrorCode.BadValue, `ECDSA ${what} is zero`);
  if (value.length - start > size) {
    throw tpmError(
      TpmErrorCode.BadValue,
      `ECDSA ${what} of ${value.length - start} bytes exceeds the curve size ${size}`,
    );
  }
  return value.subarray(start);
}
