/**
 * @module ek: the endorsement key. It is re-created from its template whenever an operation needs
 * it (same seed, same key), used through a PolicySecret(TPM_RH_ENDORSEMENT) session, then flushed.
 */
import { bytesEqual } from '@keylime/core';
import { decodeTpm2bPublic } from '@keylime/tpm';
import type { TpmtPublic } from '@keylime/tpm';
import { getTpmPropertyIn } from './capabilities';
import type { Authorization, TpmCommand } from './command';
import { passwordAuth, policyAuth } from './command';
import { nvRead, nvReadPublic, TpmaNv } from './commands/nv';
import { createPrimary, readPublic } from './commands/object';
import { policyOr, policySecret, startAuthSession } from './commands/session';
import { TpmPt, TpmRh, TpmSe } from './constants';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import { TpmRc, TpmResponseError } from './response-code';
import type { EkAlg } from './templates';
import { ekProfile, ekTemplate } from './templates';
import type { Tpm, TpmOperation } from './tpm';

/** An EK as the agent knows it between operations: no handle, just what identifies it. */
export interface EkKey {
  readonly alg: EkAlg;
  /** TPM2B_PUBLIC, size prefix included, as the TPM returned it (`ek_tpm` when base64-encoded). */
  readonly public: Uint8Array;
  /** The decoded public area. */
  readonly publicArea: TpmtPublic;
  /** TPM Name: nameAlg ‖ H(TPMT_PUBLIC). */
  readonly name: Uint8Array;
  /** Set when the EK is a persistent object (e.g. 0x81010001) rather than re-created per use. */
  readonly persistentHandle?: number;
}

export interface CreateEkOptions {
  /** Use this persistent EK instead of creating one from the template (it must be an EK of `alg`). */
  readonly persistentHandle?: number;
}

/** Builds an EkKey from a TPM2B_PUBLIC the TPM returned. */
function ekKey(
  alg: EkAlg,
  outPublic: Uint8Array,
  name: Uint8Array,
  persistentHandle?: number,
): EkKey {
  const publicArea = decodeTpm2bPublic(outPublic).value;
  const key = { alg, public: outPublic, publicArea, name };
  return persistentHandle === undefined ? key : { ...key, persistentHandle };
}

/** Creates (or reads) the EK of kind `alg` and returns its public part; nothing stays loaded. */
export function createEk(tpm: Tpm, alg: EkAlg, options: CreateEkOptions = {}): Promise<EkKey> {
  return tpm.run(async (op) => {
    if (options.persistentHandle !== undefined) {
      const { outPublic, name } = await op.execute(readPublic(options.persistentHandle));
      return ekKey(alg, outPublic, name, options.persistentHandle);
    }
    const { handle, outPublic, name } = await op.execute(
      createPrimary(TpmRh.Endorsement, ekTemplate(alg)),
    );
    op.track(handle);
    return ekKey(alg, outPublic, name);
  });
}

/**
 * Makes the EK available inside an operation and returns its handle: the persistent handle, or
 * a fresh primary (tracked, so flushed at the end) whose Name must match what we knew.
 */
export async function loadEkIn(op: TpmOperation, ek: EkKey): Promise<number> {
  if (ek.persistentHandle !== undefined) return ek.persistentHandle;
  const { handle, name } = await op.execute(createPrimary(TpmRh.Endorsement, ekTemplate(ek.alg)));
  op.track(handle);
  if (!bytesEqual(name, ek.name)) {
    throw new TpmDeviceError(
      TpmDeviceErrorCode.Unexpected,
      `the ${ek.alg} EK re-created from its template has another Name (endorsement seed changed?)`,
    );
  }
  return handle;
}

/**
 * Runs one command that needs the EK's authorization: starts a policy session, satisfies the EK
 * policy (PolicySecret(EH), plus PolicyOR for high-range EKs) and hands the session to `build`.
 * The session is used once: the TPM flushes it on success, the operation flushes it otherwise.
 */
export async function withEkAuth<R>(
  op: TpmOperation,
  ek: EkKey,
  build: (auth: Authorization) => TpmCommand<R>,
): Promise<R> {
  const profile = ekProfile(ek.alg);
  const { handle } = await op.execute(startAuthSession(TpmSe.Policy, profile.policyHash));
  op.track(handle);
  await op.execute(policySecret(TpmRh.Endorsement, handle));
  if (profile.policyOrBranches.length > 0)
    await op.execute(policyOr(handle, profile.policyOrBranches));
  const result = await op.execute(build(policyAuth(handle, false)));
  op.forget(handle);
  return result;
}

/** Largest NV_Read chunk when the TPM does not say (TPM_PT_NV_BUFFER_MAX). */
const DEFAULT_NV_CHUNK = 512;

/**
 * The EK certificate (DER) for `alg` from its NV index, or undefined when the TPM has none.
 * Read in chunks of TPM_PT_NV_BUFFER_MAX; trailing padding after the DER is dropped.
 */
export function readEkCertificate(tpm: Tpm, alg: EkAlg): Promise<Uint8Array | undefined> {
  return tpm.run(async (op) => {
    const index = ekProfile(alg).certificateIndex;
    let nvPublic;
    try {
      ({ nvPublic } = await op.execute(nvReadPublic(index)));
    } catch (e) {
      // An undefined index answers TPM_RC_HANDLE on handle 1.
      if (e instanceof TpmResponseError && e.base === TpmRc.Handle) return undefined;
      throw e;
    }
    if ((nvPublic.attributes & TpmaNv.Written) === 0) return undefined;
    const authHandle = (nvPublic.attributes & TpmaNv.AuthRead) !== 0 ? index : TpmRh.Owner;
    const chunk = Math.min(
      (await getTpmPropertyIn(op, TpmPt.NvBufferMax)) ?? DEFAULT_NV_CHUNK,
      1024,
    );
    const data = new Uint8Array(nvPublic.dataSize);
    for (let offset = 0; offset < data.length; offset += chunk) {
      const size = Math.min(chunk, data.length - offset);
      const part = await op.execute(nvRead(authHandle, passwordAuth(), index, size, offset));
      if (part.length !== size) {
        throw new TpmDeviceError(
          TpmDeviceErrorCode.BadResponse,
          `TPM2_NV_Read returned ${part.length} of ${size} bytes`,
        );
      }
      data.set(part, offset);
    }
    return trimDer(data, index);
  });
}

/** The DER SEQUENCE at the start of `data` (NV indices may be larger than the certificate). */
function trimDer(data: Uint8Array, index: number): Uint8Array {
  const bad = (): never => {
    throw new TpmDeviceError(
      TpmDeviceErrorCode.Unexpected,
      `NV index 0x${index.toString(16)} does not start with a DER certificate`,
    );
  };
  if (data.length < 2 || data[0] !== 0x30) return bad();
  const first = data[1] as number;
  let length: number;
  let header: number;
  if (first < 0x80) {
    length = first;
    header = 2;
  } else {
    const n = first & 0x7f;
    if (n < 1 || n > 3 || data.length < 2 + n) return bad();
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (data[2 + i] as number);
    header = 2 + n;
  }
  if (header + length > data.length) return bad();
  return data.slice(0, header + length);
}
