import { createRequire } from 'node:module';
import { pgArrayText } from './pg-array-text';

// node-postgres is the independent implementation: for every kind of value the batched flush
// writes, the text built here is the text it would build for the same array.
// (pg/lib/utils has no type declarations.)
const { prepareValue } = createRequire(__filename)('pg/lib/utils') as {
  prepareValue(v: unknown): unknown;
};

describe('pgArrayText', () => {
  it.each<[string, unknown[]]>([
    ['plain strings', ['sha256', 'ecc', '']],
    ['quotes, backslashes and array syntax', ['{"a":"b\\\\c"}', 'x,y', '{}', 'NULL', ' sp ', '\\']],
    ['unicode', ['é', '日本', '\u{1F600}']],
    ['NULL for null and undefined', [null, 'a', undefined]],
    ['integers and other numbers', [0, -5, 1_700_000_000, 2 ** 53, 1.5]],
    ['bigints and booleans', [10n, true, false]],
    ['bytea', [Buffer.from([0, 1, 0xfe, 0xff]), Buffer.alloc(0), null]],
    ['numbers and strings with nothing to escape', ['1', 2, 'x y', -3.5]],
    ['an empty column', []],
  ])('%s: the same text as node-postgres', (_name, values) => {
    expect(pgArrayText(values)).toBe(prepareValue(values));
  });

  it('leaves other kinds of value to node-postgres', () => {
    expect(pgArrayText([new Date(0)])).toBeUndefined();
    expect(pgArrayText([{ a: 1 }])).toBeUndefined();
    expect(pgArrayText([['nested']])).toBeUndefined();
    expect(pgArrayText([new Uint8Array([1])])).toBeUndefined();
  });
});
