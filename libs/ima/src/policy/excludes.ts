/**
 * @module policy/excludes: translates upstream's `excludes` (Python `re` syntax, matched at the
 * start of the path, spec verifier.md §4.6) into one JavaScript RegExp, and rejects patterns
 * that are invalid, use Python-only features, or risk catastrophic backtracking.
 */
import { ImaErrorCode, imaError } from '../errors';

/** Longest accepted single pattern; paths are at most PATH_MAX (4096) bytes anyway. */
const MAX_PATTERN_LENGTH = 4096;
/** More unbounded quantifiers in one pattern allow polynomial blow-up on a failing match. */
const MAX_UNBOUNDED_PER_PATTERN = 3;

const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));
const WORD = '\\p{L}\\p{N}_';

interface Frame {
  unbounded: boolean;
}

class Translator {
  private out = '';
  private i = 0;
  private readonly frames: Frame[] = [{ unbounded: false }];
  private unboundedCount = 0;
  /** Frame of the group that just closed, if the previous atom was a group. */
  private lastGroup: Frame | undefined;

  constructor(private readonly src: string) {}

  fail(reason: string): never {
    throw new Error(reason);
  }

  run(): string {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i] as string;
      const prevGroup = this.lastGroup;
      this.lastGroup = undefined;
      if (c === '\\') this.out += this.escape(false);
      else if (c === '[') this.charClass();
      else if (c === '(') this.openGroup();
      else if (c === ')') this.closeGroup();
      else if (c === '*' || c === '+' || c === '?' || c === '{') this.quantifier(c, prevGroup);
      else if (c === '}' || c === ']') {
        this.out += `\\${c}`;
        this.i++;
      } else {
        this.out += c;
        this.i++;
      }
    }
    if (this.frames.length !== 1) this.fail('missing ), unterminated subpattern');
    return this.out;
  }

  private escape(inClass: boolean): string {
    const s = this.src;
    const c = s[this.i + 1];
    this.i += 2;
    if (c === undefined) return this.fail('bad escape (end of pattern)');
    if (/[0-9]/.test(c)) return this.fail(`backreferences and octal escapes (\\${c}) are not supported`);
    switch (c) {
      case 'd':
        return '\\p{Nd}';
      case 'D':
        return '\\P{Nd}';
      case 'w':
        return inClass ? WORD : `[${WORD}]`;
      case 'W':
        return inClass ? this.fail('\\W inside a character class is not supported') : `[^${WORD}]`;
      case 's':
      case 'S':
      case 'f':
      case 'n':
      case 'r':
      case 't':
      case 'v':
        return `\\${c}`;
      case 'a':
        return '\\x07';
      case 'b':
        return inClass ? '\\x08' : '\\b';
      case 'B':
        return inClass ? this.fail('bad escape \\B') : '\\B';
      case 'A':
        return inClass ? this.fail('bad escape \\A') : '^';
      case 'Z':
        return inClass ? this.fail('bad escape \\Z') : '$';
      case 'x':
        return `\\x${this.hexDigits(2, 'x')}`;
      case 'u':
        return `\\u${this.hexDigits(4, 'u')}`;
      case 'U':
        return `\\u{${this.hexDigits(8, 'U')}}`;
      default:
        break;
    }
    if (/[A-Za-z]/.test(c)) return this.fail(`bad escape \\${c}`);
    if (SYNTAX.has(c) || (inClass && c === '-')) return `\\${c}`;
    const code = c.charCodeAt(0);
    return code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : c;
  }

  private hexDigits(n: number, letter: string): string {
    const digits = this.src.slice(this.i, this.i + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) return this.fail(`incomplete escape \\${letter}${digits}`);
    this.i += n;
    return digits;
  }

  private charClass(): void {
    const s = this.src;
    this.out += '[';
    this.i++;
    if (s[this.i] === '^') {
      this.out += '^';
      this.i++;
    }
    // Python takes a ']' right after '[' or '[^' literally.
    if (s[this.i] === ']') {
      this.out += '\\]';
      this.i++;
    }
    for (;;) {
      const c = s[this.i];
      if (c === undefined) this.fail('unterminated character set');
      if (c === ']') {
        this.out += ']';
        this.i++;
        return;
      }
      if (c === '\\') this.out += this.escape(true);
      else {
        this.out += c === '[' ? '\\[' : c;
        this.i++;
      }
    }
  }

  private openGroup(): void {
    const s = this.src;
    const rest = s.slice(this.i);
    let open: string;
    if (!rest.startsWith('(?')) open = '(';
    else if (rest.startsWith('(?:') || rest.startsWith('(?=') || rest.startsWith('(?!')) open = rest.slice(0, 3);
    else if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) open = rest.slice(0, 4);
    else if (rest.startsWith('(?#')) {
      const end = s.indexOf(')', this.i);
      if (end < 0) this.fail('missing ), unterminated comment');
      this.i = end + 1;
      return;
    } else if (rest.startsWith('(?P<')) {
      const m = /^\(\?P<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
      if (m === null) this.fail('bad character in group name');
      this.out += `(?<${m[1] as string}>`;
      this.i += m[0].length;
      this.frames.push({ unbounded: false });
      return;
    } else if (rest.startsWith('(?P=')) this.fail('named backreferences are not supported');
    else if (rest.startsWith('(?>')) this.fail('atomic groups are not supported');
    else if (rest.startsWith('(?(')) this.fail('conditional groups are not supported');
    else this.fail('inline flags and other (?…) extensions are not supported');
    this.out += open;
    this.i += open.length;
    this.frames.push({ unbounded: false });
  }

  private closeGroup(): void {
    if (this.frames.length === 1) this.fail('unbalanced parenthesis');
    const child = this.frames.pop() as Frame;
    const parent = this.frames[this.frames.length - 1] as Frame;
    parent.unbounded ||= child.unbounded;
    this.out += ')';
    this.i++;
    this.lastGroup = child;
  }

  private quantifier(c: string, group: Frame | undefined): void {
    const s = this.src;
    let text: string;
    let max: number;
    if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(s.slice(this.i));
      if (m === null || (m[1] === '' && m[2] === '' && m[3] === '')) {
        this.out += '\\{';
        this.i++;
        return;
      }
      const lo = m[1] === '' ? '0' : (m[1] as string);
      const hi = m[2] === '' ? lo : (m[3] as string);
      max = hi === '' ? Infinity : Number(hi);
      text = hi === lo && m[2] === '' ? `{${lo}}` : `{${lo},${hi}}`;
      this.i += m[0].length;
    } else {
      text = c;
      max = c === '?' ? 1 : Infinity;
      this.i++;
    }
    const next = s[this.i];
    if (next === '+') this.fail('possessive quantifiers are not supported');
    if (next === '?') {
      text += '?';
      this.i++;
    }
    if (group?.unbounded && max > 1) {
      this.fail('nested quantifiers (a repeated group containing * or +) risk catastrophic backtracking');
    }
    if (max === Infinity) {
      (this.frames[this.frames.length - 1] as Frame).unbounded = true;
      if (++this.unboundedCount > MAX_UNBOUNDED_PER_PATTERN) {
        this.fail(`more than ${MAX_UNBOUNDED_PER_PATTERN} unbounded quantifiers risk slow matching`);
      }
    }
    this.out += text;
  }
}

/** Translates one Python pattern to JavaScript (u flag) source, or throws with the reason. */
export function translatePythonRegex(pattern: string): string {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new Error(`longer than ${MAX_PATTERN_LENGTH} characters`);
  const source = new Translator(pattern).run();
  try {
    new RegExp(source, 'u');
  } catch (e) {
    throw new Error(e instanceof Error ? e.message.replace(/^Invalid regular expression: /, '') : String(e));
  }
  return source;
}

/** Reason why an exclude pattern is rejected, or undefined if it is fine. */
export function checkExclude(pattern: string): string | undefined {
  try {
    translatePythonRegex(pattern);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * One RegExp for all patterns, combined as upstream does (`(p1)|(p2)|…`) and anchored at the
 * start like Python's `re.match`. Throws KL_IMA_INVALID_EXCLUDE naming the first bad pattern.
 */
export function compileExcludes(patterns: readonly string[]): RegExp | undefined {
  if (patterns.length === 0) return undefined;
  const parts = patterns.map((p, i) => {
    try {
      return translatePythonRegex(p);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw imaError(ImaErrorCode.InvalidExclude, `excludes[${i}] '${p}' is rejected: ${reason}`, {
        details: { index: i, pattern: p },
      });
    }
  });
  try {
    return new RegExp(`^(?:(${parts.join(')|(')}))`, 'u');
  } catch (e) {
    throw imaError(ImaErrorCode.InvalidExclude, `excludes do not combine into one expression: ${String(e)}`, { cause: e });
  }
}
