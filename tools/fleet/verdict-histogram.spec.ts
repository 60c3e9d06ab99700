import { bucketsBetween, parseVerdictBuckets, quantileMs } from './verdict-histogram';

const h = 'keylime_verifier_quote_verdict_seconds';

function exposition(counts: Record<string, number>): string {
  return [
    '# HELP keylime_verifier_agents Agents the pull loop attests.',
    'keylime_verifier_agents 3',
    `# TYPE ${h} histogram`,
    ...Object.entries(counts).map(([le, n]) => `${h}_bucket{le="${le}"} ${n}`),
    `${h}_sum 1.5`,
    `${h}_count ${counts['+Inf'] ?? 0}`,
  ].join('\n');
}

describe('verdict histogram from GET /metrics', () => {
  it('parses the buckets, subtracts two readings and interpolates quantiles inside a bucket', () => {
    const before = parseVerdictBuckets(exposition({ '0.01': 10, '0.1': 10, '1': 10, '+Inf': 10 }));
    const after = parseVerdictBuckets(
      exposition({ '0.01': 10, '0.1': 110, '1': 210, '+Inf': 210 }),
    );
    expect(before).toEqual([
      [0.01, 10],
      [0.1, 10],
      [1, 10],
      [Infinity, 10],
    ]);
    const window = bucketsBetween(before ?? [], after ?? []);
    expect(window).toEqual([
      [0.01, 0],
      [0.1, 100],
      [1, 200],
      [Infinity, 200],
    ]);
    // Rank 100 of 200 is the top of the (0.01, 0.1] bucket; rank 198 is 98% into (0.1, 1].
    expect(quantileMs(window, 0.5)).toBeCloseTo(100, 9);
    expect(quantileMs(window, 0.25)).toBeCloseTo(55, 9);
    expect(quantileMs(window, 0.99)).toBeCloseTo(100 + 900 * 0.98, 9);
  });

  it('reports no observations as NaN and a quantile beyond the last bound as that bound', () => {
    const none = parseVerdictBuckets(exposition({ '0.5': 0, '+Inf': 0 })) ?? [];
    expect(quantileMs(none, 0.99)).toBeNaN();
    const slow = parseVerdictBuckets(exposition({ '0.5': 1, '+Inf': 100 })) ?? [];
    expect(quantileMs(slow, 0.99)).toBe(500);
  });

  it('is undefined for a verifier without the histogram (upstream) or with a malformed one', () => {
    expect(parseVerdictBuckets('<html>404</html>')).toBeUndefined();
    expect(parseVerdictBuckets(exposition({ '0.5': 1 }))).toBeUndefined(); // no +Inf
    expect(parseVerdictBuckets(`${h}_bucket{le="x"} 1\n${h}_bucket{le="+Inf"} 1`)).toBeUndefined();
  });
});
