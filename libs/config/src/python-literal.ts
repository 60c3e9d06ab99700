/** @module python-literal: the subset of Python's ast.literal_eval that upstream config values use. */

/** A parsed Python literal. Lists are arrays; tuples and sets are wrapped so callers can tell them apart. */
export type PyValue =
  string | number | boolean | null | readonly PyValue[] | PyTuple | PySet | PyDict;

/** A Python tuple `(a, b)`. */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python set `{a, b}`. */
export class PySet {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A Python dict; keys are kept in insertion order and must be strings or numbers. */
export class PyDict {
  constructor(readonly entries: ReadonlyMap<string | number, PyValue>) {}

  /** The dict as a plain object (keys stringified). */
  toObject(): Readonly<Record<string, PyValue>> {
    const out: Record<string, PyValue> = {};
    for (const [key, value] of this.entries) out[String(key)] = value;
    return out;
  }
}

/** Raised for text that ast.literal_eval would reject (or that this subset does not support). */
export class PyLiteralError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'PyLiteralError';
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\n': '',
};

class LiteralParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseAll(): PyValue {
    const value = this.parseValue();
    this.skipSpace();
    if (this.pos < this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(message: string): never {
    throw new PyLiteralError(message, this.pos);
  }

  private peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** Skips whitespace and `#` comments (the tokenizer allows both between tokens). */
  private skipSpace(): void {
    for (;;) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
        this.pos++;
      } else if (c === '\\' && this.text[this.pos + 1] === '\n') {
        this.pos += 2;
      } else if (c === '#') {
        while (this.pos < this.text.length && this.peek() !== '\n') this.pos++;
      } else {
        return;
      }
    }
  }

  private parseValue(): PyValue {
    this.skipSpace();
    const c = this.peek();
    if (c === '[') return this.parseSequence('[', ']');
    if (c === '(') return this.parseParen();
    if (c === '{') return this.parseBrace();
    if (c === '-' || c === '+') {
      this.pos++;
      this.skipSpace();
      const value = this.parseValue();
      if (typeof value !== 'number') this.fail('unary sign on a non-number');
      return c === '-' ? -value : value;
    }
    if (/[0-9.]/.test(c)) return this.parseNumber();
    if (/[A-Za-z_]/.test(c)) return this.parseNameOrString();
    if (c === '"' || c === "'") return this.parseStrings('');
    return this.fail(
      c === '' ? 'unexpected end of text' : `unexpected character ${JSON.stringify(c)}`,
    );
  }

  private parseSequence(open: string, close: string): PyValue[] {
    this.pos++; // open
    const items: PyValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === close) {
        this.pos++;
        return items;
      }
      items.push(this.parseValue());
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
      } else if (this.peek() !== close) {
        this.fail(`expected "," or "${close}" in ${open}${close}`);
      }
    }
  }

  private parseParen(): PyValue {
    const start = this.pos;
    this.pos++;
    this.skipSpace();
    if (this.peek() === ')') {
      this.pos++;
      return new PyTuple([]);
    }
    const first = this.parseValue();
    this.skipSpace();
    if (this.peek() === ')') {
      this.pos++;
      return first; // parentheses only group
    }
    this.pos = start;
    return new PyTuple(this.parseSequence('(', ')'));
  }

  private parseBrace(): PyValue {
    this.pos++;
    this.skipSpace();
    if (this.peek() === '}') {
      this.pos++;
      return new PyDict(new Map());
    }
    const first = this.parseValue();
    this.skipSpace();
    if (this.peek() !== ':') {
      // A set literal: `{a, b}`.
      const items = [first];
      for (;;) {
        this.skipSpace();
        if (this.peek() === '}') {
          this.pos++;
          return new PySet(items);
        }
        if (this.peek() !== ',') this.fail('expected "," or "}" in set');
        this.pos++;
        this.skipSpace();
        if (this.peek() === '}') continue;
        items.push(this.parseValue());
      }
    }
    const entries = new Map<string | number, PyValue>();
    let key: PyValue = first;
    for (;;) {
      if (typeof key !== 'string' && typeof key !== 'number')
        this.fail('dict keys must be strings or numbers');
      this.skipSpace();
      if (this.peek() !== ':') this.fail('expected ":" in dict');
      this.pos++;
      entries.set(key, this.parseValue());
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
        this.skipSpace();
      }
      if (this.peek() === '}') {
        this.pos++;
        return new PyDict(entries);
      }
      key = this.parseValue();
    }
  }

  private parseNumber(): number {
    const rest = this.text.slice(this.pos);
    const match =
      /^0[xX](?:_?[0-9a-fA-F])+|^0[oO](?:_?[0-7])+|^0[bB](?:_?[01])+|^(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?/.exec(
        rest,
      );
    if (match === null || match[0] === '.') this.fail('malformed number');
    const token = match[0];
    this.pos += token.length;
    if (/^[jJlL]/.test(this.peek())) this.fail('complex and long literals are not supported');
    const clean = token.replace(/_/g, '');
    if (/^0[xX]/.test(clean)) return parseInt(clean.slice(2), 16);
    if (/^0[oO]/.test(clean)) return parseInt(clean.slice(2), 8);
    if (/^0[bB]/.test(clean)) return parseInt(clean.slice(2), 2);
    if (/^0\d/.test(clean) && !/[.eE]/.test(clean) && /[1-9]/.test(clean)) {
      this.fail('leading zeros in a decimal integer are not allowed');
    }
    return Number(clean);
  }

  private parseNameOrString(): PyValue {
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    const name = match?.[0] ?? '';
    const next = this.text[this.pos + name.length];
    if (
      (next === '"' || next === "'") &&
      /^(?:[rRuU]|[bB][rR]?|[rR][bB]|[fF][rR]?|[rR][fF])$/.test(name)
    ) {
      if (/[bBfF]/.test(name)) this.fail('bytes and f-strings are not supported');
      this.pos += name.length;
      return this.parseStrings(name);
    }
    if (name === 'True' || name === 'False' || name === 'None') {
      this.pos += name.length;
      return name === 'None' ? null : name === 'True';
    }
    return this.fail(`names are not literals: ${JSON.stringify(name)}`);
  }

  /** One string literal plus any adjacent ones ('a' 'b' == 'ab', as Python concatenates them). */
  private parseStrings(firstPrefix: string): string {
    let out = this.parseString(firstPrefix);
    for (;;) {
      const save = this.pos;
      this.skipSpace();
      const prefix = /^(?:[rRuU])?(?=["'])/.exec(this.text.slice(this.pos));
      if (prefix === null) {
        this.pos = save;
        return out;
      }
      this.pos += prefix[0].length;
      out += this.parseString(prefix[0]);
    }
  }

  private parseString(prefix: string): string {
    const raw = /[rR]/.test(prefix);
    const quote = this.peek();
    const triple = this.text.startsWith(quote.repeat(3), this.pos);
    const delimiter = triple ? quote.repeat(3) : quote;
    this.pos += delimiter.length;
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) this.fail('unterminated string');
      if (this.text.startsWith(delimiter, this.pos)) {
        this.pos += delimiter.length;
        return out;
      }
      const c = this.peek();
      if (c === '\n' && !triple) this.fail('line break inside a string');
      if (c !== '\\') {
        out += c;
        this.pos++;
        continue;
      }
      const next = this.text[this.pos + 1] ?? '';
      if (raw) {
        // In raw strings a backslash still protects the next character but stays in the value.
        out += c + next;
        this.pos += 2;
        continue;
      }
      out += this.escape(next);
    }
  }

  private escape(next: string): string {
    const simple = SIMPLE_ESCAPES[next];
    if (simple !== undefined) {
      this.pos += 2;
      return simple;
    }
    const rest = this.text.slice(this.pos + 1);
    const octal = /^[0-7]{1,3}/.exec(rest);
    if (octal !== null) {
      this.pos += 1 + octal[0].length;
      return String.fromCodePoint(parseInt(octal[0], 8));
    }
    const hex = /^(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))/.exec(rest);
    if (hex !== null) {
      const code = parseInt(hex[1] ?? hex[2] ?? hex[3] ?? '', 16);
      if (code > 0x10ffff) this.fail('escape outside the Unicode range');
      this.pos += 1 + hex[0].length;
      return String.fromCodePoint(code);
    }
    if (/^[xuUN]/.test(rest)) this.fail('malformed or unsupported escape');
    // Unknown escapes keep the backslash, as Python does.
    this.pos += 2;
    return `\\${next}`;
  }
}

/** Parses `text` like Python's ast.literal_eval (without bytes, complex numbers or f-strings). */
export function parsePythonLiteral(text: string): PyValue {
  return new LiteralParser(text.replace(/^[ \t]+/, '')).parseAll();
}
