import {
  parseBoolean,
  parseCommaList,
  parseDictList,
  parseInteger,
  parseNumber,
  parsePort,
  parsePythonList,
  parseStringList,
  stripQuotes,
} from './values';

describe('value conversions', () => {
  it.each([
    ['"unquoted"', 'unquoted'],
    ['"  unquoted"', 'unquoted'],
    ['  "a b"  ', 'a b'],
    ['"a"b"', 'a"b'],
    ["'kept'", "'kept'"],
  ])("stripQuotes(%p) = %p like str.strip('\" ')", (text, expected) => {
    expect(stripQuotes(text)).toBe(expected);
  });

  it.each([
    ['True', true],
    ['false', false],
    ['YES', true],
    ['no', false],
    ['On', true],
    ['off', false],
    ['1', true],
    ['0', false],
    ['"true"', true],
  ])('parseBoolean(%p) = %p', (text, expected) => {
    expect(parseBoolean(text)).toEqual({ ok: true, value: expected });
  });

  it.each(['', 'maybe', '2', 'tru'])('parseBoolean rejects %p', (text) => {
    const parsed = parseBoolean(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.problem).toBe(
      `expected a boolean (true/false, yes/no, on/off, 1/0), got ${JSON.stringify(text)}`,
    );
  });

  it.each([
    ['8881', 8881],
    [' 5 ', 5],
    ['+7', 7],
    ['-3', -3],
    ['1_000', 1000],
    ['010', 10],
  ])('parseInteger(%p) = %p', (text, expected) => {
    expect(parseInteger(text)).toEqual({ ok: true, value: expected });
  });

  it.each(['', 'abc', '1.5', '1__0', '_1', '0x10', '99999999999999999999'])(
    'parseInteger rejects %p',
    (text) => {
      expect(parseInteger(text).ok).toBe(false);
    },
  );

  it.each([
    ['2', 2],
    ['60.0', 60],
    ['.5', 0.5],
    ['1.', 1],
    ['1e2', 100],
    ['-0.25', -0.25],
    ['1_0.5', 10.5],
  ])('parseNumber(%p) = %p', (text, expected) => {
    expect(parseNumber(text)).toEqual({ ok: true, value: expected });
  });

  it.each(['', 'abc', 'nan', 'inf', '1e999', '1.2.3'])('parseNumber rejects %p', (text) => {
    expect(parseNumber(text).ok).toBe(false);
  });

  it('parsePort enforces 0-65535', () => {
    expect(parsePort('8992')).toEqual({ ok: true, value: 8992 });
    expect(parsePort('65536').ok).toBe(false);
    expect(parsePort('-1').ok).toBe(false);
  });

  it('parses Python lists as upstream getlist does (quotes stripped, string items stripped)', () => {
    expect(parseStringList("['ecc', 'rsa']")).toEqual({ ok: true, value: ['ecc', 'rsa'] });
    expect(parseStringList("\"[' a ', 'b']\"")).toEqual({ ok: true, value: ['a', 'b'] });
    expect(parsePythonList('[]')).toEqual({ ok: true, value: [] });
    expect(parseStringList('[1]').ok).toBe(false);
    expect(parseStringList("'a'").ok).toBe(false);
    expect(parseStringList('a, b').ok).toBe(false);
    const empty = parseStringList('');
    expect(!empty.ok && empty.problem).toBe(
      "expected a list such as ['a', 'b'], got an empty value",
    );
  });

  it('parses severity_policy-style dict lists', () => {
    expect(parseDictList('[{"event_id": ".*", "severity_label" : "emergency"}]')).toEqual({
      ok: true,
      value: [{ event_id: '.*', severity_label: 'emergency' }],
    });
    expect(parseDictList("['x']").ok).toBe(false);
  });

  it('splits comma lists where upstream splits on ","', () => {
    expect(parseCommaList('ek_tpm,aik_tpm, ekcert')).toEqual(['ek_tpm', 'aik_tpm', 'ekcert']);
    expect(parseCommaList('')).toEqual([]);
    expect(parseCommaList('host.example, 10.0.0.1,')).toEqual(['host.example', '10.0.0.1']);
  });
});
