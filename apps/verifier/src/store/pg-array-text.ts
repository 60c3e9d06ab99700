/**
 * @module pg-array-text: a column of a batched PostgreSQL UPDATE as array text (the `unnest`
 * arguments of store/verifier-store.ts).
 */

/**
 * One `unnest` argument as PostgreSQL array text, the same text node-postgres builds for a JS array
 * of these values (quoted, `\` and `"` escaped; bytea as `\\x…`; NULL). Built here in one pass, as
 * node-postgres's per-element conversion was ≈ 10% of a worker's allocation on PostgreSQL.
 * Undefined for any other kind of value: the caller passes the array to node-postgres instead.
 */
export function pgArrayText(values: readonly unknown[]): string | undefined {
  // The usual column (numbers, or strings with nothing to escape) is one join: one flat string.
  if (values.every(plainElement)) return values.length === 0 ? '{}' : `{"${values.join('","')}"}`;
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null || v === undefined) out += 'NULL';
    else if (typeof v === 'string') out += quotePgElement(v);
    else if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
      out += `"${String(v)}"`;
    else if (Buffer.isBuffer(v)) out += `\\\\x${v.toString('hex')}`;
    else return undefined;
  }
  return `${out}}`;
}

const PG_ELEMENT_SPECIALS = /[\\"]/;

function quotePgElement(s: string): string {
  return PG_ELEMENT_SPECIALS.test(s) ? `"${s.replace(/[\\"]/g, '\\$&')}"` : `"${s}"`;
}

function plainElement(v: unknown): boolean {
  return typeof v === 'number' || (typeof v === 'string' && !PG_ELEMENT_SPECIALS.test(v));
}
