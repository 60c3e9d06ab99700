import { decodeResponseCode, TpmResponseError, TpmRc } from './response-code';

describe('decodeResponseCode', () => {
  it('decodes format-1 codes with the session they refer to', () => {
    // TPM_RC_POLICY_FAIL on session 1 (what a wrong EK policy session gives).
    const d = decodeResponseCode(0x99d);
    expect(d).toMatchObject({
      name: 'TPM_RC_POLICY_FAIL',
      format: 1,
      kind: 'error',
      base: TpmRc.PolicyFail,
      session: 1,
    });
    expect(d.handle).toBeUndefined();
  });

  it('decodes format-1 codes with a handle or parameter number', () => {
    expect(decodeResponseCode(0x18b)).toMatchObject({ name: 'TPM_RC_HANDLE', handle: 1 });
    expect(decodeResponseCode(0x28b)).toMatchObject({ name: 'TPM_RC_HANDLE', handle: 2 });
    expect(decodeResponseCode(0x1c4)).toMatchObject({ name: 'TPM_RC_VALUE', parameter: 1 });
    expect(decodeResponseCode(0x2d5)).toMatchObject({ name: 'TPM_RC_SIZE', parameter: 2 });
    expect(decodeResponseCode(0x084)).toMatchObject({ name: 'TPM_RC_VALUE', base: TpmRc.Value });
  });

  it('decodes format-0 errors and warnings', () => {
    expect(decodeResponseCode(0x100)).toMatchObject({
      name: 'TPM_RC_INITIALIZE',
      format: 0,
      kind: 'error',
    });
    expect(decodeResponseCode(0x14a)).toMatchObject({ name: 'TPM_RC_NV_UNINITIALIZED' });
    expect(decodeResponseCode(0x902)).toMatchObject({
      name: 'TPM_RC_OBJECT_MEMORY',
      kind: 'warning',
    });
    expect(decodeResponseCode(0x922)).toMatchObject({ name: 'TPM_RC_RETRY', kind: 'warning' });
  });

  it('labels vendor, TPM 1.2 and unknown codes instead of guessing', () => {
    expect(decodeResponseCode(0x500).kind).toBe('vendor');
    expect(decodeResponseCode(0x01e).kind).toBe('tpm12');
    expect(decodeResponseCode(0x17f).name).toBe('TPM_RC_UNKNOWN(0x17f)');
  });

  it('makes readable errors', () => {
    const e = new TpmResponseError('TPM2_Create', 0x99d);
    expect(e.message).toBe(
      'TPM2_Create failed: TPM_RC_POLICY_FAIL (0x99d) on session 1: a policy check failed (the session does not satisfy the authPolicy)',
    );
    expect(e.code).toBe('KL_TPMDEV_TPM_ERROR');
    expect(e.rcName).toBe('TPM_RC_POLICY_FAIL');
    expect(e.session).toBe(1);
  });
});
