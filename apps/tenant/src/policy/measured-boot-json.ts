/**
 * @module policy/measured-boot-json: JSON text exactly as Python's `json.dump(obj, f)` writes it
 * (separators ", " and ": ", non-ASCII as \uXXXX), so our refstate files equal upstream's byte for byte.
 */

/** Serialises plain JSON data the way Python's json.dumps does with default arguments. */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite numbers are not JSON');
    return Number.isInteger(value) ? String(value) : pythonFloat(value);
  }
  if (typeof value === 'string') return pythonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${pythonString(k)}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  throw new TypeError(`cannot serialise a ${typeof value}`);
}

function pythonFloat(v: number): string {
  const s = String(v);
  return s.includes('e') || s.includes('.') ? s : `${s}.0`;
}

/** ensure_ascii=True string escaping. */
function pythonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i] as string;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
