/**
 * @module replay: recomputes PCRs 0–23 per bank from a parsed log (spec §5.2 step 3, PFP §10.4.5):
 * EV_NO_ACTION never extends; StartupLocality sets PCR 0's initial last byte; H-CRTM sets it to 4.
 */
import { createHash } from 'node:crypto';
import { bytesEqual } from '@keylime/core';
import { DIGEST_SIZE, EventType, PCR_COUNT, bankName } from './constants';
import type { BankName } from './constants';
import type { EventLog, PcrEvent } from './event-log';

/** Banks Node can hash; sm3_256 logs parse but are not replayed. */
const REPLAYABLE: readonly BankName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

export interface BankReplay {
  readonly bank: BankName;
  /** PCR values 0..23 (untouched PCRs keep their reset value). */
  readonly pcrs: readonly Uint8Array[];
  /** PCRs that at least one event named (tpm2_eventlog prints only these). */
  readonly used: readonly number[];
  /** True when some extending event had no digest for this bank: its values cannot be trusted. */
  readonly incomplete: boolean;
}

export interface ReplayResult {
  readonly banks: ReadonlyMap<BankName, BankReplay>;
  /** Locality from a StartupLocality event, if the log has one. */
  readonly startupLocality: number | undefined;
}

const STARTUP_LOCALITY = new TextEncoder().encode('StartupLocality\0');

/** The locality of a StartupLocality EV_NO_ACTION event on PCR 0 (PFP §10.4.5.3), else undefined. */
export function startupLocalityOf(ev: PcrEvent): number | undefined {
  if (ev.eventType !== EventType.EV_NO_ACTION || ev.pcrIndex !== 0) return undefined;
  if (ev.data.length !== STARTUP_LOCALITY.length + 1) return undefined;
  if (!bytesEqual(ev.data.subarray(0, STARTUP_LOCALITY.length), STARTUP_LOCALITY)) return undefined;
  return ev.data[STARTUP_LOCALITY.length];
}

/** Replays every bank the Spec ID event declares that Node can hash. */
export function replayEventLog(log: EventLog): ReplayResult {
  const state = new Map<BankName, { pcrs: Uint8Array[]; used: Set<number>; extended: Set<number>; incomplete: boolean }>();
  for (const alg of log.header.specId.algorithms) {
    const bank = bankName(alg.algId);
    if (bank === undefined || !REPLAYABLE.includes(bank)) continue;
    const pcrs = Array.from({ length: PCR_COUNT }, (_, i) => initialValue(i, DIGEST_SIZE[bank]));
    state.set(bank, { pcrs, used: new Set(), extended: new Set(), incomplete: false });
  }
  let startupLocality: number | undefined;
  let hcrtm = false;
  for (const ev of log.events) {
    const locality = hcrtm ? undefined : startupLocalityOf(ev);
    if (locality !== undefined) startupLocality ??= locality;
    if (ev.eventType === EventType.EV_EFI_HCRTM_EVENT && ev.pcrIndex === 0) hcrtm = true;
    for (const [bank, s] of state) {
      const d = ev.digests.find((x) => bankName(x.algId) === bank);
      // As tpm2_eventlog: a PCR counts as used in a bank when an event carries that bank's digest.
      if (d !== undefined) s.used.add(ev.pcrIndex);
      const pcr = s.pcrs[ev.pcrIndex] as Uint8Array;
      // PCR 0's reset value depends on the startup locality (TPM 2.0 Part 1 §34.3); only before the first extend.
      if (!s.extended.has(0) && ev.pcrIndex === 0) {
        if (ev.eventType === EventType.EV_EFI_HCRTM_EVENT) pcr[pcr.length - 1] = 4;
        else if (locality !== undefined && locality > 0) pcr[pcr.length - 1] = locality;
      }
      if (ev.eventType === EventType.EV_NO_ACTION) continue;
      if (d === undefined) {
        s.incomplete = true;
        continue;
      }
      s.pcrs[ev.pcrIndex] = extend(bank, pcr, d.digest);
      s.extended.add(ev.pcrIndex);
    }
  }
  const banks = new Map<BankName, BankReplay>();
  for (const [bank, s] of state) {
    banks.set(bank, { bank, pcrs: s.pcrs, used: [...s.used].sort((a, b) => a - b), incomplete: s.incomplete });
  }
  return { banks, startupLocality };
}

/** PCR reset values for a PC Client TPM: 0 for 0–16 and 23, all ones for 17–22 (PC Client PTP). */
function initialValue(pcr: number, size: number): Uint8Array {
  return new Uint8Array(size).fill(pcr >= 17 && pcr <= 22 ? 0xff : 0);
}

/** PCR extend: new = H(old || digest). */
export function extend(bank: BankName, pcr: Uint8Array, digest: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(bank).update(pcr).update(digest).digest());
}

/** Hash of `data` in a bank Node supports (used by digest checks in the policy). */
export function hashBytes(bank: BankName, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(bank).update(data).digest());
}

export { REPLAYABLE as REPLAYABLE_BANKS };
