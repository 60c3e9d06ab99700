/**
 * @module commands/session: policy sessions for objects whose authPolicy is PolicySecret
 * (the EK): TPM2_StartAuthSession, TPM2_PolicySecret, TPM2_PolicyOR (Part 3 §11, §23).
 */
import { randomBytes } from 'node:crypto';
import { TpmAlg, TpmCc, TpmRh } from '../constants';
import type { TpmCommand } from '../command';
import { NO_RESPONSE, command, passwordAuth } from '../command';

export interface StartAuthSessionResponse {
  readonly handle: number;
  readonly nonceTpm: Uint8Array;
}

/**
 * An unbound, unsalted session of `sessionType` hashing with `authHash`. Such a session carries
 * no secret, which is fine for PolicySecret: the secret is proven by the password session.
 */
export function startAuthSession(
  sessionType: number,
  authHash: number,
): TpmCommand<StartAuthSessionResponse> {
  return command(
    TpmCc.StartAuthSession,
    [TpmRh.Null, TpmRh.Null], // tpmKey, bind
    [],
    (w) => {
      w.sized16(new Uint8Array(randomBytes(16))); // nonceCaller: 16 bytes is the minimum allowed
      w.u16(0); // encryptedSalt: none
      w.u8(sessionType);
      w.u16(TpmAlg.Null); // symmetric: no parameter encryption
      w.u16(authHash);
    },
    {
      handles: 1,
      decode: ([handle], r) => ({ handle: handle as number, nonceTpm: r.sized16().slice() }),
    },
  );
}

/** TPM2_PolicySecret(authHandle): proves knowledge of the (empty) auth of a hierarchy. */
export function policySecret(authHandle: number, policySession: number): TpmCommand<void> {
  return command(
    TpmCc.PolicySecret,
    [authHandle, policySession],
    [passwordAuth()],
    (w) => {
      w.u16(0); // nonceTPM: not bound to this session's nonce (no expiration)
      w.u16(0); // cpHashA
      w.u16(0); // policyRef
      w.u32(0); // expiration: none
    },
    {
      handles: 0,
      decode: (_h, r) => {
        r.sized16(); // timeout
        r.u16(); // policyTicket.tag
        r.u32(); // policyTicket.hierarchy
        r.sized16(); // policyTicket.digest
      },
    },
  );
}

/** TPM2_PolicyOR: the current policy digest must be one of `digests` (2 to 8 of them). */
export function policyOr(policySession: number, digests: readonly Uint8Array[]): TpmCommand<void> {
  return command(
    TpmCc.PolicyOr,
    [policySession],
    [],
    (w) => {
      w.u32(digests.length);
      for (const d of digests) w.sized16(d);
    },
    NO_RESPONSE,
  );
}
