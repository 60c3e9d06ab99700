/**
 * @module tenant/python-format: Python's `json.dumps` and `repr` of JSON values, because upstream's
 * tenant prints both and scripts parse those lines.
 */
import { toPythonJson } from '@keylime/ima';

/** `json.dumps(value)` with Python's default separators and ASCII escaping. */
export function pyJson(value: unknown): string {
  return toPythonJson(value);
}

/** Python's `repr(str)`: single quotes unless the text has a ' and no ". */
export function pyStrRepr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** Python's `repr` of a value parsed from JSON (what `print(response.json())` shows). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'string') return pyStrRepr(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    const s = String(value);
    return s.includes('.') || s.includes('e') ? s : `${s}.0`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    const parts = Object.entries(value).map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`);
    return `{${parts.join(', ')}}`;
  }
  return 'None';
}
