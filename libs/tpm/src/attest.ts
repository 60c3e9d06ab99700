/**
 * @module attest: TPMS_ATTEST (Part 2 §10.12.12) for quotes (TPMS_QUOTE_INFO) and certify
 * (TPMS_CERTIFY_INFO), with TPMS_CLOCK_INFO; 64-bit fields are bigint. Magic is checked on decode.
 */
import { Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import { MAX_DIGEST_SIZE, TPM_GENERATED_VALUE, TpmSt } from './constants';
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
