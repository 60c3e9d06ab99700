/**
 * @module encoding: strict hex and base64 codecs. Node's Buffer decoders silently skip bad
 * characters; these reject them, because every string from the wire is hostile.
 */
import { KeylimeError } from './errors';

export const EncodingErrorCode = {
  BadHex: 'KL_ENCODING_BAD_HEX',
  BadBase64: 'KL_ENCODING_BAD_BASE64',
} as const;

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Decodes hex (either case, even length, optional `0x` prefix only if `allowPrefix`). */
export function fromHex(text: string, what = 'value', allowPrefix = false): Uint8Array {
  let s = text;
  if (allowPrefix && (s.startsWith('0x') || s.startsWith('0X'))) s = s.slice(2);
  if (!HEX_RE.test(s)) {
    throw new KeylimeError(EncodingErrorCode.BadHex, `${what} is not valid hex`);
  }
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Strict standard-alphabet base64 with padding; no whitespace, no URL alphabet. */
export function fromBase64(text: string, what = 'value'): Uint8Array {
  if (!BASE64_RE.test(text)) {
    throw new KeylimeError(EncodingErrorCode.BadBase64, `${what} is not valid base64`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** True if `text` is strict padded base64. */
export function isBase64(text: string): boolean {
  return BASE64_RE.test(text);
}

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}
