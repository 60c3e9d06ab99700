/**
 * @module attest: TPMS_ATTEST (Part 2 §10.12.12) for quotes (TPMS_QUOTE_INFO) and certify
 * (TPMS_CERTIFY_INFO), with TPMS_CLOCK_INFO; 64-bit fields are bigint. Magic is checked on decode.
 */
import { Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import {
  MAX_DIGEST_SIZE,
  NUM_PCR_BANKS,
  PCR_SELECT_MAX,
  TPM_GENERATED_VALUE,
  TpmSt,
} from './constants';
import { TpmErrorCode } from './errors';
import { readTpmlPcrSelection, writeTpmlPcrSelection } from './pcr-selection';
import type { TpmlPcrSelection } from './pcr-selection';
import { readSized } from './tpm2b';
import type { Tpm2b } from './tpm2b';

/** Largest TPM2B_NAME / TPM2B_DATA payload: sizeof(TPMT_HA) = 2 + 64. */
const MAX_NAME_SIZE = 2 + MAX_DIGEST_SIZE;

/** TPMS_CLOCK_INFO (Part 2 §10.11.1). `safe` is TPMI_YES_NO (0 or 1). */
export interface TpmsClockInfo {
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: 0 | 1;
}

/** TPMS_QUOTE_INFO (Part 2 §10.12.1). */
export interface TpmsQuoteInfo {
  readonly pcrSelect: TpmlPcrSelection;
  readonly pcrDigest: Uint8Array;
}

/** TPMS_CERTIFY_INFO (Part 2 §10.12.3). */
export interface TpmsCertifyInfo {
  readonly name: Uint8Array;
  readonly qualifiedName: Uint8Array;
}

interface TpmsAttestCommon {
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clockInfo: TpmsClockInfo;
  readonly firmwareVersion: bigint;
}

/** TPMS_ATTEST of TPM2_Quote. */
export interface TpmsAttestQuote extends TpmsAttestCommon {
  readonly type: typeof TpmSt.AttestQuote;
  readonly attested: TpmsQuoteInfo;
}

/** TPMS_ATTEST of TPM2_Certify. */
export interface TpmsAttestCertify extends TpmsAttestCommon {
  readonly type: typeof TpmSt.AttestCertify;
  readonly attested: TpmsCertifyInfo;
}

/** TPMS_ATTEST, discriminated by `type` (the TPMI_ST_ATTEST selector); magic is implied. */
export type TpmsAttest = TpmsAttestQuote | TpmsAttestCertify;

/** Reads a TPMS_CLOCK_INFO. */
export function readTpmsClockInfo(r: Reader): TpmsClockInfo {
  return r.field('clockInfo', () => {
    const clock = r.field('clock', () => r.u64());
    const resetCount = r.field('resetCount', () => r.u32());
    const restartCount = r.field('restartCount', () => r.u32());
    const safe = r.field('safe', () => r.u8());
    if (safe !== 0 && safe !== 1) r.fail(`safe must be 0 or 1, got ${safe}`, TpmErrorCode.BadValue);
    return { clock, resetCount, restartCount, safe };
  });
}

/** Reads a TPMS_ATTEST of type quote or certify. */
export function readTpmsAttest(r: Reader): TpmsAttest {
  return r.field('TPMS_ATTEST', () => {
    const magic = r.field('magic', () => r.u32());
    if (magic !== TPM_GENERATED_VALUE) {
      r.fail(`magic 0x${magic.toString(16)} is not TPM_GENERATED_VALUE`, TpmErrorCode.BadMagic);
    }
    const type = r.field('type', () => r.u16());
    if (type !== TpmSt.AttestQuote && type !== TpmSt.AttestCertify) {
      r.fail(`unsupported attestation type 0x${type.toString(16)}`, TpmErrorCode.Unsupported);
    }
    const qualifiedSigner = r.field('qualifiedSigner', () => r.sized16(MAX_NAME_SIZE));
    const extraData = r.field('extraData', () => r.sized16(MAX_NAME_SIZE));
    const clockInfo = readTpmsClockInfo(r);
    const firmwareVersion = r.field('firmwareVersion', () => r.u64());
    const common = { qualifiedSigner, extraData, clockInfo, firmwareVersion };
    if (type === TpmSt.AttestQuote) {
      const attested = r.field('attested.quote', (): TpmsQuoteInfo => {
        const pcrSelect = readTpmlPcrSelection(r);
        const pcrDigest = r.field('pcrDigest', () => r.sized16(MAX_DIGEST_SIZE));
        return { pcrSelect, pcrDigest };
      });
      return { type: TpmSt.AttestQuote, ...common, attested };
    }
    const attested = r.field('attested.certify', (): TpmsCertifyInfo => {
      const name = r.field('name', () => r.sized16(MAX_NAME_SIZE));
      const qualifiedName = r.field('qualifiedName', () => r.sized16(MAX_NAME_SIZE));
      return { name, qualifiedName };
    });
    return { type: TpmSt.AttestCertify, ...common, attested };
  });
}

/** Writes a TPMS_ATTEST. */
export function writeTpmsAttest(w: Writer, a: TpmsAttest): void {
  w.u32(TPM_GENERATED_VALUE).u16(a.type).sized16(a.qualifiedSigner).sized16(a.extraData);
  const c = a.clockInfo;
  w.u64(c.clock).u32(c.resetCount).u32(c.restartCount).u8(c.safe).u64(a.firmwareVersion);
  if (a.type === TpmSt.AttestQuote) {
    writeTpmlPcrSelection(w, a.attested.pcrSelect);
    w.sized16(a.attested.pcrDigest);
  } else {
    w.sized16(a.attested.name).sized16(a.attested.qualifiedName);
  }
}

/** Decodes a complete TPMS_ATTEST (a quote's or certify's `message` / quoteblob). */
export function decodeTpmsAttest(bytes: Uint8Array): TpmsAttest {
  return decodeAll(bytes, readTpmsAttest);
}

/** Marshals a TPMS_ATTEST. */
export function encodeTpmsAttest(a: TpmsAttest): Uint8Array {
  const w = new Writer(256);
  writeTpmsAttest(w, a);
  return w.finish();
}

/** Reads a TPM2B_ATTEST (as TPM2_Quote / TPM2_Certify return it), keeping the signed bytes. */
export function readTpm2bAttest(r: Reader): Tpm2b<TpmsAttest> {
  return r.field('TPM2B_ATTEST', () => readSized(r, readTpmsAttest));
}

/**
 * Fast path for the verifier: decodes a quote-type TPMS_ATTEST by offset arithmetic, accepting exactly
 * what readTpmsAttest accepts for quotes (a property test checks this). Undefined means "let the strict
 * decoder decide" — it then reports offset and field.
 */
export function scanQuoteAttest(b: Uint8Array): TpmsAttestQuote | undefined {
  const len = b.length;
  if (len < 6) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, len);
  if (view.getUint32(0) !== TPM_GENERATED_VALUE || view.getUint16(4) !== TpmSt.AttestQuote)
    return undefined;
  // qualifiedSigner and extraData: TPM2B of at most MAX_NAME_SIZE bytes each.
  if (8 > len) return undefined;
  const n1 = view.getUint16(6);
  if (n1 > MAX_NAME_SIZE || 8 + n1 + 2 > len) return undefined;
  const n2 = view.getUint16(8 + n1);
  let o = 10 + n1;
  if (n2 > MAX_NAME_SIZE || o + n2 + 29 > len) return undefined;
  const qualifiedSigner = b.subarray(8, 8 + n1);
  const extraData = b.subarray(o, o + n2);
  o += n2;
  const safe = b[o + 16] as number;
  if (safe > 1) return undefined;
  const clockInfo: TpmsClockInfo = {
    clock: view.getBigUint64(o),
    resetCount: view.getUint32(o + 8),
    restartCount: view.getUint32(o + 12),
    safe: safe as 0 | 1,
  };
  const firmwareVersion = view.getBigUint64(o + 17);
  o += 25;
  if (o + 4 > len) return undefined;
  const count = view.getUint32(o);
  if (count > NUM_PCR_BANKS) return undefined;
  o += 4;
  const pcrSelect: { hash: number; pcrSelect: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    if (o + 3 > len) return undefined;
    const size = b[o + 2] as number;
    if (size > PCR_SELECT_MAX || o + 3 + size > len) return undefined;
    pcrSelect.push({ hash: view.getUint16(o), pcrSelect: b.subarray(o + 3, o + 3 + size) });
    o += 3 + size;
  }
  if (o + 2 > len) return undefined;
  const nd = view.getUint16(o);
  if (nd > MAX_DIGEST_SIZE || o + 2 + nd !== len) return undefined;
  const pcrDigest = b.subarray(o + 2, len);
  return {
    type: TpmSt.AttestQuote,
    qualifiedSigner,
    extraData,
    clockInfo,
    firmwareVersion,
    attested: { pcrSelect, pcrDigest },
  };
}
