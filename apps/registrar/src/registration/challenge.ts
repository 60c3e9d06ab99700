/**
 * @module challenge: the AK challenge (spec §3.4) — a random credential wrapped for the EK with
 * TPM2_MakeCredential and bound to the AK's Name — and the activation tag check (§3.5).
 */
import { checkActivationAuthTag } from '@keylime/crypto';
import { makeCredentialBlob, randomCredential } from '@keylime/tpm';
import type { TpmKey } from './tpm-keys';

export interface AkChallenge {
  /** base64 of the tpm2-tools credential blob, returned to the agent as `blob`. */
  readonly blob: string;
  /** base64 of the credential, stored as `key` (the HMAC key of the activation tag). */
  readonly key: string;
}

/** Makes the challenge for an EK/AK pair. */
export function makeAkChallenge(ek: TpmKey, ak: TpmKey): AkChallenge {
  const { credential, key } = randomCredential();
  const blob = makeCredentialBlob(ek.public, ak.public, credential);
  return { blob: Buffer.from(blob).toString('base64'), key };
}

/**
 * True when `authTag` is hex(HMAC-SHA384(key, agentId)), compared in constant time (the
 * comparison never stops at the first differing character).
 */
export function authTagMatches(storedKey: string, agentId: string, authTag: string): boolean {
  return checkActivationAuthTag(storedKey, agentId, authTag);
}
