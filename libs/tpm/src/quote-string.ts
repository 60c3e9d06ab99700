/**
 * @module quote-string: the Keylime quote string `r<b64 TPMS_ATTEST>:<b64 TPMT_SIGNATURE>:<b64 PCR blob>`
 * (verifier §3.1, agent-registrar-tenant §4.3). API ≥ 2.0 never compresses; exactly three parts.
 */
import { TpmErrorCode, tpmError } from './errors';

/** The three raw parts of a quote. */
export interface QuoteParts {
  /** Marshalled TPMS_ATTEST, exactly the bytes the AK signed. */
  readonly attest: Uint8Array;
  /** Marshalled TPMT_SIGNATURE. */
  readonly signature: Uint8Array;
  /** tpm2-tools PCR blob. */
  readonly pcrBlob: Uint8Array;
}

/** Decoded size that a standard base64 text's length and padding promise, or -1 if its length cannot be base64. */
function promisedSize(text: string): number {
  const n = text.length;
  if (n === 0 || n % 4 !== 0) return -1;
  const pad = text.charCodeAt(n - 1) === 0x3d ? (text.charCodeAt(n - 2) === 0x3d ? 2 : 1) : 0;
  return (n / 4) * 3 - pad;
}

/**
 * Strict and fast (this is the verifier's hot path): Node's decoder skips characters outside the
 * alphabet, so any such character yields fewer bytes than the length and padding promise; Node also
 * accepts the URL-safe '-' and '_', which standard base64 forbids. `written` is what Node decoded into
 * exactly `size` bytes — the same bytes Buffer.from(text, 'base64') yields. A property test checks this
 * accepts exactly what core's isBase64 accepts.
 */
function checkDecoded(text: string, size: number, written: number, what: string): void {
  if (size < 0 || written !== size || text.includes('-') || text.includes('_')) {
    throw tpmError(TpmErrorCode.BadQuoteString, `quote ${what} is not base64`);
  }
}

function part(text: string, what: string): Uint8Array {
  const size = promisedSize(text);
  const b = size < 0 ? undefined : Buffer.from(text, 'base64');
  checkDecoded(text, size, b === undefined ? -1 : b.length, what);
  const d = b as Buffer;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Strict standard base64 decoding (exported for tests; see `checkDecoded`). */
export function decodeQuotePart(text: string): Uint8Array {
  return part(text, 'part');
}

/** Largest signature + PCR blob kept in the reused buffer; bigger (odd) quotes get their own. */
const SCRATCH_MAX = 64 * 1024;
let scratch = Buffer.allocUnsafeSlow(4096);

/**
 * Splits and decodes a quote string. With `transient`, the signature and PCR blob are decoded into a
 * buffer reused by the next call (they never outlive the verifier's synchronous check); the attest
 * always gets fresh bytes, since the verified quote keeps views into it.
 */
function decodeQuoteString(quote: string, transient: boolean): QuoteParts {
  if (quote.charCodeAt(0) !== 0x72 /* 'r' */) {
    throw tpmError(TpmErrorCode.BadQuoteString, `invalid quote type "${quote.slice(0, 1)}"`);
  }
  const a = quote.indexOf(':', 1);
  const b = a < 0 ? -1 : quote.indexOf(':', a + 1);
  if (a < 0 || b < 0 || quote.indexOf(':', b + 1) >= 0) {
    throw tpmError(
      TpmErrorCode.BadQuoteString,
      'quote must have exactly three ":"-separated parts',
    );
  }
  const t1 = quote.slice(1, a);
  const t2 = quote.slice(a + 1, b);
  const t3 = quote.slice(b + 1);
  const s1 = promisedSize(t1);
  const s2 = promisedSize(t2);
  const s3 = promisedSize(t3);
  if (s1 < 0 || s2 < 0 || s3 < 0) {
    // Malformed lengths: decode part by part so the error names the first bad part, as always.
    return {
      attest: part(t1, 'TPMS_ATTEST'),
      signature: part(t2, 'TPMT_SIGNATURE'),
      pcrBlob: part(t3, 'PCR blob'),
    };
  }
  // One allocation (or none) instead of three Buffers. Each part is decoded into exactly its promised
  // size and is fully written or rejected, so no stale or uninitialised byte is ever exposed.
  const reuse = transient && s2 + s3 <= SCRATCH_MAX;
  if (reuse && scratch.length < s2 + s3) scratch = Buffer.allocUnsafeSlow(s2 + s3);
  const all = Buffer.allocUnsafe(reuse ? s1 : s1 + s2 + s3);
  const rest = reuse ? scratch : all;
  const at2 = reuse ? 0 : s1;
  checkDecoded(t1, s1, all.write(t1, 0, s1, 'base64'), 'TPMS_ATTEST');
  checkDecoded(t2, s2, rest.write(t2, at2, s2, 'base64'), 'TPMT_SIGNATURE');
  checkDecoded(t3, s3, rest.write(t3, at2 + s2, s3, 'base64'), 'PCR blob');
  return {
    attest: new Uint8Array(all.buffer, all.byteOffset, s1),
    signature: new Uint8Array(rest.buffer, rest.byteOffset + at2, s2),
    pcrBlob: new Uint8Array(rest.buffer, rest.byteOffset + at2 + s2, s3),
  };
}

/** Splits and base64-decodes a quote string; throws KL_TPM_BAD_QUOTE_STRING. */
export function parseQuoteString(quote: string): QuoteParts {
  return decodeQuoteString(quote, false);
}

/**
 * As parseQuoteString, but `signature` and `pcrBlob` are only valid until the next call (not exported
 * from the package): for verifyQuote, which uses them synchronously and keeps no reference.
 */
export function parseQuoteStringTransient(quote: string): QuoteParts {
  return decodeQuoteString(quote, true);
}

/** Builds the quote string an agent returns. */
export function formatQuoteString(parts: QuoteParts): string {
  const b64 = (u: Uint8Array): string =>
    Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
  return `r${b64(parts.attest)}:${b64(parts.signature)}:${b64(parts.pcrBlob)}`;
}
