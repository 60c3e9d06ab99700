/**
 * @module verify: the only door from an untrusted log to data a policy may judge (style B5): parse,
 * replay, compare with the quoted PCRs, and only then hand out a VerifiedEventLog (spec §3.6 step 4, §5.4).
 */
import { DecodeError, bytesEqual, toHex } from '@keylime/core';
import type { BankName } from './constants';
import { parseEventLog } from './event-log';
import type { EventLog } from './event-log';
import { MbEventId, failureEvent } from './failure';
import type { MbFailureEvent, MbResult } from './failure';
import { normaliseEventLog } from './normalise';
import type { MbLogJson } from './normalise';
import { replayEventLog } from './replay';
import type { ReplayResult } from './replay';
import { Workarounds, pcr0StartupLocalityAsExtend } from './workarounds';

declare const verified: unique symbol;

/** A log whose replay matched the quote for every checked PCR. Only verifyEventLog makes one. */
export interface VerifiedEventLog {
  readonly [verified]: true;
  readonly bank: BankName;
  readonly log: EventLog;
  readonly replay: ReplayResult;
  /** The normalised JSON (spec §5.3) a policy evaluates. */
  readonly json: MbLogJson;
  /** PCRs compared with the quote. */
  readonly checkedPcrs: readonly number[];
  /** Ids of workarounds needed to match the quote (empty for a strict match). */
  readonly workarounds: readonly string[];
}

export interface QuotedPcrs {
  /** The quote's hash algorithm. */
  readonly bank: BankName;
  /** Quoted values of the PCRs to check (the caller picks the measured-boot PCRs it quoted). */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
}

/** Parses and verifies raw log bytes; a malformed log is a `measured_boot.parser.*` failure, not a throw. */
export function verifyEventLogBytes(bytes: Uint8Array, quoted: QuotedPcrs): MbResult<VerifiedEventLog> {
  let log: EventLog;
  try {
    log = parseEventLog(bytes);
  } catch (e) {
    return parserFailure(e);
  }
  return verifyEventLog(log, quoted);
}

/** Replays `log` and compares it with the quoted PCRs. */
export function verifyEventLog(log: EventLog, quoted: QuotedPcrs): MbResult<VerifiedEventLog> {
  const replay = replayEventLog(log);
  let json: MbLogJson;
  try {
    json = normaliseEventLog(log, replay);
  } catch (e) {
    return parserFailure(e);
  }
  const bank = replay.banks.get(quoted.bank);
  if (bank === undefined || bank.used.length === 0 || bank.incomplete) {
    const why = bank === undefined ? 'the log has no such bank' : bank.incomplete ? 'some events lack this bank' : 'no event uses it';
    return { ok: false, failures: [failureEvent(MbEventId.invalidPcrsHashes, { got: null, bank: quoted.bank, message: why })] };
  }
  const failures: MbFailureEvent[] = [];
  const workarounds: string[] = [];
  const checked = [...quoted.pcrs.keys()].sort((a, b) => a - b);
  for (const pcr of checked) {
    const expected = quoted.pcrs.get(pcr) as Uint8Array;
    const got = bank.pcrs[pcr];
    if (got !== undefined && bytesEqual(got, expected)) continue;
    if (pcr === 0) {
      const alt = pcr0StartupLocalityAsExtend(log, quoted.bank);
      if (alt !== undefined && bytesEqual(alt, expected)) {
        workarounds.push(Workarounds.startupLocalityAsExtend.id);
        continue;
      }
    }
    failures.push(
      failureEvent(MbEventId.invalidPcr(pcr), {
        context: 'SHA256 boot event log PCR value does not match'.replace('SHA256', quoted.bank.toUpperCase()),
        got: got === undefined ? null : toHex(got),
        expected: toHex(expected),
      }),
    );
  }
  if (failures.length > 0) return { ok: false, failures };
  const value = { bank: quoted.bank, log, replay, json, checkedPcrs: checked, workarounds } as unknown as VerifiedEventLog;
  return { ok: true, value };
}

function parserFailure(e: unknown): { ok: false; failures: MbFailureEvent[] } {
  if (!(e instanceof DecodeError)) throw e;
  return {
    ok: false,
    failures: [
      failureEvent(MbEventId.parserError, {
        context: 'event log could not be parsed',
        code: e.code,
        offset: e.offset,
        data: e.message,
      }),
    ],
  };
}
