/**
 * @module py-regex: Python `re` patterns from reference states, run with full-match semantics in
 * JavaScript (spec §5.6 "Regex dialect"), and Python's `re.escape` for the generator.
 */
import { refStateError } from './errors';

/** Characters Python >= 3.7 `re.escape` escapes (Lib/re/__init__.py `_special_chars_map`). */
const PY_SPECIAL = new Set('()[]{}?*+-|^$\\.&~# \t\n\r\v\f');

/** Python's `re.escape`, so generated refstates are byte-identical to upstream's. */
export function pyReEscape(text: string): string {
  let out = '';
  for (const ch of text) out += PY_SPECIAL.has(ch) ? `\\${ch}` : ch;
  return out;
}

/**
 * Compiles a Python pattern for full matching. Python-only syntax is translated where JavaScript
 * has an equivalent (named groups, \A, \Z, leading inline flags); no `u` flag, so Python's
 * identity escapes such as `\-` and `\ ` keep working. Throws KL_MBA_INVALID_REFSTATE otherwise.
 */
export function compilePythonFullMatch(pattern: string, options: { readonly dotAll?: boolean } = {}): RegExp {
  let body = pattern;
  let flags = options.dotAll === true ? 's' : '';
  const inline = /^\(\?([aiLmsux]+)\)/.exec(body);
  if (inline !== null) {
    for (const f of inline[1] ?? '') {
      if (f === 'i' || f === 'm' || f === 's') flags += flags.includes(f) ? '' : f;
      else if (f !== 'u' && f !== 'a') throw refStateError(`regex flag (?${f}) is not supported: ${pattern}`);
    }
    body = body.slice(inline[0].length);
  }
  body = body
    .replace(/\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/g, '(?<$1>')
    .replace(/\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/g, '\\k<$1>')
    .replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^')
    .replace(/(^|[^\\])((?:\\\\)*)\\Z/g, '$1$2$');
  try {
    return new RegExp(`^(?:${body})$`, flags);
  } catch (e) {
    throw refStateError(`regex does not compile: ${pattern}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
