/**
 * @module bootstrap: Keylime's bootstrap key protocol (spec §5) and activation tag (spec §3.5):
 * K = U xor V, HMAC-SHA384 auth tags, and the /keys/verify challenge response.
 */
import { randomBytes } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';
import { hmacSha384Hex, timingSafeEqualHex } from './hmac';

/** Length in bytes of K, U and V as the tenant makes them. */
export const BOOTSTRAP_KEY_BYTES = 32;

/** The three parts of a bootstrap key: K = U xor V. */
export interface BootstrapKeyParts {
  readonly k: Uint8Array;
  readonly u: Uint8Array;
  readonly v: Uint8Array;
}

/** Byte-wise XOR of two equal-length arrays. */
export function xorBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) {
    throw cryptoError(CryptoErrorCode.BadKey, 'cannot XOR keys of different lengths', {
      details: { lengths: [a.length, b.length] },
    });
  }
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/** Splits K into U and V with V random (or given, for tests): U = K xor V. */
export function splitBootstrapKey(k: Uint8Array, v?: Uint8Array): BootstrapKeyParts {
  if (k.length === 0) throw cryptoError(CryptoErrorCode.BadKey, 'bootstrap key K is empty');
  const vv = v ?? new Uint8Array(randomBytes(k.length));
  return { k: new Uint8Array(k), u: xorBytes(k, vv), v: new Uint8Array(vv) };
}

/** A fresh 32-byte K with random V and U = K xor V (tenant, spec §5.1). */
export function generateBootstrapKey(): BootstrapKeyParts {
  return splitBootstrapKey(new Uint8Array(randomBytes(BOOTSTRAP_KEY_BYTES)));
}

/** K = U xor V; the halves must have the same non-zero length (agent, spec §5.4). */
export function combineBootstrapKey(u: Uint8Array, v: Uint8Array): Uint8Array {
  if (u.length === 0) throw cryptoError(CryptoErrorCode.BadKey, 'bootstrap key half is empty');
  return xorBytes(u, v);
}

/** ukey auth_tag = hex(HMAC-SHA384(K, agent_id)) (spec §5.2). */
export function ukeyAuthTag(k: Uint8Array, agentId: string): string {
  return hmacSha384Hex(k, agentId);
}

/**
 * Agent side of spec §5.4: K' = U xor V, accepted only if HMAC-SHA384(K', agent_id) equals the
 * U's auth tag. Returns K' or undefined (also for halves of different lengths).
 */
export function tryCombineBootstrapKey(
  u: Uint8Array,
  v: Uint8Array,
  authTag: string,
  agentId: string,
): Uint8Array | undefined {
  if (u.length === 0 || u.length !== v.length) return undefined;
  const k = xorBytes(u, v);
  return timingSafeEqualHex(ukeyAuthTag(k, agentId), authTag) ? k : undefined;
}

/** `/keys/verify` answer = hex(HMAC-SHA384(K, challenge)) (spec §5.5). */
export function keysVerifyHmac(k: Uint8Array, challenge: string): string {
  return hmacSha384Hex(k, challenge);
}

/** Tenant check of a `/keys/verify` answer, in constant time. */
export function checkKeysVerifyHmac(k: Uint8Array, challenge: string, hmacHex: string): boolean {
  return timingSafeEqualHex(keysVerifyHmac(k, challenge), hmacHex);
}

/**
 * The key the registrar stores for a MakeCredential challenge: base64 of the 32 ASCII credential
 * bytes (spec §3.4 step 1).
 */
export function activationKeyFromCredential(credential: Uint8Array): string {
  return Buffer.from(credential).toString('base64');
}

/**
 * Activation auth_tag = hex(HMAC-SHA384(key = ASCII of the stored base64 key, msg = agent_id))
 * (spec §0). The agent computes it from the credential it recovered with ActivateCredential.
 */
export function activationAuthTag(storedKey: string, agentId: string): string {
  return hmacSha384Hex(Buffer.from(storedKey, 'utf8'), agentId);
}

/** Registrar check of an activation auth_tag, in constant time. */
export function checkActivationAuthTag(
  storedKey: string,
  agentId: string,
  authTag: string,
): boolean {
  return timingSafeEqualHex(activationAuthTag(storedKey, agentId), authTag);
}
