/**
 * @module quote: quote verification as upstream's verifier performs it (verifier §3.2-3.5): signature
 * under the AK, algorithms, nonce, PCR digest recomputed from the PCR blob, quoted = supplied PCRs,
 * then the clock and PCR 16 checks. Bad evidence yields a failed Verdict, never an exception.
 */
import { hash as oneShotHash, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject, VerifyKeyObjectInput } from 'node:crypto';
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
import type { PcrBlobValue } from './pcr-blob';
import { scanPcrBlob } from './pcr-blob-scan';
import { TPM_DATA_PCR, dataPcrValue } from './pcr';
import type { TpmlPcrSelection } from './pcr-selection';
import { decodeTpm2bPublic } from './public';
import type { TpmtPublic } from './public';
import { parseQuoteString } from './quote-string';
import type { QuoteParts } from './quote-string';
import { decodeTpmtSignature, ecdsaSignatureToP1363 } from './signature';
import type { Tpm2b } from './tpm2b';

/** Signing scheme names as upstream's `accept_tpm_signing_algs` spells them. */
export type QuoteSignAlg = 'rsassa' | 'rsapss' | 'ecdsa';

/** An AK prepared once and cached by the verifier: parsed public area and ready-to-use Node key. */
export interface QuoteVerificationKey {
  readonly public: Tpm2b<TpmtPublic>;
  readonly keyObject: KeyObject;
  /** What crypto.verify takes: the KeyObject (RSA) or it with IEEE-P1363 encoding (ECDSA). */
  readonly verifyKey: KeyObject | VerifyKeyObjectInput;
  /** ECC coordinate size in bytes; 0 for RSA. */
  readonly coordinateSize: number;
}

/** Parses `aik_tpm` (TPM2B_PUBLIC bytes) into a cached verification key; throws for a bad key (a fault). */
export function prepareQuoteKey(akTpm: Uint8Array | Tpm2b<TpmtPublic>): QuoteVerificationKey {
  const pub = akTpm instanceof Uint8Array ? decodeTpm2bPublic(akTpm) : akTpm;
  const keyObject = tpmPublicToKeyObject(pub.value);
  if (pub.value.type === TpmAlg.Rsa)
    return { public: pub, keyObject, verifyKey: keyObject, coordinateSize: 0 };
  const curve = eccCurveInfo(pub.value.parameters.curveId);
  if (curve === undefined) throw tpmError(TpmErrorCode.Unsupported, 'unsupported AK curve');
  return {
    public: pub,
    keyObject,
    verifyKey: { key: keyObject, dsaEncoding: 'ieee-p1363' },
    coordinateSize: curve.coordinateSize,
  };
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

function sameSelection(a: TpmlPcrSelection, b: TpmlPcrSelection): boolean {
  const x = selectionPairs(a);
  const y = selectionPairs(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i += 2) {
    const at = findBank(y, x[i] as number);
    if (at < 0 || y[at + 1] !== x[i + 1]) return false;
  }
  return true;
}

function bytesEqualCt(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function nonceMatches(extraData: Uint8Array, nonce: string | Uint8Array): boolean {
  if (typeof nonce !== 'string') return bytesEqualCt(extraData, nonce);
  if (bytesEqualCt(extraData, Buffer.from(nonce, 'utf8'))) return true;
  return isBase64(nonce) && bytesEqualCt(extraData, Buffer.from(nonce, 'base64'));
}

/** The strict decoder's verdict on a blob the fast scan refused: normally throws with offset and field. */
function strictPcrBlob(bytes: Uint8Array): {
  selections: TpmlPcrSelection;
  values: PcrBlobValue[];
} {
  const blob = decodePcrBlob(bytes);
  return { selections: blob.selections, values: pcrBlobValues(blob) };
}

function checkQuote(parts: QuoteParts, ex: QuoteExpectations): Verdict<VerifiedQuote> {
  const sig = decodeTpmtSignature(parts.signature);
  const pub = ex.ak.public.value;
  // verifier §3.2 step 2: RSA AKs sign quotes with RSASSA only, ECC AKs with ECDSA only.
  const wanted = pub.type === TpmAlg.Rsa ? TpmAlg.RsaSsa : TpmAlg.Ecdsa;
  if (sig.sigAlg !== wanted) {
    return quoteFailure(
      `unsupported quote signature algorithm 0x${sig.sigAlg.toString(16)} for this AK`,
    );
  }
  const signName = SIGN_ALG_NAMES.get(sig.sigAlg) as QuoteSignAlg;
  if (!(ex.acceptedSignAlgs ?? ['rsassa', 'ecdsa']).includes(signName)) {
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
    sig.sigAlg === TpmAlg.Ecdsa ? ecdsaSignatureToP1363(sig, ex.ak.coordinateSize) : sig.sig;
  let valid = false;
  try {
    valid = cryptoVerify(hashName, parts.attest, ex.ak.verifyKey, signature);
  } catch {
    valid = false;
  }
  if (!valid) return quoteFailure('signature verification failed');

  const attest = scanQuoteAttest(parts.attest) ?? decodeTpmsAttest(parts.attest);
  if (attest.type !== TpmSt.AttestQuote) return quoteFailure('attestation is not a quote');
  if (!nonceMatches(attest.extraData, ex.nonce)) {
    return quoteFailure('The nonce from the attestation differs from the expected nonce');
  }
  const blob = scanPcrBlob(parts.pcrBlob) ?? strictPcrBlob(parts.pcrBlob);
  if (!sameSelection(attest.attested.pcrSelect, blob.selections)) {
    return quoteFailure('PCRs in the PCR blob differ from the PCRs the quote selected');
  }
  // One copy and one hash call: cheaper than an update per PCR (the verifier's hot path).
  const values = blob.values;
  let total = 0;
  for (const v of values) total += v.value.length;
  const all = Buffer.allocUnsafe(total);
  let at = 0;
  for (const v of values) {
    all.set(v.value, at);
    at += v.value.length;
  }
  if (!bytesEqualCt(oneShotHash(hashName, all, 'buffer'), attest.attested.pcrDigest)) {
    return quoteFailure(
      'The digest used for quoting is different than the one that was calculated',
    );
  }
  const hexAll = all.toString('hex');
  const bank = hashAlgId(hashName);
  const pcrs = new Map<number, string>();
  at = 0;
  for (const v of values) {
    if (v.hash === bank) pcrs.set(v.pcr, hexAll.slice(at * 2, (at + v.value.length) * 2));
    at += v.value.length;
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
    return checkQuote(typeof quote === 'string' ? parseQuoteString(quote) : quote, expect);
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
 * H(zeros ‖ H(pubkey PEM)). Returns the recoverable event, or undefined when the binding holds.
 */
export function checkDataPcr(
  quote: VerifiedQuote,
  pubkeyPem: string | undefined,
): FailureEvent | undefined {
  const got = quote.pcrs.get(TPM_DATA_PCR);
  if (got === undefined || pubkeyPem === undefined) {
    return {
      id: DataPcrEventId.MissingPcr16,
      context: { message: `Data PCR ${TPM_DATA_PCR} is missing in quote, but is required` },
      recoverable: true,
    };
  }
  const expected = dataPcrValue(quote.hashAlg, pubkeyPem);
  if (got === expected) return undefined;
  return { id: DataPcrEventId.InvalidPcr16, context: { got, expected }, recoverable: true };
}
