import { toHex } from '@keylime/core';
import { parseEventLog } from './event-log';
import { replayEventLog } from './replay';
import { pcr0StartupLocalityAsExtend } from './workarounds';
import { LOGS, fixture } from '../tests/fixtures';

/** spec/verifier.md §5.2, VERIFIED against tpm2_eventlog 5.4 (the log behind §11.7). */
const SECUREBOOT_SHA256: Record<number, string> = {
  0: '0d993cf4baec1dc2a47013c8bcc13e1593d5e6ba9cc4630f422e98d310212aff',
  1: '77092bbdc52a5beab54967053d9ccc8d254f882ccb9c3dd1ae81f0378b3a7db2',
  2: '7551ef5fcd14f30f8087b631c90869ec55f71bd4e791bd370855ea1d48d2100a',
  3: '3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969',
  4: 'ce5e8ef15f4c1db94e24b2f458dc21c96dd3a530ecf4ee4c9d70bd9a3517088e',
  5: '4316832e478197a3729fcaed54ec97989dcd67bc00ca2ac58230a414ff2b5277',
  6: '3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969',
  7: '2f96e1f1bf7f91b6f17e1bcb823e717e43782ff75481237711f2ed7bf8a8edb1',
  8: '79019cc5ebc05767cff5469087b629f58c52f0a3380a33a89414f56939197e19',
  9: 'acd038dd8ec2f7e42a7c5c68e07ae6713962d8835412b1f5632c7e63da36ffc2',
  14: '66c465262f16d108fd77f2f94c4ae0040f81b3168242a827fcf5efcd812de053',
};

describe('replayEventLog', () => {
  it('reproduces the verified PCR values of the Secure Boot log (spec §5.2, §11.7)', () => {
    const bank = replayEventLog(parseEventLog(fixture(LOGS.secureboot))).banks.get('sha256')!;
    expect(bank.used).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14]);
    expect(bank.incomplete).toBe(false);
    for (const [pcr, value] of Object.entries(SECUREBOOT_SHA256)) expect(toHex(bank.pcrs[Number(pcr)]!)).toBe(value);
    expect(toHex(bank.pcrs[10]!)).toBe('00'.repeat(32));
    expect(toHex(bank.pcrs[17]!)).toBe('ff'.repeat(32));
  });

  it('starts PCR 0 at the StartupLocality (spec §5.2), with the tpm2-tools 5.4 value as a workaround', () => {
    const log = parseEventLog(fixture(LOGS.noSecureboot));
    const r = replayEventLog(log);
    expect(r.startupLocality).toBe(3);
    expect(toHex(r.banks.get('sha1')!.pcrs[0]!)).toBe('78f3e576d5da8873860e557535d181f4a37e2963');
    expect(toHex(r.banks.get('sha256')!.pcrs[0]!)).toBe('0ee9a7feba8f4172f1a7451594aa5731665a4d353ac61814042ce107a00742f2');
    expect(toHex(pcr0StartupLocalityAsExtend(log, 'sha1')!)).toBe('ab3e9fd3b9b9911a2496db14911214f7fd0a115c');
    expect(toHex(pcr0StartupLocalityAsExtend(log, 'sha256')!)).toBe('1877eacbf0290c67521de489ae1ca5d04de12150e522f472f3fb3daeb35e8e43');
    // Other PCRs agree with tpm2_eventlog 5.4.
    expect(toHex(r.banks.get('sha256')!.pcrs[7]!)).toBe('741fd028c51b4d2fbdcc7f28014cc758d17ccc1fe2ea7ca17b0e8009480a557c');
  });

  it('has no workaround value for a log without StartupLocality', () => {
    expect(pcr0StartupLocalityAsExtend(parseEventLog(fixture(LOGS.secureboot)), 'sha256')).toBeUndefined();
  });
});
