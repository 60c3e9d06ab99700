/**
 * @module commands/object: creating, loading, reading, saving and flushing objects
 * (Part 3 §12 TPM2_Create/Load/ReadPublic, §24 TPM2_CreatePrimary, §28 context management).
 */
import type { Reader, Writer } from '@keylime/core';
import { TpmCc, TpmRh } from '../constants';
import type { Authorization, TpmCommand } from '../command';
import { NO_RESPONSE, command, passwordAuth } from '../command';
import type { TpmsContext } from '../structures';
import { readContext, writeContext } from '../structures';

/** Reads a TPM2B and returns it whole, size prefix included, as a copy (blobs outlive responses). */
export function readTpm2bRaw(r: Reader): Uint8Array {
  const start = r.offset;
  r.sized16();
  return r.bytes.slice(start, r.offset);
}

/** An empty TPM2B_SENSITIVE_CREATE: no auth value, no data (the TPM generates the key). */
function writeEmptySensitive(w: Writer): void {
  w.u16(4).u16(0).u16(0);
}

/** Skips creationData, creationHash and creationTicket, which Keylime does not use. */
function skipCreationInfo(r: Reader): void {
  r.field('creationData', () => r.sized16());
  r.field('creationHash', () => r.sized16());
  r.field('creationTicket', () => {
    r.u16();
    r.u32();
    r.sized16();
  });
}

export interface CreatePrimaryResponse {
  readonly handle: number;
  /** TPM2B_PUBLIC exactly as the TPM returned it, size prefix included. */
  readonly outPublic: Uint8Array;
  /** TPM2B_NAME contents: nameAlg ‖ H(TPMT_PUBLIC). */
  readonly name: Uint8Array;
}

/** TPM2_CreatePrimary under `hierarchy` (empty-password auth) from a TPMT_PUBLIC template. */
export function createPrimary(
  hierarchy: number,
  template: Uint8Array,
): TpmCommand<CreatePrimaryResponse> {
  return command(
    TpmCc.CreatePrimary,
    [hierarchy],
    [passwordAuth()],
    (w) => {
      writeEmptySensitive(w);
      w.sized16(template).u16(0).u32(0); // outsideInfo empty, creationPCR empty
    },
    {
      handles: 1,
      decode: ([handle], r) => {
        const outPublic = readTpm2bRaw(r);
        skipCreationInfo(r);
        return { handle: handle as number, outPublic, name: r.sized16().slice() };
      },
    },
  );
}

export interface CreateResponse {
  /** TPM2B_PRIVATE (size prefix included): the key wrapped by its parent. */
  readonly outPrivate: Uint8Array;
  /** TPM2B_PUBLIC (size prefix included). */
  readonly outPublic: Uint8Array;
}

/** TPM2_Create of an ordinary object under a loaded parent. */
export function create(
  parent: number,
  parentAuth: Authorization,
  template: Uint8Array,
): TpmCommand<CreateResponse> {
  return command(
    TpmCc.Create,
    [parent],
    [parentAuth],
    (w) => {
      writeEmptySensitive(w);
      w.sized16(template).u16(0).u32(0);
    },
    {
      handles: 0,
      decode: (_h, r) => {
        const outPrivate = readTpm2bRaw(r);
        const outPublic = readTpm2bRaw(r);
        skipCreationInfo(r);
        return { outPrivate, outPublic };
      },
    },
  );
}

export interface LoadResponse {
  readonly handle: number;
  readonly name: Uint8Array;
}

/** TPM2_Load of a TPM2B_PRIVATE/TPM2B_PUBLIC pair (both with size prefix) under `parent`. */
export function load(
  parent: number,
  parentAuth: Authorization,
  inPrivate: Uint8Array,
  inPublic: Uint8Array,
): TpmCommand<LoadResponse> {
  return command(TpmCc.Load, [parent], [parentAuth], (w) => w.bytes(inPrivate).bytes(inPublic), {
    handles: 1,
    decode: ([handle], r) => ({ handle: handle as number, name: r.sized16().slice() }),
  });
}

export interface ReadPublicResponse {
  readonly outPublic: Uint8Array;
  readonly name: Uint8Array;
  readonly qualifiedName: Uint8Array;
}

/** TPM2_ReadPublic: needs no authorization. */
export function readPublic(handle: number): TpmCommand<ReadPublicResponse> {
  return command(TpmCc.ReadPublic, [handle], [], () => undefined, {
    handles: 0,
    decode: (_h, r) => ({
      outPublic: readTpm2bRaw(r),
      name: r.sized16().slice(),
      qualifiedName: r.sized16().slice(),
    }),
  });
}

/** TPM2_FlushContext: the handle travels as a parameter, not in the handle area. */
export function flushContext(handle: number): TpmCommand<void> {
  return command(TpmCc.FlushContext, [], [], (w) => w.u32(handle), NO_RESPONSE);
}

/** TPM2_ContextSave: the object stays loaded; the saved context reloads until the next TPM reset. */
export function contextSave(handle: number): TpmCommand<TpmsContext> {
  return command(TpmCc.ContextSave, [handle], [], () => undefined, {
    handles: 0,
    decode: (_h, r) => readContext(r),
  });
}

/** TPM2_ContextLoad: returns the new transient handle. */
export function contextLoad(context: TpmsContext): TpmCommand<number> {
  return command(TpmCc.ContextLoad, [], [], (w) => writeContext(w, context), {
    handles: 1,
    decode: ([handle]) => handle as number,
  });
}

/**
 * TPM2_EvictControl under owner auth (empty password): with a transient `object` it makes a
 * persistent copy at `persistentHandle`; with a persistent `object` it removes it.
 */
export function evictControl(object: number, persistentHandle: number): TpmCommand<void> {
  return command(
    TpmCc.EvictControl,
    [TpmRh.Owner, object],
    [passwordAuth()],
    (w) => w.u32(persistentHandle),
    NO_RESPONSE,
  );
}
