import { normalizeArgv, parseTenantArgs } from './args';
import { UsageError } from './errors';

describe('keylime_tenant arguments', () => {
  it('takes upstream single-dash long options and defaults', () => {
    const a = parseTenantArgs([
      '-c',
      'add',
      '-t',
      '10.0.0.1',
      '-tp',
      '9002',
      '-v',
      '127.0.0.1',
      '-vp',
      '8881',
      '-r',
      'r',
      '-rp',
      '8891',
      '-u',
      'agent-1',
      '-nvc',
      '-vi',
      'cv1',
    ]);
    expect(a).toMatchObject({
      command: 'add',
      agentIp: '10.0.0.1',
      agentPort: '9002',
      verifierIp: '127.0.0.1',
      verifierPort: '8881',
      registrarIp: 'r',
      registrarPort: '8891',
      agentUuid: 'agent-1',
      verifierCheck: false,
      verifierId: 'cv1',
      verify: false,
      json: false,
    });
    expect(parseTenantArgs([])?.command).toBe('add');
  });

  it('takes underscore options, = forms, repeats and argparse prefixes', () => {
    const a = parseTenantArgs([
      '--tpm_policy',
      '{"15":"AB"}',
      '-tp=9003',
      '--runtime-policy-na',
      'p1',
      '--mb_refstate',
      'mb.json',
      '--sign_verification_key',
      'k1',
      '--signature-verification-key',
      'k2',
      '--verify',
      '-f',
      'x',
      '--json',
    ]);
    expect(a).toMatchObject({
      tpmPolicy: '{"15":"AB"}',
      agentPort: '9003',
      runtimePolicyName: 'p1',
      mbPolicy: 'mb.json',
      imaSignVerificationKeys: ['k1', 'k2'],
      verify: true,
      file: 'x',
      json: true,
    });
  });

  it('refuses unknown and ambiguous options with exit 2', () => {
    expect(() => parseTenantArgs(['--bogus'])).toThrow(UsageError);
    expect(() => normalizeArgv(['--mb'])).toThrow(/ambiguous/);
    try {
      parseTenantArgs(['-t']);
    } catch (e) {
      expect((e as UsageError).exitCode).toBe(2);
    }
  });

  it('applies upstream get_opts_error rules', () => {
    expect(() => parseTenantArgs(['-c', 'addruntimepolicy'])).toThrow(
      '--allowlist or --runtime_policy is required to add a runtime policy',
    );
    expect(() => parseTenantArgs(['--exclude', 'e'])).toThrow(
      '--exclude cannot be used without an --allowlist',
    );
    expect(() => parseTenantArgs(['--runtime-policy-url', 'http://x'])).toThrow(
      '--runtime_policy-url must have',
    );
    expect(() => parseTenantArgs(['--runtime-policy-checksum', 'ab'])).toThrow(
      '--runtime_policy-checksum must have',
    );
  });
});
