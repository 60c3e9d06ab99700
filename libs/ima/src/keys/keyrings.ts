/**
 * @module keys/keyrings: the keyrings of one agent: keys learned from `ima-buf` entries (one
 * keyring per kernel keyring name, persisted as `learned_ima_keyrings`) plus the tenant keyring
 * (policy `verification-keys` or the agent's `ima_sign_verification_keys`, never persisted).
 */
import { ImaErrorCode, imaError } from '../errors';
import { toPythonJson } from '../policy/python-json';
import { ImaKeyring, parseImaKeyring } from './keyring';
import type { ImaPublicKey } from './keyring';

export type LearnedKeyrings = ReadonlyMap<string, ImaKeyring>;

/** Returns a new map with `key` added to keyring `name` (copy-on-write: the input is unchanged). */
export function learnKey(learned: LearnedKeyrings, name: string, key: ImaPublicKey): LearnedKeyrings {
  const next = new Map(learned);
  const ring = learned.get(name)?.clone() ?? new ImaKeyring();
  ring.add(key);
  next.set(name, ring);
  return next;
}

/** Upstream's `learned_ima_keyrings` column: JSON object name → keyring *text*. */
export function learnedKeyringsToJson(learned: LearnedKeyrings): string {
  const obj: Record<string, string> = {};
  for (const [name, ring] of learned) Object.defineProperty(obj, name, { value: ring.toText(), enumerable: true });
  return toPythonJson(obj);
}

/** Parses the `learned_ima_keyrings` column (object or JSON string of one); bad keyrings are skipped as upstream does. */
export function learnedKeyringsFromJson(text: string): LearnedKeyrings {
  const out = new Map<string, ImaKeyring>();
  if (text === '' || text === 'null') return out;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
    if (typeof obj === 'string') obj = JSON.parse(obj);
  } catch (e) {
    throw imaError(ImaErrorCode.InvalidState, 'learned keyrings are not valid JSON', { cause: e });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return out;
  for (const [name, ringText] of Object.entries(obj)) {
    if (typeof ringText !== 'string') continue;
    try {
      const ring = parseImaKeyring(ringText);
      if (ring !== undefined) out.set(name, ring);
    } catch {
      // upstream logs and drops a keyring it cannot read
    }
  }
  return out;
}
