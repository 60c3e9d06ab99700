import { hasErrorCode } from '@keylime/core';
import { TpmDeviceErrorCode } from './errors';
import { formatTcti, parseTcti, tctiFromEnvironment } from './tcti';

describe('parseTcti', () => {
  it.each([
    ['swtpm:host=127.0.0.1,port=2421', { kind: 'swtpm', host: '127.0.0.1', port: 2421 }],
    ['swtpm:port=2421,host=tpm.local', { kind: 'swtpm', host: 'tpm.local', port: 2421 }],
    ['swtpm:port=5000', { kind: 'swtpm', host: 'localhost', port: 5000 }],
    ['swtpm', { kind: 'swtpm', host: 'localhost', port: 2321 }],
    ['swtpm:', { kind: 'swtpm', host: 'localhost', port: 2321 }],
    ['libtss2-tcti-swtpm.so.0:host=::1,port=1', { kind: 'swtpm', host: '::1', port: 1 }],
    ['device:/dev/tpmrm0', { kind: 'device', path: '/dev/tpmrm0' }],
    ['device:/dev/tpm0', { kind: 'device', path: '/dev/tpm0' }],
    ['device', { kind: 'device', path: '/dev/tpmrm0' }],
    ['tcti-device:/dev/tpmrm1', { kind: 'device', path: '/dev/tpmrm1' }],
    ['  device:/dev/tpmrm0\n', { kind: 'device', path: '/dev/tpmrm0' }],
  ])('parses %p', (text, expected) => {
    expect(parseTcti(text)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['mssim:host=localhost,port=2321', /unsupported TCTI 'mssim'.*use swtpm/],
    ['tabrmd', /unsupported TCTI 'tabrmd'/],
    ['swtpm:host=a,port=1,port=2', /'port' given twice/],
    ['swtpm:port=0', /bad port '0'/],
    ['swtpm:port=65536', /bad port/],
    ['swtpm:port=12a', /bad port/],
    ['swtpm:port=', /bad port ''/],
    ['swtpm:host=', /bad host/],
    ['swtpm:path=/run/swtpm.sock', /unknown swtpm option 'path'/],
    ['swtpm:host', /expected key=value/],
    ['swtpm:host=a,', /expected key=value/],
    ['device:dev/tpm0', /bad device path/],
    ['device:/dev/tpm0,x=1', /bad device path/],
  ])('rejects %p', (text, message) => {
    let caught: unknown;
    try {
      parseTcti(text);
    } catch (e) {
      caught = e;
    }
    expect(hasErrorCode(caught, TpmDeviceErrorCode.BadTcti)).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it('round-trips through formatTcti', () => {
    const config = parseTcti('swtpm:port=2421,host=127.0.0.1');
    expect(parseTcti(formatTcti(config))).toEqual(config);
    expect(formatTcti(parseTcti('device'))).toBe('device:/dev/tpmrm0');
  });
});

describe('tctiFromEnvironment', () => {
  it('prefers TCTI, then TPM2TOOLS_TCTI, then TEST_TCTI', () => {
    expect(
      tctiFromEnvironment({ TPM2TOOLS_TCTI: 'device:/dev/tpm0', TCTI: 'swtpm:port=9' }),
    ).toEqual({
      kind: 'swtpm',
      host: 'localhost',
      port: 9,
    });
    expect(tctiFromEnvironment({ TPM2TOOLS_TCTI: 'device:/dev/tpm0' })).toEqual({
      kind: 'device',
      path: '/dev/tpm0',
    });
    expect(tctiFromEnvironment({ TEST_TCTI: 'device' })).toEqual({
      kind: 'device',
      path: '/dev/tpmrm0',
    });
    expect(tctiFromEnvironment({ TCTI: '' })).toBeUndefined();
    expect(tctiFromEnvironment({})).toBeUndefined();
  });

  it('names the variable in errors', () => {
    expect(() => tctiFromEnvironment({ TCTI: 'mssim' })).toThrow(/^TCTI: invalid TCTI 'mssim'/);
  });
});
