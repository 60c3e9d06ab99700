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

/** A Map that cannot change: its mutators throw (Object.freeze alone does not stop Map.set). */
class FrozenMap<K, V> extends Map<K, V> {
  override set(): this {
    throw new TypeError('frozen map');
  }
  override delete(): boolean {
    throw new TypeError('frozen map');
  }
  override clear(): void {
    throw new TypeError('frozen map');
  }
}

/**
 * No learned keys: one frozen map shared by every agent (the verifier keeps a state per agent,
 * and most agents never learn a key); `learnKey` copies before it adds.
 */
export const NO_LEARNED_KEYRINGS: LearnedKeyrings = Object.freeze(new FrozenMap<string, ImaKeyring>());

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
  if (text === '' || text === 'null') return NO_LEARNED_KEYRINGS;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
    if (typeof obj === 'string') obj = JSON.parse(obj);
  } catch (e) {
    throw imaError(ImaErrorCode.InvalidState, 'learned keyrings are not valid JSON', { cause: e });
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return NO_LEARNED_KEYRINGS;
  for (const [name, ringText] of Object.entries(obj)) {
    if (typeof ringText !== 'string') continue;
    try {
      const ring = parseImaKeyring(ringText);
      if (ring !== undefined) out.set(name, ring);
    } catch {
      // upstream logs and drops a keyring it cannot read
    }
  }
  return out.size === 0 ? NO_LEARNED_KEYRINGS : out;
}
