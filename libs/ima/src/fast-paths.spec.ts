/**
 * @module fast-paths.spec: the hot loop's shortcuts give the same answers as the strict, obvious
 * code: binary column-2 comparison, the encoder's ASCII and hex shortcuts, and a whole
 * evaluation against a reference built on `parseImaEntry` and `createHash`.
 */
import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { parseImaEntry } from './entry';
import { evaluateImaList } from './evaluate';
import { hexEqualsLatin1, latin1ToHex } from './hash-alg';
import { compileRuntimePolicy } from './policy/compile';
import { emptyRuntimePolicy } from './policy/types';
import { initialImaState } from './state';
import { TemplateEncoder } from './template-encoder';
import { generateLog, imaNgLine } from './testing/generate-log';

const HEX_CHARS = '0123456789abcdefABCDEF';
const hexish = fc.array(fc.constantFrom(...HEX_CHARS.split(''), 'g', ' ', 'é', '0'), { maxLength: 44 }).map((a) => a.join(''));
const bytes20 = fc.uint8Array({ minLength: 0, maxLength: 22 }).map((b) => Buffer.from(b).toString('latin1'));

describe('hexEqualsLatin1', () => {
  it('equals hex.toLowerCase() === latin1ToHex(bytes) (property)', () => {
    fc.assert(
      fc.property(bytes20, hexish, fc.boolean(), (bytes, junk, upper) => {
        const exact = latin1ToHex(bytes);
        for (const hex of [exact, upper ? exact.toUpperCase() : exact.replace(/.$/, 'F'), junk, `${exact}0`, exact.slice(1)]) {
          expect(hexEqualsLatin1(hex, bytes)).toBe(hex.toLowerCase() === exact);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects non-hex characters that alias hex values', () => {
    expect(hexEqualsLatin1('0g', '\x00')).toBe(false);
    expect(hexEqualsLatin1('\u0130a', '\x0a')).toBe(false);
    expect(hexEqualsLatin1('', '')).toBe(true);
  });
});

describe('TemplateEncoder shortcuts', () => {
  it('utf8() writes the same bytes as Buffer.from(text, "utf8"), short or long, ASCII or not (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 60 }), (ascii, uni) => {
        for (const text of [ascii, uni, `${ascii}${uni}`]) {
          const enc = new TemplateEncoder();
          enc.byte(7);
          const n = enc.utf8(text);
          const want = Buffer.from(text, 'utf8');
          expect(n).toBe(want.length);
          expect(enc.data()).toEqual(Buffer.concat([Buffer.from([7]), want]));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('hex() decodes like Buffer.from(hex, "hex") and reports upper-case digits like /[A-F]/ (property)', () => {
    fc.assert(
      fc.property(hexish, (hex) => {
        const enc = new TemplateEncoder();
        const n = enc.hex(hex);
        const strict = /^(?:[0-9a-fA-F]{2})*$/.test(hex);
        expect(n >= 0).toBe(strict);
        if (strict) {
          expect(enc.data()).toEqual(Buffer.from(hex, 'hex'));
          expect(enc.hexHadUpper).toBe(/[A-F]/.test(hex));
        } else {
          expect(enc.length).toBe(0);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('u32le()/patchU32le() match writeUInt32LE', () => {
    for (const v of [0, 1, 0xff, 0x100, 0x12345678, 0xffffffff, 2 ** 31]) {
      const enc = new TemplateEncoder();
      enc.u32le(v);
      const want = Buffer.alloc(4);
      want.writeUInt32LE(v);
      expect(enc.data()).toEqual(want);
    }
  });
});

/** Strict reference: parseImaEntry (own template-data copy, decoded column 2) and createHash for everything. */
function reference(lines: readonly string[], bank: 'sha1' | 'sha256', digests: ReadonlyMap<string, string>) {
  let pcr = Buffer.alloc(bank === 'sha1' ? 20 : 32);
  const events: { id: string; got?: string }[] = [];
  for (const line of lines) {
    const e = parseImaEntry(line);
    if ('error' in e) {
      events.push({ id: 'ima.parser.entry' });
      continue;
    }
    const violation = e.templateHash.equals(Buffer.alloc(20));
    const value = violation ? Buffer.alloc(pcr.length, 0xff) : crypto.createHash(bank).update(e.templateData).digest();
    pcr = crypto.createHash(bank).update(Buffer.concat([pcr, value])).digest();
    if (e.pcr !== '10') events.push({ id: 'ima.validation.ima_pcr' });
    if (violation) continue;
    const computed = crypto.createHash('sha1').update(e.templateData).digest();
    if (!computed.equals(e.templateHash)) {
      events.push({ id: 'ima.validation.ima_hash', got: computed.toString('hex') });
    } else if (!digests.has(e.name)) {
      events.push({ id: 'ima.validation.ima-ng.not_in_allowlist' });
    } else if (digests.get(e.name) !== e.digestHex) {
      events.push({ id: 'ima.validation.ima-ng.runtime_policy_hash' });
    }
  }
  return { pcr: pcr.toString('hex'), events };
}

describe('evaluateImaList fast path vs the strict reference', () => {
  const { lines, digests } = generateLog(400, 'fast-path');
  const policy = compileRuntimePolicy({ ...emptyRuntimePolicy(), digests: Object.fromEntries([...digests].map(([k, v]) => [k, [v]])) });
  const upperDigestLine = (i: number): string => {
    const name = `/usr/lib/f${i}`;
    return imaNgLine('sha256', (digests.get(name) as string).toUpperCase(), name);
  };
  /** Ways to damage or vary one line; each keeps or breaks it in a way the checks must notice. */
  const mutations: readonly ((line: string, i: number) => string)[] = [
    (l) => l,
    (l) => l.replace(/^10 ([0-9a-f]{40})/, (_m, h: string) => `10 ${h.toUpperCase()}`),
    (l) => l.replace(/^10 ([0-9a-f])/, (_m, c: string) => `10 ${c === 'f' ? 'e' : 'f'}`),
    (l) => l.replace(/^10 [0-9a-f]{2}/, '10 zz'),
    (l) => l.replace(/^10 [0-9a-f]{40}/, `10 ${'00'.repeat(20)}`),
    (l) => l.replace(/^10 [0-9a-f]{40}/, (m) => `${m}00`),
    (l) => l.replace(/^10 /, '11 '),
    (l) => l.replace(/ima-ng/, 'ima-nx'),
    (_l, i) => upperDigestLine(i),
    (_l, i) => imaNgLine('sha256', 'ab'.repeat(32), `/usr/lib/f${i}`),
    (_l, i) => imaNgLine('sha256', 'ab'.repeat(32), `/usr/lib/é${i}`),
    (_l, i) => imaNgLine('sha256', 'cd'.repeat(32), `/opt/${'x'.repeat(40 + (i % 20))}é`),
  ];

  it('gives the same events, reasons and PCR 10 for randomly damaged logs in both banks (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(lines.length - 2), fc.nat(mutations.length - 1)), { maxLength: 25 }), fc.constantFrom('sha1', 'sha256'), (edits, bank) => {
        const mutated = lines.slice();
        for (const [at, m] of edits) mutated[at + 1] = (mutations[m] as (l: string, i: number) => string)(lines[at + 1] as string, at + 1);
        const want = reference(mutated, bank, digests);
        const r = evaluateImaList(initialImaState(), { measurementList: mutated.join('\n'), startEntry: 0, bank, policy });
        expect(r.value.pcr10).toBe(want.pcr);
        const got = r.ok ? [] : r.failure.events.map((e) => ({ id: e.eventId, ...(e.eventId === 'ima.validation.ima_hash' ? { got: (e.context as { got: string }).got } : {}) }));
        expect(got).toEqual(want.events);
      }),
      { numRuns: 150 },
    );
  });
});
