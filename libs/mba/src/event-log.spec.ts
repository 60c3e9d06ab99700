import fc from 'fast-check';
import { DecodeError, KeylimeError } from '@keylime/core';
import { EventType } from './constants';
import { MbaErrorCode } from './errors';
import { parseEventLog } from './event-log';
import { normaliseEventLog } from './normalise';
import { replayEventLog } from './replay';
import { LOGS, fixture, mbLog } from '../tests/fixtures';

describe('parseEventLog', () => {
  it('reads the Secure Boot log: SHA-256 only, 98 events after the header', () => {
    const log = parseEventLog(fixture(LOGS.secureboot));
    expect(log.header.specId.algorithms).toEqual([{ algId: 0x0b, name: 'sha256', digestSize: 32 }]);
    expect(log.events).toHaveLength(98);
    expect(log.events[0]).toMatchObject({ eventNum: 1, pcrIndex: 0, eventType: EventType.EV_S_CRTM_VERSION });
  });

  it('reads a SHA-1 + SHA-256 log with a digest per bank', () => {
    const log = parseEventLog(fixture(LOGS.noSecureboot));
    expect(log.header.specId.algorithms.map((a) => a.name)).toEqual(['sha1', 'sha256']);
    for (const ev of log.events) expect(ev.digests.map((d) => d.alg)).toEqual(['sha1', 'sha256']);
  });

  it('reads the rust-keylime and upstream issue #1153 logs', () => {
    expect(parseEventLog(fixture(LOGS.rustKeylime)).events.length).toBeGreaterThan(100);
    expect(parseEventLog(fixture(LOGS.pushModel)).byteLength).toBe(48946);
    expect(parseEventLog(mbLog()).events.length).toBeGreaterThan(50);
  });

  it('refuses an empty log', () => {
    expect(() => parseEventLog(fixture('binary_bios_measurements-empty'))).toThrow(
      expect.objectContaining({ code: MbaErrorCode.EmptyLog, offset: 0 }),
    );
  });

  it('refuses the bogus log with an offset', () => {
    const bogus = fixture('binary_bios_measurements-bogus');
    expect(() => parseEventLog(bogus)).toThrow(DecodeError);
  });

  it('refuses every prefix of a log (sampled) with a DecodeError, never a crash', () => {
    const bytes = fixture(LOGS.secureboot);
    const log = parseEventLog(bytes);
    const boundaries = new Set(log.events.map((e) => e.offset));
    for (let n = 1; n < bytes.length; n += n < 4096 ? 1 : 37) {
      if (boundaries.has(n)) {
        // Cutting between events leaves a valid shorter log.
        expect(parseEventLog(bytes.subarray(0, n)).events.length).toBeLessThan(log.events.length);
        continue;
      }
      let error: unknown;
      try {
        parseEventLog(bytes.subarray(0, n));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).code).toBe(MbaErrorCode.Truncated);
    }
  });

  it('reports where the header is wrong', () => {
    const bytes = fixture(LOGS.secureboot).slice();
    bytes[4] = 1; // eventType of the first event: not EV_NO_ACTION
    expect(() => parseEventLog(bytes)).toThrow(expect.objectContaining({ code: MbaErrorCode.NotCryptoAgile }));
  });

  it('refuses a digest of an undeclared algorithm and a PCR index above 23', () => {
    const log = parseEventLog(fixture(LOGS.secureboot));
    const first = log.events[0]!;
    const badAlg = fixture(LOGS.secureboot).slice();
    badAlg[first.offset + 12] = 0x04; // sha1, not in the Spec ID table
    expect(() => parseEventLog(badAlg)).toThrow(
      expect.objectContaining({ code: MbaErrorCode.UnknownAlgorithm, offset: first.offset + 14 }),
    );
    const badPcr = fixture(LOGS.secureboot).slice();
    badPcr[first.offset] = 24;
    expect(() => parseEventLog(badPcr)).toThrow(expect.objectContaining({ code: MbaErrorCode.InvalidEvent }));
  });

  it('bounds event sizes', () => {
    const bytes = fixture(LOGS.secureboot).slice();
    const first = parseEventLog(bytes).events[0]!;
    const sizeAt = first.dataOffset - 4;
    bytes.set([0xff, 0xff, 0xff, 0x7f], sizeAt);
    expect(() => parseEventLog(bytes)).toThrow(expect.objectContaining({ code: MbaErrorCode.TooLarge }));
  });

  it('never throws anything but a KeylimeError on mutated logs (parse, replay, normalise)', () => {
    const base = fixture(LOGS.secureboot);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bytes = base.slice();
        for (const [at, v] of edits) bytes[at] = v;
        try {
          const log = parseEventLog(bytes);
          normaliseEventLog(log, replayEventLog(log));
        } catch (e) {
          expect(e).toBeInstanceOf(KeylimeError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
