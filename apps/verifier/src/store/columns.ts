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

/** A list-of-strings column (`accept_tpm_*_algs`). */
export function readStringList(text: string | null): string[] {
  const v = readJsonColumn(text, []);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
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
