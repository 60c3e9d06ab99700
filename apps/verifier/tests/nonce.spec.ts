import { randomNonce } from '../src/attestation/engine';

// randomNonce draws from a pooled random buffer: same alphabet, length and uniformity as before,
// across pool refills.
describe('randomNonce', () => {
  it('gives distinct [A-Za-z0-9] nonces of the requested length across pool refills', () => {
    const n = 10_000; // ~200 KiB of random bytes: several 64 KiB refills
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const s = randomNonce();
      expect(s).toMatch(/^[A-Za-z0-9]{20}$/);
      seen.add(s);
      for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    expect(seen.size).toBe(n);
    expect(counts.size).toBe(62);
    // Chi-square over 62 symbols (61 degrees of freedom): p < 1e-6 lies above ~130.
    const expected = (n * 20) / 62;
    let chi2 = 0;
    for (const k of counts.values()) chi2 += (k - expected) ** 2 / expected;
    expect(chi2).toBeLessThan(130);
    expect(randomNonce(7)).toMatch(/^[A-Za-z0-9]{7}$/);
    expect(randomNonce(0)).toBe('');
  });
});
