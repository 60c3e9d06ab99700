import { compilePythonFullMatch, pyReEscape } from './py-regex';

describe('python regex dialect', () => {
  it('escapes like re.escape (Python >= 3.7)', () => {
    expect(pyReEscape('(hd0,gpt2)/vmlinuz-5.14.0 root=UUID=ab ro')).toBe('\\(hd0,gpt2\\)/vmlinuz\\-5\\.14\\.0\\ root=UUID=ab\\ ro');
    expect(pyReEscape('a_b:c#d&e~f')).toBe('a_b:c\\#d\\&e\\~f');
  });

  it('full-matches escaped text, including Python identity escapes', () => {
    const text = '(hd0,gpt2)/vmlinuz-5.14.0-503.11.1.el9_5.x86_64 root=/dev/mapper/rhel-root ro crashkernel=1G-4G:192M';
    const re = compilePythonFullMatch(`kernel_cmdline: ${pyReEscape(text)}`);
    expect(re.test(`kernel_cmdline: ${text}`)).toBe(true);
    expect(re.test(`kernel_cmdline: ${text} single`)).toBe(false);
    expect(re.test(`xkernel_cmdline: ${text}`)).toBe(false);
  });

  it('translates named groups, anchors and inline flags; dot-all on request', () => {
    expect(compilePythonFullMatch('(?P<a>x+)(?P=a)').test('xxxx')).toBe(true);
    expect(compilePythonFullMatch('(?i)ABC').test('abc')).toBe(true);
    expect(compilePythonFullMatch('\\Aab\\Z').test('ab')).toBe(true);
    expect(compilePythonFullMatch('grub_cmd: .*').test('grub_cmd: a\nb')).toBe(false);
    expect(compilePythonFullMatch('grub_cmd: .*', { dotAll: true }).test('grub_cmd: a\nb')).toBe(true);
  });

  it('refuses patterns JavaScript cannot run', () => {
    expect(() => compilePythonFullMatch('(unclosed')).toThrow(expect.objectContaining({ code: 'KL_MBA_INVALID_REFSTATE' }));
    expect(() => compilePythonFullMatch('(?x) a b')).toThrow(expect.objectContaining({ code: 'KL_MBA_INVALID_REFSTATE' }));
  });
});
