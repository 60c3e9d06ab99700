/**
 * @module quote: quote verification as upstream's verifier performs it (verifier §3.2-3.5): signature
 * under the AK, algorithms, nonce, PCR digest recomputed from the PCR blob, quoted = supplied PCRs,
 * then the clock and PCR 16 checks. Bad evidence yields a failed Verdict, never an exception.
 */
import { hash as oneShotHash, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { KeylimeError, isBase64 } from '@keylime/core';
import type { HashAlg } from '@keylime/crypto';
import { decodeTpmsAttest, scanQuoteAttest } from './attest';
import type { TpmsAttestQuote, TpmsClockInfo } from './attest';
import { TpmAlg, TpmSt } from './constants';
import { TpmErrorCode, tpmError } from './errors';
import { DataPcrEventId, QuoteEventId, failed } from './failure';
import type { FailureEvent, Verdict } from './failure';
import { hashAlgId, hashAlgName } from './hash';
import { eccCurveInfo, tpmPublicToKeyObject } from './keys';
import { decodePcrBlob, pcrBlobValues } from './pcr-blob';
import { scanPcrBlobLayout } from './pcr-blob-scan';
import type { PcrBlobLayout } from './pcr-blob-scan';
import { TPM_DATA_PCR, dataPcrValue } from './pcr';
import type { DataPcrBinding } from './pcr';
import type { TpmlPcrSelection } from './pcr-selection';
import { decodeTpm2bPublic } from './public';
import type { TpmtPublic } from './public';
import { parseQuoteStringTransient } from './quote-string';
import type { QuoteParts } from './quote-string';
import { decodeTpmtSignature, ecdsaSignatureToDer, scanTpmtSignature } from './signature';
import type { Tpm2b } from './tpm2b';

/** Signing scheme names as upstream's `accept_tpm_signing_algs` spells them. */
export type QuoteSignAlg = 'rsassa' | 'rsapss' | 'ecdsa';

/**
 * An AK prepared once and cached by the verifier: only what verification reads (the parsed public
 * area is not kept; the verifier holds one of these per enrolled agent).
 */
export interface QuoteVerificationKey {
  /** The AK's TPM key type: `TpmAlg.Rsa` or `TpmAlg.Ecc`. */
  readonly type: typeof TpmAlg.Rsa | typeof TpmAlg.Ecc;
  /**
   * What crypto.verify takes, for RSA and ECDSA alike: ECDSA signatures go in as DER, never with
   * `dsaEncoding: 'ieee-p1363'`, which makes OpenSSL keep ≈2 KiB more per key (one key per agent).
   */
  readonly keyObject: KeyObject;
  /** ECC coordinate size in bytes; 0 for RSA. */
  readonly coordinateSize: number;
}

/** Parses `aik_tpm` (TPM2B_PUBLIC bytes) into a cached verification key; throws for a bad key (a fault). */
export function prepareQuoteKey(akTpm: Uint8Array | Tpm2b<TpmtPublic>): QuoteVerificationKey {
  const pub = (akTpm instanceof Uint8Array ? decodeTpm2bPublic(akTpm) : akTpm).value;
  const keyObject = tpmPublicToKeyObject(pub);
  if (pub.type === TpmAlg.Rsa) return { type: TpmAlg.Rsa, keyObject, coordinateSize: 0 };
  const curve = eccCurveInfo(pub.parameters.curveId);
  if (curve === undefined) throw tpmError(TpmErrorCode.Unsupported, 'unsupported AK curve');
  return { type: TpmAlg.Ecc, keyObject, coordinateSize: curve.coordinateSize };
}

/** What the verifier expects of a quote. */
export interface QuoteExpectations {
  readonly ak: QuoteVerificationKey;
  /** The nonce sent to the agent: compared as UTF-8, then as base64 of raw bytes (push mode). */
  readonly nonce: string | Uint8Array;
  /** The hash algorithm the agent reported (`hash_alg`); the signature must use it. */
  readonly hashAlg: HashAlg;
  /** `accept_tpm_hash_algs`; default: all supported. */
  readonly acceptedHashAlgs?: readonly HashAlg[];
  /** `accept_tpm_signing_algs`; default: rsassa and ecdsa. */
  readonly acceptedSignAlgs?: readonly QuoteSignAlg[];
}

/** A quote whose signature, nonce and PCR digest checked out. */
export interface VerifiedQuote {
  readonly attest: TpmsAttestQuote;
  readonly hashAlg: HashAlg;
  /** PCR number → lower-case hex value, for the quote's bank (upstream `pcrs_dict`). */
  readonly pcrs: ReadonlyMap<number, string>;
  readonly clockInfo: TpmsClockInfo;
  readonly firmwareVersion: bigint;
}

const SIGN_ALG_NAMES: ReadonlyMap<number, QuoteSignAlg> = new Map<number, QuoteSignAlg>([
  [TpmAlg.RsaSsa, 'rsassa'],
  [TpmAlg.RsaPss, 'rsapss'],
  [TpmAlg.Ecdsa, 'ecdsa'],
]);

function quoteFailure(error: string): Verdict<never> {
  return failed(QuoteEventId.QuoteValidation, { message: 'Quote data validation', error }, false);
}

/** Index of `bank` among the even (bank) slots of a pairs array, or -1. */
function findBank(pairs: readonly number[], bank: number): number {
  for (let i = 0; i < pairs.length; i += 2) if (pairs[i] === bank) return i;
  return -1;
}

/** The selection as [bank, bitmap, …] pairs, empty bitmaps dropped, so only the set of PCRs is compared. */
function selectionPairs(list: TpmlPcrSelection): number[] {
  const out: number[] = [];
  for (const s of list) {
    let bits = 0;
    for (let i = 0; i < s.pcrSelect.length; i++) bits |= (s.pcrSelect[i] as number) << (8 * i);
    if (bits === 0) continue;
    const at = findBank(out, s.hash);
    if (at >= 0) out[at + 1] = ((out[at + 1] as number) | bits) >>> 0;
    else out.push(s.hash, bits >>> 0);
  }
  return out;
}

/** Same set of PCRs, given as selection pairs. */
function samePairs(x: readonly number[], y: readonly number[]): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i += 2) {
    const at = findBank(y, x[i] as number);
    if (at < 0 || y[at + 1] !== x[i + 1]) return false;
  }
  return true;
}

/**
 * Equality without a data-dependent early exit once lengths match (like timingSafeEqual); in JS because
 * the native call costs more than comparing 20-64 bytes on the hot path.
 */
function bytesEqualCt(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/** `a` equals the char codes of `s` (an all-ASCII string's UTF-8 bytes, or a latin1 digest), as above. */
function codesEqualCt(a: Uint8Array, s: string): boolean {
  if (a.length !== s.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ s.charCodeAt(i);
  return d === 0;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function nonceMatches(extraData: Uint8Array, nonce: string | Uint8Array): boolean {
  if (typeof nonce !== 'string') return bytesEqualCt(extraData, nonce);
  if (
    isAscii(nonce)
      ? codesEqualCt(extraData, nonce)
      : bytesEqualCt(extraData, Buffer.from(nonce, 'utf8'))
  )
    return true;
  return isBase64(nonce) && bytesEqualCt(extraData, Buffer.from(nonce, 'base64'));
}

/**
 * The strict decoder's verdict on a blob the fast scan refused: normally throws with offset and field.
 * Should it accept, its values are copied into `src` so the rest of the path reads them alike.
 */
function strictPcrBlob(bytes: Uint8Array): { src: Uint8Array; layout: PcrBlobLayout } {
  const blob = decodePcrBlob(bytes);
  const list = pcrBlobValues(blob);
  let total = 0;
  for (const v of list) total += v.value.length;
  const src = new Uint8Array(total);
  const values: number[] = [];
  let at = 0;
  for (const v of list) {
    src.set(v.value, at);
    values.push(v.hash, v.pcr, at, v.value.length);
    at += v.value.length;
  }
  return { src, layout: { selection: selectionPairs(blob.selections), values } };
}

/** Reused for the concatenated PCR values (consumed before checkQuote returns); grows up to a cap. */
const CONCAT_MAX = 16 * 1024;
let concatBuf = Buffer.allocUnsafeSlow(1024);
let concatView = new DataView(concatBuf.buffer, concatBuf.byteOffset, concatBuf.length);

/**
 * The values [bank, pcr, offset, size]* of `src` concatenated into the reused buffer (or a fresh one
 * when large), 4 bytes at a time: a byte loop costs more than the rest of the PCR digest check.
 */
function concatValues(src: Uint8Array, v: readonly number[], total: number): Buffer {
  if (total > concatBuf.length) {
    if (total > CONCAT_MAX) {
      const out = Buffer.allocUnsafeSlow(total);
      let at = 0;
      for (let k = 0; k < v.length; k += 4) {
        const from = v[k + 2] as number;
        out.set(src.subarray(from, from + (v[k + 3] as number)), at);
        at += v[k + 3] as number;
      }
      return out;
    }
    concatBuf = Buffer.allocUnsafeSlow(total);
    concatView = new DataView(concatBuf.buffer, concatBuf.byteOffset, concatBuf.length);
  }
  const out = concatBuf;
  const dv = concatView;
  const sv = new DataView(src.buffer, src.byteOffset, src.length);
  let at = 0;
  for (let k = 0; k < v.length; k += 4) {
    let i = v[k + 2] as number;
    const end = i + (v[k + 3] as number);
    for (; i + 4 <= end; i += 4, at += 4) dv.setUint32(at, sv.getUint32(i, true), true);
    for (; i < end; i++) out[at++] = src[i] as number;
  }
  return out;
}

const DEFAULT_SIGN_ALGS: readonly QuoteSignAlg[] = ['rsassa', 'ecdsa'];

function checkQuote(parts: QuoteParts, ex: QuoteExpectations): Verdict<VerifiedQuote> {
  const sig = scanTpmtSignature(parts.signature) ?? decodeTpmtSignature(parts.signature);
  // verifier §3.2 step 2: RSA AKs sign quotes with RSASSA only, ECC AKs with ECDSA only.
  const wanted = ex.ak.type === TpmAlg.Rsa ? TpmAlg.RsaSsa : TpmAlg.Ecdsa;
  if (sig.sigAlg !== wanted) {
    return quoteFailure(
      `unsupported quote signature algorithm 0x${sig.sigAlg.toString(16)} for this AK`,
    );
  }
  const signName = SIGN_ALG_NAMES.get(sig.sigAlg) as QuoteSignAlg;
  if (!(ex.acceptedSignAlgs ?? DEFAULT_SIGN_ALGS).includes(signName)) {
    return quoteFailure(`signing algorithm ${signName} is not accepted`);
  }
  const hashName = hashAlgName(sig.hash);
  if (hashName === undefined)
    return quoteFailure(`unsupported hash with id 0x${sig.hash.toString(16)} in signature blob`);
  if (hashName !== ex.hashAlg)
    return quoteFailure(`quote was expected to use ${ex.hashAlg} but used ${hashName} instead`);
  if (ex.acceptedHashAlgs !== undefined && !ex.acceptedHashAlgs.includes(hashName)) {
    return quoteFailure(`hash algorithm ${hashName} is not accepted`);
  }
  const signature =
    sig.sigAlg === TpmAlg.Ecdsa ? ecdsaSignatureToDer(sig, ex.ak.coordinateSize) : sig.sig;
  let valid = false;
  try {
    valid = cryptoVerify(hashName, parts.attest, ex.ak.keyObject, signature);
  } catch {
    valid = false;
  }
  if (!valid) return quoteFailure('signature verification failed');

  const attest = scanQuoteAttest(parts.attest) ?? decodeTpmsAttest(parts.attest);
  if (attest.type !== TpmSt.AttestQuote) return quoteFailure('attestation is not a quote');
  if (!nonceMatches(attest.extraData, ex.nonce)) {
    return quoteFailure('The nonce from the attestation differs from the expected nonce');
  }
  const scanned = scanPcrBlobLayout(parts.pcrBlob);
  const { src, layout } =
    scanned !== undefined ? { src: parts.pcrBlob, layout: scanned } : strictPcrBlob(parts.pcrBlob);
  if (!samePairs(selectionPairs(attest.attested.pcrSelect), layout.selection)) {
    return quoteFailure('PCRs in the PCR blob differ from the PCRs the quote selected');
  }
  // One copy and one hash call: cheaper than an update per PCR (the verifier's hot path).
  const v = layout.values;
  let total = 0;
  for (let k = 3; k < v.length; k += 4) total += v[k] as number;
  const all = concatValues(src, v, total);
  // A 'binary' (latin1) string, char code = byte, comes back without allocating a Buffer.
  const digest = oneShotHash(hashName, new Uint8Array(all.buffer, all.byteOffset, total), 'binary');
  if (!codesEqualCt(attest.attested.pcrDigest, digest)) {
    return quoteFailure(
      'The digest used for quoting is different than the one that was calculated',
    );
  }
  // Eager on purpose: the verifier reads every quoted PCR (policy loop, PCR 16, IMA), so a lazy map
  // would only move this cost to the caller. One hex conversion, then slices.
  const hexAll = all.toString('hex', 0, total);
  const bank = hashAlgId(hashName);
  const pcrs = new Map<number, string>();
  let at = 0;
  for (let k = 0; k < v.length; k += 4) {
    const size = v[k + 3] as number;
    if (v[k] === bank) pcrs.set(v[k + 1] as number, hexAll.slice(at * 2, (at + size) * 2));
    at += size;
  }
  return {
    ok: true,
    value: {
      attest,
      hashAlg: hashName,
      pcrs,
      clockInfo: attest.clockInfo,
      firmwareVersion: attest.firmwareVersion,
    },
  };
}

/**
 * Verifies a quote (the Keylime quote string or its three parts) against the expectations, in
 * go-attestation's order: signature → decode → type → nonce → PCR set → PCR digest. Any problem is
 * `qoute_validation.quote_validation`, irrecoverable (verifier §3.2 step 7).
 */
export function verifyQuote(
  quote: string | QuoteParts,
  expect: QuoteExpectations,
): Verdict<VerifiedQuote> {
  try {
    return checkQuote(typeof quote === 'string' ? parseQuoteStringTransient(quote) : quote, expect);
  } catch (e) {
    if (e instanceof KeylimeError) return quoteFailure(e.message);
    throw e;
  }
}

/** The clock reference before the first quote (verifier §3.5). */
export const INITIAL_CLOCK_INFO: TpmsClockInfo = {
  clock: 0n,
  resetCount: 0,
  restartCount: 0,
  safe: 1,
};

/**
 * Clock monotonicity across quotes (verifier §3.5, upstream Tpm.check_quote_timing). On success the
 * value is the new reference to persist: `current`, or `previous` unchanged when both counters changed.
 */
export function checkClockInfo(
  previous: TpmsClockInfo,
  current: TpmsClockInfo,
): Verdict<TpmsClockInfo> {
  const fail = (data: string): Verdict<never> =>
    failed(
      QuoteEventId.QuoteValidation,
      { message: 'Validation of clockinfo from quote using tpm2-tools', data },
      false,
    );
  const resetDiff = current.resetCount - previous.resetCount;
  const restartDiff = current.restartCount - previous.restartCount;
  if (resetDiff < 0)
    return fail('resetCount value decreased on TPM between two consecutive quotes');
  if (restartDiff < 0)
    return fail('restartCount value decreased on TPM between two consecutive quotes');
  if (current.safe !== 1) return fail('clock safe flag is disabled');
  if (resetDiff === 0 || restartDiff === 0) {
    if (current.clock <= previous.clock) {
      return fail(
        'clock timestamp did issued by TPM did not increase between two consecutive quotes',
      );
    }
    return { ok: true, value: current };
  }
  return { ok: true, value: previous };
}

/**
 * PCR 16 binding of the agent's NK (verifier §3.4, pull mode only): PCR 16 must be quoted and equal
 * H(zeros ‖ H(pubkey PEM)). The key is its PEM or its DataPcrBinding. Returns the recoverable
 * event, or undefined when the binding holds.
 */
export function checkDataPcr(
  quote: VerifiedQuote,
  pubkey: string | DataPcrBinding | undefined,
): FailureEvent | undefined {
  const got = quote.pcrs.get(TPM_DATA_PCR);
  if (got === undefined || pubkey === undefined) {
    return {
      id: DataPcrEventId.MissingPcr16,
      context: { message: `Data PCR ${TPM_DATA_PCR} is missing in quote, but is required` },
      recoverable: true,
    };
  }
  const expected =
    typeof pubkey === 'string'
      ? dataPcrValue(quote.hashAlg, pubkey)
      : pubkey.expected(quote.hashAlg);
  if (got === expected) return undefined;
  return { id: DataPcrEventId.InvalidPcr16, context: { got, expected }, recoverable: true };
}
