import { chooseOutputMode, createReporter, renderTable } from './output';
import type { Sink } from './output';
import { renderAgentStatus, renderBulk } from './render';

function memorySink(errIsTty = false): Sink & { stdout: string; stderr: string } {
  const s = {
    stdout: '',
    stderr: '',
    errIsTty,
    out: (t: string) => void (s.stdout += t),
    err: (t: string) => void (s.stderr += t),
  };
  return s;
}

const now = (): Date => new Date(2026, 0, 2, 3, 4, 5, 6);

describe('output modes', () => {
  it('chooses JSON, terminal or upstream output', () => {
    expect(chooseOutputMode(true, true)).toBe('json');
    expect(chooseOutputMode(false, true)).toBe('pretty');
    expect(chooseOutputMode(false, false)).toBe('upstream');
  });

  it('writes upstream log lines and print lines to stdout, failures also to stderr', () => {
    const sink = memorySink();
    const out = createReporter({ mode: 'upstream', sink, loggerName: 'keylime.tenant', now });
    out.info('Quote from Agent x validated', 'hidden at a terminal');
    out.note('only at a terminal');
    out.print("{'code': 200}");
    out.result({ a: 1 });
    out.fail('Agent x does not exist', 'keylime_tenant');
    expect(sink.stdout).toBe(
      '2026-01-02 03:04:05.006 - keylime.tenant - INFO - Quote from Agent x validated\n' +
        "{'code': 200}\n" +
        '2026-01-02 03:04:05.006 - keylime.tenant - ERROR - Agent x does not exist\n',
    );
    expect(sink.stderr).toBe('keylime_tenant: Agent x does not exist\n');
  });

  it('shows readable text at a terminal', () => {
    const sink = memorySink(true);
    const out = createReporter({ mode: 'pretty', sink, loggerName: 'keylime.tenant', now });
    out.info('upstream text', null);
    out.info('TLS is enabled.');
    out.progress('waiting…');
    out.note('✓ done');
    out.warn('careful');
    out.result({ x: 1 }, () => 'rendered');
    out.fail('broken', 'keylime_tenant');
    expect(sink.stdout).toBe('TLS is enabled.\n✓ done\nrendered\n');
    expect(sink.stderr).toBe('\r\x1b[Kwaiting…\r\x1b[Kwarning: careful\nkeylime_tenant: broken\n');
  });

  it('prints exactly one JSON document in JSON mode', () => {
    const sink = memorySink();
    const out = createReporter({ mode: 'json', sink, loggerName: 'keylime.tenant', now });
    out.info('not shown');
    out.result({ agent: { operational_state: 'Get Quote' } });
    out.close();
    expect(JSON.parse(sink.stdout)).toEqual({ agent: { operational_state: 'Get Quote' } });
    const sink2 = memorySink();
    const failed = createReporter({ mode: 'json', sink: sink2, loggerName: 'keylime.tenant', now });
    failed.fail('nope', 'keylime_tenant');
    failed.close();
    expect(JSON.parse(sink2.stdout)).toEqual({ error: 'nope' });
  });

  it('renders status and bulk tables', () => {
    expect(
      renderTable([
        ['A', 'BB'],
        ['CCC', 'D'],
      ]),
    ).toBe('A    BB\nCCC  D');
    const text = renderAgentStatus(
      'id1',
      {
        operational_state: 'Registered',
        ip: '127.0.0.1',
        port: 9002,
        regcount: 1,
        ekcert: 'x',
        mtls_cert: 'pem',
      },
      {
        operational_state: 'Get Quote',
        attestation_status: 'PASS',
        attestation_count: 3,
        tpm_policy: '{"mask": "0x400"}',
        last_successful_attestation: 0,
      },
    );
    expect(text).toContain('Get Quote');
    expect(text).toContain('0x400');
    expect(text).toContain('never');
    expect(
      renderBulk({ id1: { operational_state: 'Failed', attestation_status: 'FAIL' } }),
    ).toMatch(/id1\s+Failed\s+FAIL/);
  });
});
