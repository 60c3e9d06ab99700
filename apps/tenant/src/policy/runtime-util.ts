/** @module policy/runtime-util: shared helpers of the runtime-policy commands (file I/O, Python-compatible output). */
import { readFileSync, writeFileSync } from 'node:fs';

/** A CLI failure: policy.ts prints `keylime-policy: <message>` and exits non-zero. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${what} '${path}' could not be read${code ? ` (${code})` : ''}`);
  }
}

let pipeGuard = false;

/** A closed pipe (`| head`) ends the command with exit code 1 and no trace, as upstream does. */
function guardStdout(): void {
  if (pipeGuard) return;
  pipeGuard = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exitCode = 1;
  });
}

/** Writes to a file, or to stdout for upstream's default `/dev/stdout`. */
export function writeOutput(path: string, text: string): void {
  if (path === '/dev/stdout' || path === '-') {
    guardStdout();
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(path, text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`An error occurred while writing '${path}'${code ? ` (${code})` : ''}`);
  }
}

/** Warnings go to stderr, one line each, like upstream's policy logger. */
export function warn(message: string): void {
  process.stderr.write(`WARNING: ${message}\n`);
}

/** Python `str(datetime.datetime.now())`: local time, microseconds omitted when zero. */
export function pythonNow(now: Date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base = `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())}`;
  const micro = now.getMilliseconds() * 1000;
  return micro === 0 ? base : `${base}.${p(micro, 6)}`;
}

/** Python `sorted(set(list))` (code-point order). */
export function sortedUnique(list: readonly string[]): string[] {
  return [...new Set(list)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Upstream `merge_maplists`: new keys copied, existing keys merged, sorted and de-duplicated. */
export function mergeMapLists(into: Map<string, string[]>, from: ReadonlyMap<string, readonly string[]>): void {
  for (const [k, v] of from) {
    const cur = into.get(k);
    into.set(k, cur === undefined ? [...v] : sortedUnique([...cur, ...v]));
  }
}

/** Map → plain object safely (no prototype setters for keys like `__proto__`). */
export function toRecord(map: ReadonlyMap<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(map);
}

export function toMap(obj: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (typeof obj !== 'object' || obj === null) return out;
  for (const [k, v] of Object.entries(obj)) if (Array.isArray(v)) out.set(k, v.map(String));
  return out;
}
