import { VERDICT_BUCKETS_MS, VerdictTimes, addVerdictTimes } from '../attestation/verdict-times';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the fleet benchmark's reader of this output, in tools/fleet
import { parseVerdictBuckets, quantileMs } from '../../../../tools/fleet/verdict-histogram';
import { renderMetrics } from './metrics';

/** The exposition's samples as series → value (comments skipped). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('verdict times and GET /metrics', () => {
  it('counts a time in the first bucket whose bound it does not exceed', () => {
    const t = new VerdictTimes();
    for (const ms of [0.4, 1, 1.01, 49.9, 50, 50.5, 999, 60_000, 60_001, 1e9]) t.record(ms);
    const { counts, sumMs } = t.snapshot();
    const at = (boundMs: number): number => counts[VERDICT_BUCKETS_MS.indexOf(boundMs)] ?? -1;
    expect(at(1)).toBe(2); // 0.4, 1
    expect(at(2)).toBe(1); // 1.01
    expect(at(50)).toBe(2); // 49.9, 50
    expect(at(60)).toBe(1); // 50.5
    expect(at(1000)).toBe(1);
    expect(at(60_000)).toBe(1);
    expect(counts[VERDICT_BUCKETS_MS.length]).toBe(2); // +Inf
    expect(counts.reduce((a, b) => a + b, 0)).toBe(10);
    expect(sumMs).toBeCloseTo(0.4 + 1 + 1.01 + 49.9 + 50 + 50.5 + 999 + 60_000 + 60_001 + 1e9, 6);
  });

  it('renders cumulative buckets in seconds, +Inf, sum and count; workers add up', () => {
    const a = new VerdictTimes();
    const b = new VerdictTimes();
    a.record(3);
    a.record(120);
    b.record(120);
    b.record(70_000);
    const text = renderMetrics({
      agents: 7,
      attestations: 3,
      notifications: 1,
      verdictTimes: addVerdictTimes(a.snapshot(), b.snapshot()),
    });
    const s = samples(text);
    const h = 'keylime_verifier_quote_verdict_seconds';
    expect(s.get('keylime_verifier_agents')).toBe(7);
    expect(s.get('keylime_verifier_attestations_total')).toBe(3);
    expect(s.get('keylime_verifier_revocation_notifications_total')).toBe(1);
    expect(s.get(`${h}_bucket{le="0.002"}`)).toBe(0);
    expect(s.get(`${h}_bucket{le="0.003"}`)).toBe(1);
    expect(s.get(`${h}_bucket{le="0.1"}`)).toBe(1);
    expect(s.get(`${h}_bucket{le="0.125"}`)).toBe(3);
    expect(s.get(`${h}_bucket{le="60"}`)).toBe(3);
    expect(s.get(`${h}_bucket{le="+Inf"}`)).toBe(4);
    expect(s.get(`${h}_count`)).toBe(4);
    expect(s.get(`${h}_sum`)).toBeCloseTo(70.243, 9);
    // Every histogram line is typed and buckets never decrease.
    expect(text).toContain(`# TYPE ${h} histogram\n`);
    const buckets = [...s].filter(([k]) => k.startsWith(`${h}_bucket`)).map(([, v]) => v);
    expect(buckets).toHaveLength(VERDICT_BUCKETS_MS.length + 1);
    buckets.forEach((v, i) => expect(v).toBeGreaterThanOrEqual(buckets[i - 1] ?? 0));
  });

  it('is read back by the fleet benchmark: its quantiles fall in the right buckets', () => {
    const t = new VerdictTimes();
    for (let i = 0; i < 980; i++) t.record(20 + (i % 10)); // 20–29 ms
    for (let i = 0; i < 20; i++) t.record(640);
    const text = renderMetrics({
      agents: 1,
      attestations: 1000,
      notifications: 0,
      verdictTimes: t.snapshot(),
    });
    const buckets = parseVerdictBuckets(text);
    expect(buckets).toHaveLength(VERDICT_BUCKETS_MS.length + 1);
    const p50 = quantileMs(buckets ?? [], 0.5);
    const p99 = quantileMs(buckets ?? [], 0.99);
    expect(p50).toBeGreaterThan(20);
    expect(p50).toBeLessThanOrEqual(30);
    expect(p99).toBeGreaterThan(600);
    expect(p99).toBeLessThanOrEqual(700);
  });
});
