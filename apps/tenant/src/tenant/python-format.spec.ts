import { pyJson, pyRepr } from './python-format';
import { pyFloat, pyInt, retryTime } from './retry';

describe('Python formatting', () => {
  it('repr of parsed JSON as print() shows it', () => {
    expect(
      pyRepr({ code: 200, status: 'Success', results: { ok: true, n: null, l: [1, 'a'], f: 1.5 } }),
    ).toBe(
      "{'code': 200, 'status': 'Success', 'results': {'ok': True, 'n': None, 'l': [1, 'a'], 'f': 1.5}}",
    );
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyRepr('a\nb')).toBe("'a\\nb'");
  });

  it('json.dumps separators and escaping', () => {
    expect(pyJson({ a: [1, 'é'], b: {} })).toBe('{"a": [1, "\\u00e9"], "b": {}}');
  });

  it('retry delays as KR common/retry.py', () => {
    expect(retryTime(true, 2, 3)).toBe(8);
    expect(retryTime(true, 0.5, 3)).toBe(0.5);
    expect(retryTime(false, 2, 3)).toBe(2);
    expect(pyFloat(4)).toBe('4.0');
    expect(pyInt(4.7)).toBe('4');
  });
});
