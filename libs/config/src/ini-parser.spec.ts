import { ConfigError, ConfigErrorCode } from './config-error';
import { IniConfig, parseIni } from './ini-parser';

describe('IniConfig (RawConfigParser rules)', () => {
  it('reads "=" and ":" options, lower-cases keys, keeps section case, ignores full-line comments', () => {
    const ini = parseIni(
      [
        '# top comment',
        '[Verifier]',
        'IP = 10.0.0.1',
        'port: 8881',
        '; another',
        '  # indented comment',
        'url = http://x:1/a=b',
      ].join('\n'),
      'v.conf',
    );
    expect(ini.sections()).toEqual(['Verifier']);
    expect(ini.get('Verifier', 'ip')).toBe('10.0.0.1');
    expect(ini.get('Verifier', 'IP')).toBe('10.0.0.1');
    expect(ini.get('Verifier', 'port')).toBe('8881');
    expect(ini.get('Verifier', 'url')).toBe('http://x:1/a=b');
    expect(ini.get('verifier', 'ip')).toBeUndefined();
    expect(ini.getEntry('Verifier', 'port')).toEqual({ value: '8881', file: 'v.conf', line: 4 });
  });

  it('joins continuation lines like configparser (blank lines kept inside, comments dropped, right-stripped)', () => {
    // Expected values produced by Python 3 configparser.RawConfigParser on the same text.
    const ini = parseIni(
      [
        '[s]',
        'a = 1',
        '  b = 2',
        '',
        '  c',
        '# comment',
        '  d',
        '',
        'e: x = y',
        'f = v # not a comment',
        'G=',
      ].join('\n'),
      'f',
    );
    expect(ini.get('s', 'a')).toBe('1\nb = 2\n\nc\nd');
    expect(ini.get('s', 'e')).toBe('x = y');
    expect(ini.get('s', 'f')).toBe('v # not a comment');
    expect(ini.get('s', 'g')).toBe('');
  });

  it('continues Python-literal lists over several lines', () => {
    const ini = parseIni("[t]\naccept_tpm_hash_algs = ['sha512',\n    'sha256']\n", 't.conf');
    expect(ini.get('t', 'accept_tpm_hash_algs')).toBe("['sha512',\n'sha256']");
  });

  it('gives DEFAULT options to every section, but [default] is an ordinary section', () => {
    const ini = parseIni('[DEFAULT]\ninh = yes\n[a]\nx = 1\n[default]\ny = 2\n', 'd');
    expect(ini.sections()).toEqual(['a', 'default']);
    expect(ini.get('a', 'inh')).toBe('yes');
    expect(ini.get('default', 'inh')).toBe('yes');
    expect(ini.get('a', 'y')).toBeUndefined();
    expect(ini.options('a')).toEqual(['x', 'inh']);
    expect(ini.get('missing', 'inh')).toBeUndefined();
  });

  it('lets a later file override an earlier one and reopen its sections', () => {
    const ini = new IniConfig();
    ini.read('[s]\na = 1\nb = 1\n', 'one');
    ini.read('[s]\nb = 2\n', 'two');
    expect(ini.get('s', 'a')).toBe('1');
    expect(ini.getEntry('s', 'b')).toEqual({ value: '2', file: 'two', line: 2 });
  });

  it('handles CRLF and CR line endings and a UTF-8 BOM', () => {
    const ini = parseIni('\uFEFF[s]\r\na = 1\rb = 2\r\n', 'w');
    expect(ini.get('s', 'a')).toBe('1');
    expect(ini.get('s', 'b')).toBe('2');
  });

  it('takes the section name up to the last "]" as configparser does', () => {
    expect(parseIni('[a]b] trailing\nx=1\n', 'f').sections()).toEqual(['a]b']);
  });

  const errors: [string, string, string][] = [
    [
      '[s]\na = 1\nA = 2\n',
      ConfigErrorCode.DuplicateOption,
      'dup.conf:3: [s] a: option appears twice in this section (first on line 2)',
    ],
    [
      '[s]\na = 1\n[t]\n[s]\n',
      ConfigErrorCode.DuplicateSection,
      'dup.conf:4: [s]: section appears twice in this file (first on line 1)',
    ],
    [
      'a = 1\n',
      ConfigErrorCode.MissingSectionHeader,
      'dup.conf:1: option line before any [section] header: "a = 1"',
    ],
    [
      '[s]\njust words\n',
      ConfigErrorCode.Syntax,
      'dup.conf:2: [s]: expected "option = value", got "just words"',
    ],
    [
      '[s]\n= value\n',
      ConfigErrorCode.Syntax,
      'dup.conf:2: [s]: expected "option = value", got "= value"',
    ],
  ];
  it.each(errors)('rejects %p with a one-line error', (text, code, message) => {
    let caught: unknown;
    try {
      parseIni(text, 'dup.conf');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe(code);
    expect((caught as ConfigError).message).toBe(message);
  });

  it('allows the same option in two different sections and repeated [DEFAULT] headers', () => {
    const ini = parseIni('[DEFAULT]\na=0\n[s]\na = 1\n[t]\na = 2\n[DEFAULT]\nb=3\n', 'f');
    expect(ini.get('s', 'a')).toBe('1');
    expect(ini.get('t', 'b')).toBe('3');
  });
});
