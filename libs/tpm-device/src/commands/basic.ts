/** @module commands/basic: TPM2_Startup, TPM2_GetRandom and TPM2_GetCapability (Part 3 §9, §16, §30). */
import type { Reader } from '@keylime/core';
import { TpmCap, TpmCc } from '../constants';
import type { TpmCommand } from '../command';
import { NO_RESPONSE, command } from '../command';
import type { PcrBankSelection } from '../structures';
import { readPcrSelection } from '../structures';

/** TPM2_Startup(startupType): TPM_SU_CLEAR after a reset, TPM_SU_STATE after a hibernate. */
export function startup(startupType: number): TpmCommand<void> {
  return command(TpmCc.Startup, [], [], (w) => w.u16(startupType), NO_RESPONSE);
}

/** TPM2_GetRandom: at most one digest's worth of bytes per call (the TPM may return fewer). */
export function getRandom(bytesRequested: number): TpmCommand<Uint8Array> {
  return command(TpmCc.GetRandom, [], [], (w) => w.u16(bytesRequested), {
    handles: 0,
    decode: (_h, r) => r.sized16(),
  });
}

/** The capability union as far as we read it; other capabilities come back raw. */
export type CapabilityData =
  | { readonly capability: typeof TpmCap.Handles; readonly handles: readonly number[] }
  | { readonly capability: typeof TpmCap.Pcrs; readonly banks: readonly PcrBankSelection[] }
  | {
      readonly capability: typeof TpmCap.TpmProperties;
      readonly properties: readonly { readonly property: number; readonly value: number }[];
    };

export interface GetCapabilityResponse {
  readonly moreData: boolean;
  readonly data: CapabilityData;
}

const MAX_CAP_ENTRIES = 1024;

/** TPM2_GetCapability for handles, PCR banks or fixed/variable properties. */
export function getCapability(
  capability: CapabilityData['capability'],
  property: number,
  propertyCount: number,
): TpmCommand<GetCapabilityResponse> {
  return command(
    TpmCc.GetCapability,
    [],
    [],
    (w) => w.u32(capability).u32(property).u32(propertyCount),
    {
      handles: 0,
      decode: (_h, r) => {
        const moreData = r.u8() !== 0;
        const cap = r.u32();
        if (cap !== capability) r.fail(`capability ${cap}, asked for ${capability}`);
        return { moreData, data: readCapability(capability, r) };
      },
    },
  );
}

function readCapability(capability: CapabilityData['capability'], r: Reader): CapabilityData {
  switch (capability) {
    case TpmCap.Handles: {
      const handles: number[] = [];
      const count = r.u32();
      if (count > MAX_CAP_ENTRIES) r.fail(`${count} handles`);
      for (let i = 0; i < count; i++) handles.push(r.u32());
      return { capability, handles };
    }
    case TpmCap.Pcrs:
      return { capability, banks: readPcrSelection(r) };
    case TpmCap.TpmProperties: {
      const properties: { property: number; value: number }[] = [];
      const count = r.u32();
      if (count > MAX_CAP_ENTRIES) r.fail(`${count} properties`);
      for (let i = 0; i < count; i++) properties.push({ property: r.u32(), value: r.u32() });
      return { capability, properties };
    }
  }
}
