import { createLineLogger, formatTimestamp } from './logger';

describe('line logger', () => {
  const fixed = new Date(2026, 0, 2, 3, 4, 5, 6);

  it('writes upstream-format lines with structured fields and redaction', () => {
    const lines: string[] = [];
    const log = createLineLogger({
      name: 'keylime.verifier',
      write: (l) => lines.push(l),
      now: () => fixed,
    });
    log.child('quote').warn('Agent failed', { agentId: 'a1', auth_tag: 'deadbeef' });
    expect(lines).toEqual([
      '2026-01-02 03:04:05.006 - keylime.verifier.quote - WARNING - Agent failed [agentId=a1 auth_tag=[redacted]]',
    ]);
  });

  it('filters below the level', () => {
    const lines: string[] = [];
    const log = createLineLogger({ name: 'k', level: 'warn', write: (l) => lines.push(l) });
    log.info('no');
    log.error('yes');
    expect(lines).toHaveLength(1);
    expect(formatTimestamp(fixed)).toBe('2026-01-02 03:04:05.006');
  });
});
