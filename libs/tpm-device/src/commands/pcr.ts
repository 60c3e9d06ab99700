/** @module commands/pcr: TPM2_PCR_Read, TPM2_PCR_Extend and TPM2_PCR_Reset (Part 3 §22). */
import { TpmCc } from '../constants';
import type { TpmCommand } from '../command';
import { NO_RESPONSE, command, passwordAuth } from '../command';
import type { PcrBankSelection, PcrSelection, TaggedDigest } from '../structures';
import {
  readDigestList,
  readPcrSelection,
  writeDigestValues,
  writePcrSelection,
} from '../structures';

export interface PcrReadResponse {
  readonly pcrUpdateCounter: number;
  /** What the TPM actually read: at most 8 PCRs per call, possibly fewer than asked. */
  readonly selection: readonly PcrBankSelection[];
  /** The values, in selection order (bank by bank, ascending PCR). */
  readonly digests: readonly Uint8Array[];
}

/** One TPM2_PCR_Read call; use readPcrs (pcr-read.ts) to read a whole selection. */
export function pcrRead(selection: PcrSelection): TpmCommand<PcrReadResponse> {
  return command(TpmCc.PcrRead, [], [], (w) => writePcrSelection(w, selection), {
    handles: 0,
    decode: (_h, r) => ({
      pcrUpdateCounter: r.u32(),
      selection: readPcrSelection(r),
      digests: readDigestList(r),
    }),
  });
}

/** TPM2_PCR_Extend of one PCR in one or more banks; PCR handles are the PCR numbers. */
export function pcrExtend(pcr: number, digests: readonly TaggedDigest[]): TpmCommand<void> {
  return command(
    TpmCc.PcrExtend,
    [pcr],
    [passwordAuth()],
    (w) => writeDigestValues(w, digests),
    NO_RESPONSE,
  );
}

/** TPM2_PCR_Reset: only the resettable PCRs at the current locality (16 and 23 at locality 0). */
export function pcrReset(pcr: number): TpmCommand<void> {
  return command(TpmCc.PcrReset, [pcr], [passwordAuth()], () => undefined, NO_RESPONSE);
}
