/**
 * @module verdict-times: how long quotes take from request to verdict, as a fixed-bucket histogram
 * (one array increment per quote). Workers keep their own and the main thread adds them up for
 * GET /metrics, where the buckets appear as a Prometheus histogram.
 */

/** Upper bounds of the buckets, in milliseconds (the last, +Inf, is implicit). */
export const VERDICT_BUCKETS_MS: readonly number[] = [
  1, 2, 3, 4, 5, 7.5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 125, 150, 175, 200, 250, 300,
  350, 400, 450, 500, 600, 700, 800, 900, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 7500,
  10000, 15000, 20000, 30000, 60000,
];

/** A histogram as it crosses threads: per-bucket (not cumulative) counts, the last one +Inf. */
export interface VerdictTimesSnapshot {
  readonly counts: readonly number[];
  readonly sumMs: number;
}

export function emptyVerdictTimes(): VerdictTimesSnapshot {
  return { counts: new Array<number>(VERDICT_BUCKETS_MS.length + 1).fill(0), sumMs: 0 };
}

export function addVerdictTimes(
  a: VerdictTimesSnapshot,
  b: VerdictTimesSnapshot,
): VerdictTimesSnapshot {
  return { counts: a.counts.map((n, i) => n + (b.counts[i] ?? 0)), sumMs: a.sumMs + b.sumMs };
}

export class VerdictTimes {
  private readonly counts = new Float64Array(VERDICT_BUCKETS_MS.length + 1);
  private sumMs = 0;

  record(ms: number): void {
    const bounds = VERDICT_BUCKETS_MS;
    let i = 0;
    // Most verdicts fall in the first dozen buckets: a linear scan beats a binary search here.
    while (i < bounds.length && ms > (bounds[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sumMs += ms;
  }

  snapshot(): VerdictTimesSnapshot {
    return { counts: Array.from(this.counts), sumMs: this.sumMs };
  }
}
