/**
 * @module columns: encodings of upstream's JSON columns (JSONPickleType = JSON text). `tpm_policy`
 * holds a JSON *string* (double-encoded, verifier §8.1); reading also accepts a plain object text
 * so rows written by other tools load too.
 */

/** JSON text for a JSON column. */
export function jsonColumn(value: unknown): string {
  return JSON.stringify(value);
}

/** Parses a JSON column; `fallback` when NULL or unparsable. */
export function readJsonColumn(text: string | null, fallback: unknown): unknown {
  if (text === null || text === '') return fallback;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fallback;
  }
}

const EMPTY_LIST: readonly string[] = Object.freeze([]);

/** Parsed lists by column text: agents enrolled alike share one frozen list (bounded, never evicted). */
const stringLists = new Map<string, readonly string[]>();
const MAX_CACHED_LISTS = 256;

/**
 * A list-of-strings column (`accept_tpm_*_algs`), frozen: the same text yields the same list
 * object, so the verifier does not keep three arrays per agent.
 */
export function readStringList(text: string | null): readonly string[] {
  if (text === null || text === '') return EMPTY_LIST;
  const cached = stringLists.get(text);
  if (cached !== undefined) return cached;
  const v = readJsonColumn(text, []);
  const list = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  const frozen = list.length === 0 ? EMPTY_LIST : Object.freeze(list);
  if (stringLists.size < MAX_CACHED_LISTS) stringLists.set(text, frozen);
  return frozen;
}

/** `tpm_policy`: the policy text whether stored double-encoded (upstream) or as the object text. */
export function readPolicyText(text: string | null): string {
  if (text === null || text === '') return '{}';
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'string' ? v : text;
  } catch {
    return text;
  }
}
