/** @module values: string-to-value conversions with Python's (configparser, int(), float()) rules. */

import { PyDict, PyLiteralError, parsePythonLiteral } from './python-literal';
import type { PyValue } from './python-literal';

/** Result of a conversion: the value, or a lower-case problem text for a ConfigError. */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

function bad<T>(problem: string): Parsed<T> {
  return { ok: false, problem };
}

function shown(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/** configparser's BOOLEAN_STATES (case-insensitive). */
const BOOLEAN_STATES: Readonly<Record<string, boolean>> = {
  '1': true,
  yes: true,
  true: true,
  on: true,
  '0': false,
  no: false,
  false: false,
  off: false,
};

/**
 * What upstream's config.get() does to every value: strip any run of `"` and space characters
 * from both ends (Python's `str.strip('" ')`). So `"  unquoted"` becomes `unquoted`.
 */
export function stripQuotes(text: string): string {
  return text.replace(/^[" ]+/, '').replace(/[" ]+$/, '');
}

/** true/false/yes/no/on/off/1/0 in any case. */
export function parseBoolean(text: string): Parsed<boolean> {
  const value = BOOLEAN_STATES[stripQuotes(text).trim().toLowerCase()];
  return value === undefined
    ? bad(`expected a boolean (true/false, yes/no, on/off, 1/0), got ${shown(text)}`)
    : ok(value);
}

/** Python int(): optional sign, decimal digits, single underscores between digits, surrounding whitespace. */
export function parseInteger(text: string): Parsed<number> {
  const clean = stripQuotes(text).trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(clean)) return bad(`expected an integer, got ${shown(text)}`);
  const value = Number(clean.replace(/_/g, ''));
  if (!Number.isSafeInteger(value)) return bad(`integer out of range, got ${shown(text)}`);
  return ok(value);
}

/** Python float() restricted to finite values (an infinite or NaN interval is never meant). */
export function parseNumber(text: string): Parsed<number> {
  const clean = stripQuotes(text).trim();
  const digits = String.raw`\d(?:_?\d)*`;
  const pattern = new RegExp(
    `^[+-]?(?:${digits}\\.?(?:${digits})?|\\.${digits})(?:[eE][+-]?${digits})?$`,
  );
  if (!pattern.test(clean)) return bad(`expected a number, got ${shown(text)}`);
  const value = Number(clean.replace(/_/g, ''));
  if (!Number.isFinite(value)) return bad(`number out of range, got ${shown(text)}`);
  return ok(value);
}

/** A TCP port: an integer 0..65535. */
export function parsePort(text: string): Parsed<number> {
  const parsed = parseInteger(text);
  if (!parsed.ok) return bad(`expected a port number (0-65535), got ${shown(text)}`);
  if (parsed.value < 0 || parsed.value > 65535)
    return bad(`expected a port number (0-65535), got ${shown(text)}`);
  return parsed;
}

/**
 * upstream config.getlist(): strip quotes/spaces, ast.literal_eval, require a list; string items
 * are stripped. An empty value is an error upstream ("could not find option"); here it is too.
 */
export function parsePythonList(text: string): Parsed<readonly PyValue[]> {
  const clean = stripQuotes(text);
  if (clean === '') return bad("expected a list such as ['a', 'b'], got an empty value");
  let value: PyValue;
  try {
    value = parsePythonLiteral(clean);
  } catch (error) {
    const reason = error instanceof PyLiteralError ? error.message : String(error);
    return bad(`expected a Python list such as ['a', 'b'], got ${shown(text)} (${reason})`);
  }
  if (!Array.isArray(value))
    return bad(`expected a Python list such as ['a', 'b'], got ${shown(text)}`);
  const items = value as readonly PyValue[];
  return ok(items.map((item) => (typeof item === 'string' ? item.trim() : item)));
}

/** A Python list whose items must all be strings. */
export function parseStringList(text: string): Parsed<readonly string[]> {
  const parsed = parsePythonList(text);
  if (!parsed.ok) return parsed;
  const strings: string[] = [];
  for (const item of parsed.value) {
    if (typeof item !== 'string') return bad(`expected a list of strings, got ${shown(text)}`);
    strings.push(item);
  }
  return ok(strings);
}

/** A Python list of dicts with string keys, e.g. severity_policy. */
export function parseDictList(text: string): Parsed<readonly Readonly<Record<string, PyValue>>[]> {
  const parsed = parsePythonList(text);
  if (!parsed.ok) return parsed;
  const dicts: Readonly<Record<string, PyValue>>[] = [];
  for (const item of parsed.value) {
    if (!(item instanceof PyDict)) return bad(`expected a list of dicts, got ${shown(text)}`);
    dicts.push(item.toObject());
  }
  return ok(dicts);
}

/** Comma-separated text split and trimmed, empty items dropped (cert_subject_alternative_names, signed_attributes). */
export function parseCommaList(text: string): readonly string[] {
  return stripQuotes(text)
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(text: string, choices: readonly T[]): Parsed<T> {
  const clean = stripQuotes(text);
  const found = choices.find((choice) => choice === clean);
  return found === undefined
    ? bad(`expected one of ${choices.join(', ')}, got ${shown(text)}`)
    : ok(found);
}
