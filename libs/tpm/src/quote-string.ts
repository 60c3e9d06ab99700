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

function part(text: string, what: string): Uint8Array {
  // Strict and fast (this is the verifier's hot path): Node's decoder skips characters outside the
  // alphabet, so any such character yields fewer bytes than the length and padding promise; Node also
  // accepts the URL-safe '-' and '_', which standard base64 forbids. A property test checks this
  // accepts exactly what core's isBase64 accepts.
  const n = text.length;
  const pad = text.charCodeAt(n - 1) === 0x3d ? (text.charCodeAt(n - 2) === 0x3d ? 2 : 1) : 0;
  const b = Buffer.from(text, 'base64');
  if (
    n === 0 ||
    n % 4 !== 0 ||
    b.length !== (n / 4) * 3 - pad ||
    text.includes('-') ||
    text.includes('_')
  ) {
    throw tpmError(TpmErrorCode.BadQuoteString, `quote ${what} is not base64`);
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Strict standard base64 decoding (exported for tests; see `part`). */
export function decodeQuotePart(text: string): Uint8Array {
  return part(text, 'part');
}

/** Splits and base64-decodes a quote string; throws KL_TPM_BAD_QUOTE_STRING. */
export function parseQuoteString(quote: string): QuoteParts {
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
  return {
    attest: part(quote.slice(1, a), 'TPMS_ATTEST'),
    signature: part(quote.slice(a + 1, b), 'TPMT_SIGNATURE'),
    pcrBlob: part(quote.slice(b + 1), 'PCR blob'),
  };
}

/** Builds the quote string an agent returns. */
export function formatQuoteString(parts: QuoteParts): string {
  const b64 = (u: Uint8Array): string =>
    Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
  return `r${b64(parts.attest)}:${b64(parts.signature)}:${b64(parts.pcrBlob)}`;
}
