import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateImaList } from './evaluate';
import type { ImaEvaluationInput } from './evaluate';
import { replayMeasurementList, bootAggregates } from './replay';
import { initialImaState, serializeImaState, deserializeImaState } from './state';
import type { ImaAttestState } from './state';
import { compileRuntimePolicy } from './policy/compile';
import { emptyRuntimePolicy } from './policy/types';
import { generateLog, imaNgLine, naivePcr10 } from './testing/generate-log';
import { MEASUREMENTS } from './testing/upstream-vectors';

const DATA = join(__dirname, '..', 'test-data');
const read = (p: string): string => readFileSync(join(DATA, p), 'utf8');
const ids = (r: ReturnType<typeof evaluateImaList>): string[] => (r.ok ? [] : r.failure.events.map((e) => e.eventId));

function quote(state: ImaAttestState, lines: readonly string[], pcr: Buffer, extra: Partial<ImaEvaluationInput> = {}) {
  return evaluateImaList(state, {
    measurementList: lines.length === 0 ? '' : `${lines.join('\n')}\n`,
    startEntry: state.nextEntry,
    bank: 'sha1',
    quotedPcr10: pcr,
    ...extra,
  });
}

describe('replayMeasurementList', () => {
  it('reproduces the §4.2 aggregates of ima-log-sha256 in both banks', () => {
    const r = replayMeasurementList(read('create-runtime-policy/ima-log-sha256'), ['sha1', 'sha256']);
    expect(r.pcr10).toEqual({
      sha1: '8adcb4304b78ee782bbba3733b191591e75dc83d',
      sha256: '8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d',
    });
    expect(r.entries).toBe(2);
  });

  it('extends all-0xff for a violation entry', () => {
    const line = `10 ${'00'.repeat(20)} ima-ng sha1:${'11'.repeat(20)} /tmp/x`;
    const r = replayMeasurementList(line, ['sha256']);
    const expected = crypto.createHash('sha256').update(Buffer.concat([Buffer.alloc(32), Buffer.alloc(32, 0xff)])).digest('hex');
    expect(r.pcr10.sha256).toBe(expected);
  });

  it('reports unparsable lines with line numbers and does not extend them', () => {
    const r = replayMeasurementList(`x\n${MEASUREMENTS[0] as string}\n`, ['sha1']);
    expect(r.errors).toEqual([{ line: 1, reason: 'expected 4 fields, got 1' }]);
    expect(r.pcr10.sha1).toBe(replayMeasurementList(MEASUREMENTS[0] as string, ['sha1']).pcr10.sha1);
  });
});

describe('bootAggregates', () => {
  it('hashes PCR 0-7 and, when present, 0-9', () => {
    const pcrs = new Map<number, Uint8Array>();
    for (let i = 0; i < 8; i++) pcrs.set(i, Buffer.alloc(20));
    expect(bootAggregates('sha1', pcrs)).toHaveLength(1);
    pcrs.set(8, Buffer.alloc(20));
    pcrs.set(9, Buffer.alloc(20));
    expect(bootAggregates('sha1', pcrs)).toHaveLength(2);
    expect(bootAggregates('sha1', new Map())).toEqual([]);
  });
});

describe('evaluateImaList', () => {
  const rust = read('rust-keylime/ascii_runtime_measurements');
  const rustPcr = replayMeasurementList(rust, ['sha1']).pcr10.sha1 as string;

  it('accepts the real 826-line log without a policy and matches at the last line', () => {
    const r = evaluateImaList(initialImaState(), { measurementList: rust, startEntry: 0, bank: 'sha1', quotedPcr10: rustPcr });
    expect(ids(r)).toEqual([]);
    expect(r.value).toMatchObject({ matchLine: 826, entries: 826, pcr10: rustPcr });
    expect(r.value.state.nextEntry).toBe(826);
  });

  it('fails with ima.pcr_mismatch when the quote does not match, and resets the state', () => {
    const r = evaluateImaList(initialImaState(), { measurementList: rust, startEntry: 0, bank: 'sha1', quotedPcr10: 'ff'.repeat(20) });
    expect(ids(r)).toEqual(['ima.pcr_mismatch']);
    expect(r.value.state.nextEntry).toBe(0);
  });

  it('flags every file of the real log against the empty policy', () => {
    const r = evaluateImaList(initialImaState(), {
      measurementList: rust,
      startEntry: 0,
      bank: 'sha1',
      quotedPcr10: rustPcr,
      policy: compileRuntimePolicy(emptyRuntimePolicy()),
    });
    const list = ids(r);
    expect(list).toHaveLength(826);
    expect(new Set(list)).toEqual(new Set(['ima.validation.ima-ng.not_in_allowlist']));
    expect(r.ok ? undefined : r.failure.events[1]?.context).toEqual({ message: 'File not found in allowlist: /init' });
  });

  it('reports parser errors with their line, and the unextended line breaks the match', () => {
    const r = evaluateImaList(initialImaState(), {
      measurementList: `${MEASUREMENTS[0] as string}\ngarbage\n`,
      startEntry: 0,
      bank: 'sha1',
      useKeyrings: false,
      quotedPcr10: replayMeasurementList(MEASUREMENTS[0] as string, ['sha1']).pcr10.sha1,
    });
    expect(ids(r)).toEqual(['ima.parser.entry']);
    expect(r.ok ? undefined : r.failure.events[0]?.context).toMatchObject({ line: 2, entry: 1 });
  });

  it('detects a forged template hash (ima_hash) and a wrong PCR column (ima_pcr)', () => {
    const good = imaNgLine('sha256', 'ab'.repeat(32), '/x');
    const forged = good.replace(/^10 [0-9a-f]{4}/, '10 ffff');
    const wrongPcr = good.replace(/^10 /, '11 ');
    for (const [line, id] of [
      [forged, 'ima.validation.ima_hash'],
      [wrongPcr, 'ima.validation.ima_pcr'],
    ] as const) {
      const r = evaluateImaList(initialImaState(), { measurementList: line, startEntry: 0, bank: 'sha1' });
      expect(ids(r)).toEqual([id]);
    }
  });

  it('accepts violation entries silently unless reportTomtou is set', () => {
    const line = `10 ${'00'.repeat(20)} ima-ng sha1:${'11'.repeat(20)} /tmp/x`;
    const base = { measurementList: line, startEntry: 0, bank: 'sha1' as const, policy: compileRuntimePolicy(emptyRuntimePolicy()) };
    expect(ids(evaluateImaList(initialImaState(), base))).toEqual([]);
    expect(ids(evaluateImaList(initialImaState(), { ...base, reportTomtou: true }))).toEqual(['ima.validation.tomtou']);
  });

  it('follows the lagging-quote example of §11.4', () => {
    const { lines } = generateLog(5);
    let st = initialImaState();
    let r = quote(st, lines.slice(0, 2), naivePcr10(lines.slice(0, 2), 'sha1'));
    expect(r.ok).toBe(true);
    st = r.value.state;
    expect(st.nextEntry).toBe(2);
    // quote 2: entries 2-4 sent, quote covers only entry 2
    r = quote(st, lines.slice(2, 5), naivePcr10(lines.slice(0, 3), 'sha1'));
    expect(r.ok).toBe(true);
    expect(r.value.matchLine).toBe(1);
    st = r.value.state;
    expect(st.nextEntry).toBe(3);
    expect(st.quoteProgress).toEqual([1, 3]);
    // quote 3 still lagging at the same point: progress rule fires (previous lag 2)
    const stuck = quote(st, lines.slice(3, 5), naivePcr10(lines.slice(0, 3), 'sha1'));
    expect(ids(stuck)).toEqual(['ima.quote_progress']);
    // quote 3 covering everything
    r = quote(st, lines.slice(3, 5), naivePcr10(lines, 'sha1'));
    expect(r.ok).toBe(true);
    expect(r.value.state.nextEntry).toBe(5);
  });

  it('matches at line 0 for an empty incremental list', () => {
    const { lines } = generateLog(3);
    const first = quote(initialImaState(), lines, naivePcr10(lines, 'sha1'));
    const r = quote(first.value.state, [], naivePcr10(lines, 'sha1'));
    expect(r.ok).toBe(true);
    expect(r.value.matchLine).toBe(0);
    expect(r.value.state.nextEntry).toBe(3);
  });

  it('raises qoute_validation.invalid_ima_entry_nb when the agent starts elsewhere', () => {
    const { lines } = generateLog(3);
    const first = quote(initialImaState(), lines, naivePcr10(lines, 'sha1'));
    const r = evaluateImaList(first.value.state, { measurementList: '', startEntry: 7, bank: 'sha1', quotedPcr10: naivePcr10(lines, 'sha1') });
    expect(ids(r)).toEqual(['qoute_validation.invalid_ima_entry_nb']);
    expect(r.ok ? true : r.failure.recoverable).toBe(false);
  });

  it('restarts (nothing checked, next request from 0) on a new boottime or TPM resetCount', () => {
    const { lines } = generateLog(3);
    const first = quote(initialImaState(), lines, naivePcr10(lines, 'sha1'), { resetCount: 4 });
    const st = first.value.state;
    for (const extra of [{ bootTime: 99 }, { resetCount: 5 }, { bank: 'sha256' as const }]) {
      const r = quote(st, [], Buffer.alloc(20), extra);
      expect(r.ok).toBe(true);
      expect(r.value.outcome).toBe('restart');
      expect(r.value.state.nextEntry).toBe(0);
    }
  });

  it('gives the same verdict and aggregate for 100 000 entries in slices as in one pass (both banks)', () => {
    const n = 100_000;
    const { lines, digests } = generateLog(n);
    const policy = compileRuntimePolicy({ ...emptyRuntimePolicy(), digests: Object.fromEntries([...digests].map(([k, v]) => [k, [v]])) });
    for (const bank of ['sha1', 'sha256'] as const) {
      const full = naivePcr10(lines, bank);
      const one = evaluateImaList(initialImaState(), { measurementList: lines.join('\n'), startEntry: 0, bank, quotedPcr10: full, policy });
      expect(one.ok).toBe(true);
      let st = initialImaState();
      let pcr: Buffer = bank === 'sha1' ? Buffer.alloc(20) : Buffer.alloc(32);
      let last = one;
      for (let at = 0; at < n; ) {
        const size = Math.min(n - at, 1 + ((at * 7919) % 20_000));
        const slice = lines.slice(at, at + size);
        pcr = naivePcr10(slice, bank, pcr);
        last = evaluateImaList(st, { measurementList: slice.join('\n'), startEntry: st.nextEntry, bank, quotedPcr10: pcr, policy });
        expect(last.ok).toBe(true);
        st = last.value.state;
        at += size;
      }
      expect(st.nextEntry).toBe(n);
      expect(last.value.pcr10).toBe(one.value.pcr10);
      expect(st.pcr10[bank]).toBe(full.toString('hex'));
    }
  });

  it('round-trips the state through JSON', () => {
    const { lines } = generateLog(4);
    const r = quote(initialImaState(), lines, naivePcr10(lines, 'sha1'), { resetCount: 2 });
    const back = deserializeImaState(serializeImaState(r.value.state));
    expect({ ...back, learnedKeyrings: [...back.learnedKeyrings] }).toEqual({ ...r.value.state, learnedKeyrings: [] });
    expect(() => deserializeImaState('{"next_ima_ml_entry":-1}')).toThrow(/next_ima_ml_entry/);
    expect(() => deserializeImaState('nope')).toThrow(/not valid JSON/);
  });
});
