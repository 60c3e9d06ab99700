/**
 * @module benchmarks/support/process: small helpers the benchmark scripts share (not a benchmark:
 * `tools/bench` lists only tools/benchmarks/*.ts).
 */

/** `--name N` from the command line, or `fallback`; anything but a positive integer is an error. */
export function positiveIntArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} takes a positive integer`);
  return v;
}

/** Two full collections, so a memory reading counts live objects only (needs --expose-gc). */
export function fullGc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc');
  g();
  g();
}
