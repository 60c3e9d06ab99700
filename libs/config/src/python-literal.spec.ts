import { PyDict, PyLiteralError, PySet, PyTuple, parsePythonLiteral } from './python-literal';

describe('parsePythonLiteral (ast.literal_eval subset)', () => {
  it.each([
    ["['sha512', 'sha384', 'sha256']", ['sha512', 'sha384', 'sha256']],
    ['[]', []],
    ['["info", "notice"]', ['info', 'notice']],
    [
      '[1, -2, 3.5, 1e3, .5, 1_000, 0x10, 0o7, 0b11, True, False, None]',
      [1, -2, 3.5, 1000, 0.5, 1000, 16, 7, 3, true, false, null],
    ],
    ["['a' 'b', r'x\\y', u'z']", ['ab', 'x\\y', 'z']],
    ["['\\n\\t\\x41\\u00e9\\101\\q']", ['\n\tAé' + 'A\\q']],
    ['[1, # comment\n 2,]', [1, 2]],
    ["'''multi\nline'''", 'multi\nline'],
    ['(1)', 1],
  ])('parses %p', (text, expected) => {
    expect(parsePythonLiteral(text)).toEqual(expected);
  });

  it('parses dicts, tuples and sets into distinguishable values', () => {
    const value = parsePythonLiteral('[{"event_id": ".*", "severity_label" : "emergency"}]');
    expect(Array.isArray(value)).toBe(true);
    const dict = (value as readonly unknown[])[0];
    expect(dict).toBeInstanceOf(PyDict);
    expect((dict as PyDict).toObject()).toEqual({ event_id: '.*', severity_label: 'emergency' });
    expect(parsePythonLiteral('(1, 2)')).toEqual(new PyTuple([1, 2]));
    expect(parsePythonLiteral('()')).toEqual(new PyTuple([]));
    expect(parsePythonLiteral('{1, 2,}')).toEqual(new PySet([1, 2]));
    expect(parsePythonLiteral('{}')).toEqual(new PyDict(new Map()));
  });

  it.each([
    '[a, b]',
    'cacert.crt',
    "['a'",
    "['a' 'b'",
    '[1 2]',
    '01',
    "b'x'",
    "f'x'",
    '1j',
    '{[1]: 2}',
    '[1] 2',
    "'x\ny'",
    '"\\N{DASH}"',
  ])('rejects %p', (text) => {
    expect(() => parsePythonLiteral(text)).toThrow(PyLiteralError);
  });
});
