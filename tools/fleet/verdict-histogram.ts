/**
 * @module verdict-histogram: the verifier's quote-to-verdict histogram as GET /metrics serves it
 * (Prometheus text format), the difference of two readings, and quantiles from it.
 */

const SERIES = 'keylime_verifier_quote_verdict_seconds_bucket';

/** Cumulative counts by upper bound in seconds (Infinity for +Inf), ascending. */
export type CumulativeBuckets = readonly (readonly [number, number])[];

/** The verdict-time buckets of a /metrics text; undefined when it has none. */
export function parseVerdictBuckets(text: string): CumulativeBuckets | undefined {
  const out: [number, number][] = [];
  const re = new RegExp(`^${SERIES}\\{le="([^"]+)"\\} (\\S+)$`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    const count = Number(m[2]);
    if (Number.isNaN(le) || Number.isNaN(count)) return undefined;
    out.push([le, count]);
  }
  out.sort((a, b) => a[0] - b[0]);
  return out.length > 0 && out[out.length - 1]?.[0] === Infinity ? out : undefined;
}

/** Counts between two readings of the same verifier (later minus earlier, bucket by bucket). */
export function bucketsBetween(
  before: CumulativeBuckets,
  after: CumulativeBuckets,
): CumulativeBuckets {
  const earlier = new Map(before);
  return after.map(([le, n]) => [le, n - (earlier.get(le) ?? 0)] as const);
}

/**
 * The q-quantile (0 < q < 1) in milliseconds, interpolated linearly inside its bucket as
 * Prometheus's histogram_quantile does; NaN for no observations; a quantile in the +Inf bucket
 * is reported as the last finite bound.
 */
export function quantileMs(buckets: CumulativeBuckets, q: number): number {
  const total = buckets[buckets.length - 1]?.[1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, n] of buckets) {
    if (n >= rank) {
      if (le === Infinity) return lowerBound * 1000;
      const inBucket = n - lowerCount;
      const fraction = inBucket > 0 ? (rank - lowerCount) / inBucket : 1;
      return (lowerBound + (le - lowerBound) * fraction) * 1000;
    }
    lowerBound = le;
    lowerCount = n;
  }
  return NaN;
}
