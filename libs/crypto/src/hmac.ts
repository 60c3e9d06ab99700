/** @module hmac: HMAC helpers and comparisons that do not leak where (or whether) inputs differ. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertHashAlg } from './hash';
import type { HashAlg } from './hash';

/** Bytes of a message given as text (UTF-8) or bytes. */
function messageBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** HMAC_alg(key, data); a string message is UTF-8 encoded. */
export function hmac(alg: HashAlg, key: Uint8Array, data: string | Uint8Array): Uint8Array {
  return new Uint8Array(createHmac(assertHashAlg(alg), key).update(messageBytes(data)).digest());
}

/** HMAC-SHA384(key, data), the MAC Keylime uses for every auth tag. */
export function hmacSha384(key: Uint8Array, data: string | Uint8Array): Uint8Array {
  return hmac('sha384', key, data);
}

/** Lower-case hex of HMAC-SHA384(key, data), as Python's `hexdigest()` prints it. */
export function hmacSha384Hex(key: Uint8Array, data: string | Uint8Array): string {
  return createHmac('sha384', key).update(messageBytes(data)).digest('hex');
}

/**
 * Constant-time equality of two byte strings. Unequal lengths are compared over the longer length
 * (zero-padded), so the time depends only on max(len) and there is no early return on length.
 */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  const len = Math.max(a.length, b.length, 1);
  const pa = Buffer.alloc(len);
  const pb = Buffer.alloc(len);
  pa.set(a);
  pb.set(b);
  const same = timingSafeEqual(pa, pb);
  return same && a.length === b.length;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

/**
 * Constant-time equality of two hex strings, case-insensitive. Anything that is not hex (or has
 * odd length) never equals anything, so a malformed tag from the wire is simply "wrong".
 */
export function timingSafeEqualHex(a: string, b: string): boolean {
  const okA = HEX_RE.test(a) && a.length % 2 === 0;
  const okB = HEX_RE.test(b) && b.length % 2 === 0;
  // Compare the ASCII of the lower-cased text: no hex decoding of attacker data needed.
  const same = timingSafeEqualBytes(
    Buffer.from(a.toLowerCase(), 'latin1'),
    Buffer.from(b.toLowerCase(), 'latin1'),
  );
  return same && okA && okB;
}
