import { fromHex } from '@keylime/core';
import { parseEventLog } from './event-log';
import { MbEventId } from './failure';
import { replayEventLog } from './replay';
import { verifyEventLog, verifyEventLogBytes } from './verify';
import { Workarounds } from './workarounds';
import { LOGS, fixture } from '../tests/fixtures';

function quotedFromReplay(name: string, bank: 'sha1' | 'sha256', pcrs: number[]): Map<number, Uint8Array> {
  const r = replayEventLog(parseEventLog(fixture(name))).banks.get(bank)!;
  return new Map(pcrs.map((p) => [p, r.pcrs[p]!]));
}

describe('verifyEventLog', () => {
  const MB_PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14];

  it('accepts a log whose replay matches the quote', () => {
    const res = verifyEventLogBytes(fixture(LOGS.secureboot), { bank: 'sha256', pcrs: quotedFromReplay(LOGS.secureboot, 'sha256', MB_PCRS) });
    expect(res.ok).toBe(true);
    if (res.ok) {
      expect(res.value.workarounds).toEqual([]);
      expect(res.value.json.pcrs['sha256']!['14']).toBe('66c465262f16d108fd77f2f94c4ae0040f81b3168242a827fcf5efcd812de053');
      expect(res.value.json.boot_aggregates['sha256']).toHaveLength(2);
    }
  });

  it('refuses a changed PCR with measured_boot.invalid_pcr_<n>', () => {
    const pcrs = quotedFromReplay(LOGS.secureboot, 'sha256', MB_PCRS);
    pcrs.set(4, new Uint8Array(32));
    const res = verifyEventLogBytes(fixture(LOGS.secureboot), { bank: 'sha256', pcrs });
    expect(res).toMatchObject({ ok: false, failures: [{ id: 'measured_boot.invalid_pcr_4', context: { expected: '00'.repeat(32) } }] });
  });

  it('accepts the tpm2-tools 5.4 PCR 0 of a StartupLocality log only through the named workaround', () => {
    const log = parseEventLog(fixture(LOGS.noSecureboot));
    const pcrs = quotedFromReplay(LOGS.noSecureboot, 'sha1', MB_PCRS);
    pcrs.set(0, fromHex('ab3e9fd3b9b9911a2496db14911214f7fd0a115c'));
    const res = verifyEventLog(log, { bank: 'sha1', pcrs });
    expect(res.ok && res.value.workarounds).toEqual([Workarounds.startupLocalityAsExtend.id]);
  });

  it('refuses a bank the log does not carry', () => {
    const res = verifyEventLogBytes(fixture(LOGS.secureboot), { bank: 'sha1', pcrs: new Map() });
    expect(res).toMatchObject({ ok: false, failures: [{ id: MbEventId.invalidPcrsHashes }] });
  });

  it('turns a malformed log into a parser failure, not an exception', () => {
    for (const name of ['binary_bios_measurements-empty', 'binary_bios_measurements-bogus']) {
      const res = verifyEventLogBytes(fixture(name), { bank: 'sha256', pcrs: new Map() });
      expect(res).toMatchObject({ ok: false, failures: [{ id: MbEventId.parserError }] });
    }
    const truncated = fixture(LOGS.secureboot).subarray(0, 1000);
    const res = verifyEventLogBytes(truncated, { bank: 'sha256', pcrs: new Map() });
    expect(res).toMatchObject({ ok: false, failures: [{ id: MbEventId.parserError, context: { code: 'KL_MBA_TRUNCATED' } }] });
  });
});
