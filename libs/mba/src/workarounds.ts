/**
 * @module workarounds: every firmware and tool quirk this lib tolerates, in one place (style B5).
 * Replay quirks are applied only after the strict replay failed to match a quote.
 */
import { EventType } from './constants';
import type { BankName } from './constants';
import type { EventLog } from './event-log';
import { extend, startupLocalityOf } from './replay';

export interface Workaround {
  readonly id: string;
  /** The PCR the quirk affects, when it is a replay quirk. */
  readonly pcr?: number;
  readonly description: string;
  readonly reference: string;
}

export const Workarounds = {
  /**
   * tpm2-tools < 5.5 replays a StartupLocality EV_NO_ACTION event as an ordinary extend of its
   * zero digest from a zero PCR 0 (spec §5.2 UNCERTAIN). Upstream verifiers built on those tools
   * compare against that value, and the agents' firmware logs are the same, so we accept it too.
   */
  startupLocalityAsExtend: {
    id: 'startup-locality-as-extend',
    pcr: 0,
    description: 'PCR 0 replayed from zero with the StartupLocality event extended as an ordinary event',
    reference: 'spec/verifier.md §5.2; tpm2-software/tpm2-tools lib/tpm2_eventlog.c (StartupLocality handling)',
  },
  /**
   * Some firmware records EV_EFI_VARIABLE_* events whose EventSize exceeds the UEFI_VARIABLE_DATA
   * it describes; tpm2_eventlog reads the declared fields and ignores the rest, and so do we
   * (the digest still covers every byte).
   */
  variableDataTrailingBytes: {
    id: 'variable-data-trailing-bytes',
    description: 'bytes after VariableData inside an EV_EFI_VARIABLE_* event are ignored',
    reference: 'tpm2-software/tpm2-tools lib/tpm2_eventlog_yaml.c yaml_uefi_var ("EventSize is inconsistent")',
  },
  /**
   * An EV_EFI_BOOT_SERVICES_* event whose LengthOfDevicePath exceeds the bytes present is rendered
   * from the bytes present (efivar would read past the buffer).
   */
  devicePathLengthOverrun: {
    id: 'device-path-length-overrun',
    description: 'LengthOfDevicePath larger than the event is clamped to the event',
    reference: 'TCG PC Client PFP §10.2.3 UEFI_IMAGE_LOAD_EVENT',
  },
} as const satisfies Record<string, Workaround>;

/**
 * PCR 0 as tpm2-tools < 5.5 computes it for a log with a StartupLocality event, or undefined
 * when the log has none (then the workaround cannot apply).
 */
export function pcr0StartupLocalityAsExtend(log: EventLog, bank: BankName): Uint8Array | undefined {
  let pcr: Uint8Array | undefined;
  let sawLocality = false;
  for (const ev of log.events) {
    if (ev.pcrIndex !== 0) continue;
    const locality = startupLocalityOf(ev);
    if (locality !== undefined) sawLocality = true;
    if (ev.eventType === EventType.EV_NO_ACTION && locality === undefined) continue;
    const d = ev.digests.find((x) => x.alg === bank);
    if (d === undefined) return undefined;
    pcr = extend(bank, pcr ?? new Uint8Array(d.digest.length), d.digest);
  }
  return sawLocality ? pcr : undefined;
}
