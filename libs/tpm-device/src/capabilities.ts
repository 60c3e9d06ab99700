/** @module capabilities: TPM2_Startup, GetRandom and GetCapability as the agent and tests use them. */
import { getCapability, getRandom, startup } from './commands/basic';
import { TpmCap, TpmSu } from './constants';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import { TpmRc, TpmResponseError } from './response-code';
import type { PcrBankSelection } from './structures';
import type { Tpm, TpmOperation } from './tpm';

/**
 * Sends TPM2_Startup(CLEAR). Returns false when the TPM was already started (TPM_RC_INITIALIZE),
 * which is the normal case on a booted machine and for swtpm started with `startup-clear`.
 */
export function startupTpm(tpm: Tpm): Promise<boolean> {
  return tpm.run(async (op) => {
    try {
      await op.execute(startup(TpmSu.Clear));
      return true;
    } catch (e) {
      if (e instanceof TpmResponseError && e.base === TpmRc.Initialize) return false;
      throw e;
    }
  });
}

/** `count` random bytes from the TPM's RNG (several calls if needed). */
export function getRandomBytes(tpm: Tpm, count: number): Promise<Uint8Array> {
  return tpm.run(async (op) => {
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = await op.execute(getRandom(Math.min(32, count - filled)));
      if (chunk.length === 0)
        throw new TpmDeviceError(
          TpmDeviceErrorCode.BadResponse,
          'TPM2_GetRandom returned no bytes',
        );
      out.set(chunk.subarray(0, count - filled), filled);
      filled += chunk.length;
    }
    return out;
  });
}

/** Handles the TPM currently has in the range starting at `first` (e.g. 0x80000000 transient). */
export async function listHandlesIn(op: TpmOperation, first: number): Promise<number[]> {
  const handles: number[] = [];
  let next = first;
  for (;;) {
    // The TPM answers with handles of the type `next` names only (loaded sessions: 0x02 and 0x03).
    const { moreData, data } = await op.execute(getCapability(TpmCap.Handles, next, 256));
    if (data.capability !== TpmCap.Handles) break;
    handles.push(...data.handles);
    const last = data.handles[data.handles.length - 1];
    if (!moreData || last === undefined) break;
    next = last + 1;
  }
  return handles;
}

/** Handles currently present in the range starting at `first`. */
export function listHandles(tpm: Tpm, first: number): Promise<number[]> {
  return tpm.run((op) => listHandlesIn(op, first));
}

/**
 * What is loaded that should not be between operations: transient objects (0x80…), loaded
 * sessions (asked for as 0x02…, HMAC and policy alike) and saved sessions (0x03…).
 */
export function listLoadedHandles(tpm: Tpm): Promise<number[]> {
  return tpm.run(async (op) => [
    ...(await listHandlesIn(op, 0x80000000)),
    ...(await listHandlesIn(op, 0x02000000)),
    ...(await listHandlesIn(op, 0x03000000)),
  ]);
}

/** The PCR banks the TPM has allocated, with the PCRs present in each. */
export function getPcrBanks(tpm: Tpm): Promise<PcrBankSelection[]> {
  return tpm.run(async (op) => {
    const { data } = await op.execute(getCapability(TpmCap.Pcrs, 0, 1));
    return data.capability === TpmCap.Pcrs ? data.banks.filter((b) => b.pcrs.length > 0) : [];
  });
}

/** One TPM_PT property value, or undefined when the TPM does not report it. */
export async function getTpmPropertyIn(
  op: TpmOperation,
  property: number,
): Promise<number | undefined> {
  const { data } = await op.execute(getCapability(TpmCap.TpmProperties, property, 1));
  if (data.capability !== TpmCap.TpmProperties) return undefined;
  return data.properties.find((p) => p.property === property)?.value;
}

/** One TPM_PT property value (fixed or variable), or undefined. */
export function getTpmProperty(tpm: Tpm, property: number): Promise<number | undefined> {
  return tpm.run((op) => getTpmPropertyIn(op, property));
}
