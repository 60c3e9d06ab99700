/** @module tenant/retry: upstream's retry delay (KR keylime/common/retry.py) and Python number text. */

/** Seconds to wait before attempt n+1 after n failures: base**n with exponential backoff and base > 1, else base. */
export function retryTime(exponential: boolean, base: number, ntries: number): number {
  if (exponential && base > 1) return base ** ntries;
  return Math.abs(base);
}

/** Python's `str(float)`: 2 → "2.0", 2.5 → "2.5". */
export function pyFloat(n: number): string {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

/** Python's `%d` of a float (truncates toward zero). */
export function pyInt(n: number): string {
  return String(Math.trunc(n));
}
