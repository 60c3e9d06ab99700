import { UserError } from './errors';
import {
  MEASUREDBOOT_PCRS,
  enforcePcrs,
  maskHex,
  readTpmPolicy,
  tpmPolicyJson,
  withMaskBits,
} from './tpm-policy';

describe('tpm_policy', () => {
  it('lower-cases values, wraps strings in lists and computes the mask', () => {
    const p = readTpmPolicy('{"15": "ABCD", "0": ["Aa", "bb"]}');
    expect(maskHex(p.mask)).toBe('0x8001');
    expect(tpmPolicyJson(p)).toBe('{"0": ["aa", "bb"], "15": ["abcd"], "mask": "0x8001"}');
    expect(tpmPolicyJson(readTpmPolicy('{}'))).toBe('{"mask": "0x0"}');
  });

  it('refuses PCR 10, 16, >24, non-numbers and bad JSON with upstream wording', () => {
    expect(() => readTpmPolicy('{"16": "00"}')).toThrow(
      'Invalid allowlist PCR number 16, keylime uses this PCR to bind data.',
    );
    expect(() => readTpmPolicy('{"10": "00"}')).toThrow(
      'Invalid allowlist PCR number 10, this PCR is used for IMA.',
    );
    expect(() => readTpmPolicy('{"25": "00"}')).toThrow('Invalid tpm policy pcr number: 25');
    expect(() => readTpmPolicy('{"mask": "0x1"}')).toThrow('Invalid tpm policy pcr number: mask');
    expect(() => readTpmPolicy('{"1": 5}')).toThrow(UserError);
    expect(() => readTpmPolicy('not json')).toThrow(UserError);
  });

  it('adds IMA and measured-boot PCRs and enforces exclusivity', () => {
    const p = withMaskBits(readTpmPolicy('{"23": "00"}'), [10]);
    expect(maskHex(p.mask)).toBe('0x800400');
    expect(maskHex(withMaskBits(readTpmPolicy('{}'), MEASUREDBOOT_PCRS).mask)).toBe('0xfbff');
    expect(() =>
      enforcePcrs(readTpmPolicy('{"4": "00"}'), MEASUREDBOOT_PCRS, 'measured boot'),
    ).toThrow(
      'WARNING: PCR 4 is specified in "tpm_policy", but will in fact be used by measured boot. Please remove it from policy',
    );
  });
});
