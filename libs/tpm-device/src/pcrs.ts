/**
 * @module pcrs: reading whole PCR selections (TPM2_PCR_Read returns at most 8 PCRs per call),
 * extending and resetting PCRs.
 */
import { pcrExtend, pcrRead, pcrReset } from './commands/pcr';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import type { PcrSelection, TaggedDigest } from './structures';
import type { Tpm, TpmOperation } from './tpm';

/** One PCR value. */
export interface PcrValue {
  readonly pcr: number;
  readonly digest: Uint8Array;
}

/** The values of one bank, ascending by PCR. */
export interface PcrBankValues {
  readonly hashAlg: number;
  readonly values: readonly PcrValue[];
}

export interface PcrReadResult {
  /** The TPM's pcrUpdateCounter; equal for every call that made up this result. */
  readonly pcrUpdateCounter: number;
  /** Banks in the order asked for. */
  readonly banks: readonly PcrBankValues[];
}

// A PCR changing while we read restarts the read; give up if it keeps changing.
const MAX_READ_ATTEMPTS = 5;

/** Normalises a selection: PCRs sorted and unique, empty banks dropped, banks kept in order. */
export function normalizeSelection(selection: PcrSelection): PcrSelection {
  const seen = new Set<number>();
  const out: { hashAlg: number; pcrs: number[] }[] = [];
  for (const bank of selection) {
    if (seen.has(bank.hashAlg)) {
      throw new TpmDeviceError(
        TpmDeviceErrorCode.BadArgument,
        `bank 0x${bank.hashAlg.toString(16)} selected twice`,
      );
    }
    seen.add(bank.hashAlg);
    const pcrs = [...new Set(bank.pcrs)].sort((a, b) => a - b);
    if (pcrs.length > 0) out.push({ hashAlg: bank.hashAlg, pcrs });
  }
  return out;
}

/** Reads every selected PCR within one operation, consistently (one pcrUpdateCounter). */
export async function readPcrsIn(
  op: TpmOperation,
  selection: PcrSelection,
): Promise<PcrReadResult> {
  const wanted = normalizeSelection(selection);
  for (let attempt = 0; attempt < MAX_READ_ATTEMPTS; attempt++) {
    const result = await readOnce(op, wanted);
    if (result !== undefined) return result;
  }
  throw new TpmDeviceError(TpmDeviceErrorCode.Unexpected, 'PCRs kept changing while being read');
}

/** One pass; undefined when pcrUpdateCounter moved between calls. */
async function readOnce(
  op: TpmOperation,
  wanted: PcrSelection,
): Promise<PcrReadResult | undefined> {
  const values = new Map<number, PcrValue[]>(wanted.map((b) => [b.hashAlg, []]));
  let remaining = wanted;
  let counter: number | undefined;
  while (remaining.length > 0) {
    const response = await op.execute(pcrRead(remaining));
    if (counter !== undefined && response.pcrUpdateCounter !== counter) return undefined;
    counter = response.pcrUpdateCounter;
    let index = 0;
    for (const bank of response.selection) {
      const target = values.get(bank.hashAlg);
      const asked = remaining.find((b) => b.hashAlg === bank.hashAlg);
      for (const pcr of bank.pcrs) {
        const digest = response.digests[index++];
        if (
          target === undefined ||
          asked === undefined ||
          !asked.pcrs.includes(pcr) ||
          digest === undefined
        ) {
          throw new TpmDeviceError(
            TpmDeviceErrorCode.BadResponse,
            'TPM2_PCR_Read returned PCRs that were not asked for',
          );
        }
        target.push({ pcr, digest });
      }
    }
    if (index !== response.digests.length) {
      throw new TpmDeviceError(
        TpmDeviceErrorCode.BadResponse,
        'TPM2_PCR_Read returned more digests than PCRs',
      );
    }
    if (index === 0) {
      const banks = remaining.map((b) => `0x${b.hashAlg.toString(16)}`).join(', ');
      throw new TpmDeviceError(
        TpmDeviceErrorCode.Unexpected,
        `PCR bank(s) ${banks} not available on this TPM`,
      );
    }
    remaining = remaining
      .map((b) => {
        const done = new Set((values.get(b.hashAlg) ?? []).map((v) => v.pcr));
        return { hashAlg: b.hashAlg, pcrs: b.pcrs.filter((p) => !done.has(p)) };
      })
      .filter((b) => b.pcrs.length > 0);
  }
  return {
    pcrUpdateCounter: counter ?? 0,
    banks: wanted.map((b) => ({
      hashAlg: b.hashAlg,
      values: [...(values.get(b.hashAlg) ?? [])].sort((x, y) => x.pcr - y.pcr),
    })),
  };
}

/** Reads every PCR in `selection`, any number of banks and PCRs. */
export function readPcrs(tpm: Tpm, selection: PcrSelection): Promise<PcrReadResult> {
  return tpm.run((op) => readPcrsIn(op, selection));
}

/** Extends `pcr` in each bank named by `digests` (one TPMT_HA per bank). */
export function extendPcr(tpm: Tpm, pcr: number, digests: readonly TaggedDigest[]): Promise<void> {
  return tpm.run((op) => op.execute(pcrExtend(pcr, digests)));
}

/** Resets a resettable PCR (16 or 23 at locality 0) to zeros in every bank. */
export function resetPcr(tpm: Tpm, pcr: number): Promise<void> {
  return tpm.run((op) => op.execute(pcrReset(pcr)));
}
