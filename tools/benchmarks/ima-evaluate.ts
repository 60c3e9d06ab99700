/**
 * @module benchmarks/ima-evaluate: throughput of IMA evaluation (`tools/bench ima-evaluate [entries] [rounds]`):
 * a full list against a policy of as many digests, and the incremental cost of one quote that
 * carries 10 new entries on top of a 100 000-entry list, in the SHA-1 and SHA-256 banks.
 * Target: >= 300 000 entries/s per core. CPU time (process.cpuUsage) is the figure to compare on
 * a shared machine; wall time and the load average are printed so a reader can judge the noise.
 */
import * as os from 'node:os';
import { compileRuntimePolicy, emptyRuntimePolicy, evaluateImaList, initialImaState } from '@keylime/ima';
import type { HashAlg, ImaAttestState } from '@keylime/ima';
import { generateLog, naivePcr10 } from '../../libs/ima/src/testing/generate-log';

const n = Number(process.argv[2] ?? 100_000);
const rounds = Math.max(1, Number(process.argv[3] ?? 5));
const load = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`machine: ${os.cpus().length} CPUs, load average ${load()} (1/5/15 min), node ${process.version}`);
const { lines, digests } = generateLog(n + 10_000);
const base = lines.slice(0, n);
const text = `${base.join('\n')}\n`;

/** Wall and CPU seconds of `fn` (CPU time is what a core spends; wall time suffers from load). */
function timed<T>(fn: () => T): { value: T; wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { value, wall, cpu: (c.user + c.system) / 1e6 };
}
const rate = (count: number, s: number): string => Math.round(count / s).toLocaleString('en-US');

const t = process.hrtime.bigint();
const policy = compileRuntimePolicy({
  ...emptyRuntimePolicy(),
  digests: Object.fromEntries([...digests].slice(0, n + 10_000).map(([k, v]) => [k, [v]])),
});
const compileMs = Number(process.hrtime.bigint() - t) / 1e6;
console.log(`policy: ${digests.size} digests, validated + compiled in ${compileMs.toFixed(0)} ms`);

for (const bank of ['sha1', 'sha256'] as HashAlg[]) {
  const quoted = naivePcr10(base, bank as 'sha1' | 'sha256');
  // one warm-up pass, then `rounds` measured passes: best and median CPU, best wall
  const runs: { wall: number; cpu: number }[] = [];
  let state: ImaAttestState = initialImaState();
  for (let round = 0; round <= rounds; round++) {
    const r = timed(() => evaluateImaList(initialImaState(), { measurementList: text, startEntry: 0, bank, quotedPcr10: quoted, policy }));
    if (!r.value.ok) throw new Error(`unexpected failure: ${r.value.failure.events[0]?.eventId ?? ''}`);
    state = r.value.value.state;
    if (round > 0) runs.push({ wall: r.wall, cpu: r.cpu });
  }
  const cpus = runs.map((r) => r.cpu).sort((a, b) => a - b);
  const bestCpu = cpus[0] as number;
  const medianCpu = cpus[Math.floor(cpus.length / 2)] as number;
  const bestWall = Math.min(...runs.map((r) => r.wall));
  console.log(
    `${bank} bank, full list of ${n} entries: ${rate(n, bestCpu)} entries/s per core (best of ${rounds}; median ${rate(n, medianCpu)}; CPU ${(bestCpu * 1000).toFixed(0)} ms) | wall best ${(bestWall * 1000).toFixed(0)} ms = ${rate(n, bestWall)}/s | load ${load()}`,
  );

  // incremental: quotes of 10 new entries each on top of the 100k state
  const quotes = 1000;
  let pcr = quoted;
  const slices: { text: string; pcr: Buffer }[] = [];
  for (let q = 0; q < quotes; q++) {
    const slice = lines.slice(n + q * 10, n + q * 10 + 10);
    pcr = naivePcr10(slice, bank as 'sha1' | 'sha256', pcr);
    slices.push({ text: `${slice.join('\n')}\n`, pcr });
  }
  const inc = timed(() => {
    for (const sl of slices) {
      const r = evaluateImaList(state, { measurementList: sl.text, startEntry: state.nextEntry, bank, quotedPcr10: sl.pcr, policy });
      if (!r.ok) throw new Error('incremental failure');
      state = r.value.state;
    }
  });
  console.log(
    `${bank} bank, one quote with 10 new entries on a ${n}-entry list: ${((inc.cpu * 1e6) / quotes).toFixed(1)} µs CPU (wall ${((inc.wall * 1e6) / quotes).toFixed(1)} µs; ${quotes} quotes, next entry ${state.nextEntry}) | load ${load()}`,
  );
}
