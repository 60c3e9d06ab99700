import { parseRegistrationBody } from './request';

describe('registration body', () => {
  it('accepts what the Rust agent sends, with port as number or string', () => {
    const body = parseRegistrationBody({
      aik_tpm: 'AAAA',
      ek_tpm: 'BBBB',
      port: '9002',
      ip: '::1',
      iak_cert: null,
      extra: 1,
    });
    expect(body).toMatchObject({
      aik_tpm: 'AAAA',
      ek_tpm: 'BBBB',
      port: 9002,
      ip: '::1',
      iak_cert: null,
    });
    expect(parseRegistrationBody({ aik_tpm: 'A', port: 1, ip: 'agent-1.example.org' }).port).toBe(
      1,
    );
  });

  it('names the first bad field', () => {
    expect(() => parseRegistrationBody({})).toThrow(/^aik_tpm is required$/);
    expect(() => parseRegistrationBody({ aik_tpm: 'A', port: 0 })).toThrow(/^port /);
    expect(() => parseRegistrationBody({ aik_tpm: 'A', port: '9x' })).toThrow(/^port /);
    expect(() => parseRegistrationBody({ aik_tpm: 'A', ip: 'bad host' })).toThrow(
      /^ip must be an IP address or host name$/,
    );
    expect(() => parseRegistrationBody({ aik_tpm: ['A'] })).toThrow(/^aik_tpm /);
  });
});
