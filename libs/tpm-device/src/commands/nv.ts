/** @module commands/nv: reading NV indices, e.g. EK certificates (Part 3 §31.6 NV_ReadPublic, §31.13 NV_Read). */
import { TpmCc } from '../constants';
import type { Authorization, TpmCommand } from '../command';
import { command } from '../command';

/** TPMS_NV_PUBLIC (Part 2 §13.5). */
export interface NvPublic {
  readonly nvIndex: number;
  readonly nameAlg: number;
  /** TPMA_NV bits. */
  readonly attributes: number;
  readonly authPolicy: Uint8Array;
  readonly dataSize: number;
}

/** TPMA_NV bits that decide how an index may be read (Part 2 §13.4). */
export const TpmaNv = {
  PpRead: 0x00010000,
  OwnerRead: 0x00020000,
  AuthRead: 0x00040000,
  PolicyRead: 0x00080000,
  Written: 0x20000000,
} as const;

export interface NvReadPublicResponse {
  readonly nvPublic: NvPublic;
  readonly name: Uint8Array;
}

/** TPM2_NV_ReadPublic: needs no authorization. */
export function nvReadPublic(nvIndex: number): TpmCommand<NvReadPublicResponse> {
  return command(TpmCc.NvReadPublic, [nvIndex], [], () => undefined, {
    handles: 0,
    decode: (_h, r) => {
      const nvPublic = r.field('TPM2B_NV_PUBLIC', () => {
        const body = r.sub(r.u16());
        const value = {
          nvIndex: body.u32(),
          nameAlg: body.u16(),
          attributes: body.u32(),
          authPolicy: body.sized16().slice(),
          dataSize: body.u16(),
        };
        body.end();
        return value;
      });
      return { nvPublic, name: r.sized16().slice() };
    },
  });
}

/** TPM2_NV_Read of `size` bytes at `offset`; `authHandle` is the index itself or a hierarchy. */
export function nvRead(
  authHandle: number,
  auth: Authorization,
  nvIndex: number,
  size: number,
  offset: number,
): TpmCommand<Uint8Array> {
  return command(TpmCc.NvRead, [authHandle, nvIndex], [auth], (w) => w.u16(size).u16(offset), {
    handles: 0,
    decode: (_h, r) => r.sized16().slice(),
  });
}
