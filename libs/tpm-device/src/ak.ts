/**
 * @module ak: the attestation key, a restricted signing key under the EK. The agent keeps its
 * TPM2B_PUBLIC and TPM2B_PRIVATE (wrapped by the EK, useless off this TPM) and loads it under a
 * re-created EK for each operation. That survives agent restarts and TPM resets, and leaves
 * nothing loaded and no persistent handle used.
 */
import { bytesEqual, fromBase64, toBase64, toHex } from '@keylime/core';
import { TpmAlg, decodeTpm2bPublic, encodeTpmtPublic, hashAlgName } from '@keylime/tpm';
import type { TpmAlgId, TpmtPublic } from '@keylime/tpm';
import { contextLoad, contextSave, create, load } from './commands/object';
import type { EkKey } from './ek';
import { loadEkIn, withEkAuth } from './ek';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import { TpmResponseError } from './response-code';
import type { AkAlg } from './templates';
import { AK_ALGS, akTemplate } from './templates';
import type { Tpm, TpmOperation } from './tpm';

/** An AK as stored by the agent: enough to load it again under the same EK. */
export interface AkKey {
  readonly alg: AkAlg;
  /** Signing scheme hash (SHA-256 unless asked otherwise). */
  readonly hashAlg: TpmAlgId;
  /** TPM2B_PUBLIC, size prefix included (`aik_tpm` when base64-encoded). */
  readonly public: Uint8Array;
  readonly publicArea: TpmtPublic;
  /** TPM2B_PRIVATE, size prefix included: the key sealed to its parent EK. */
  readonly private: Uint8Array;
  readonly name: Uint8Array;
}

export interface CreateAkOptions {
  /** The parent EK (from createEk). */
  readonly ek: EkKey;
  /** 'rsa2048' (RSASSA, the default) or 'ecc256' (ECDSA P-256). */
  readonly alg?: AkAlg;
  /** Signing scheme hash; default SHA-256. */
  readonly hashAlg?: TpmAlgId;
}

/** Creates an AK under the EK; nothing stays loaded. */
export function createAk(tpm: Tpm, options: CreateAkOptions): Promise<AkKey> {
  const { ek } = options;
  const alg = options.alg ?? 'rsa2048';
  const hashAlg = options.hashAlg ?? TpmAlg.Sha256;
  const template = encodeTpmtPublic(akTemplate(alg, hashAlg));
  return tpm.run(async (op) => {
    const ekHandle = await loadEkIn(op, ek);
    const created = await withEkAuth(op, ek, (auth) => create(ekHandle, auth, template));
    // Load once to learn the Name from the TPM itself (and prove the blob loads).
    const { handle, name } = await withEkAuth(op, ek, (auth) =>
      load(ekHandle, auth, created.outPrivate, created.outPublic),
    );
    op.track(handle);
    return {
      alg,
      hashAlg,
      public: created.outPublic,
      publicArea: decodeTpm2bPublic(created.outPublic).value,
      private: created.outPrivate,
      name,
    };
  });
}

/** An AK and the EK it was created under. */
export interface AkRef {
  readonly ek: EkKey;
  readonly ak: AkKey;
}

/** Loads the AK under an EK already loaded at `ekHandle`; returns the AK's (tracked) handle. */
export async function loadAkUnder(
  op: TpmOperation,
  ekHandle: number,
  { ek, ak }: AkRef,
): Promise<number> {
  const { handle, name } = await withEkAuth(op, ek, (auth) =>
    load(ekHandle, auth, ak.private, ak.public),
  );
  op.track(handle);
  if (!bytesEqual(name, ak.name)) {
    throw new TpmDeviceError(
      TpmDeviceErrorCode.Unexpected,
      'the loaded AK has another Name than the stored one',
    );
  }
  return handle;
}

/**
 * Loads the AK inside an operation and returns its (tracked) handle: from the context saved the
 * last time when it still loads, else under a re-created EK (then the EK is flushed at once and
 * the AK's context saved for next time).
 */
export async function loadAkIn(
  op: TpmOperation,
  ref: AkRef,
  useSavedContext = true,
): Promise<number> {
  const key = `ak:${toHex(ref.ek.name)}:${toHex(ref.ak.name)}`;
  const saved = useSavedContext ? op.tpm.savedContext(key) : undefined;
  if (saved !== undefined) {
    try {
      return op.track(await op.execute(contextLoad(saved)));
    } catch (e) {
      // After a TPM reset (or on another TPM) a saved context is refused: take the long way.
      if (!(e instanceof TpmResponseError)) throw e;
      op.tpm.rememberContext(key, undefined);
    }
  }
  const ekHandle = await loadEkIn(op, ref.ek);
  const handle = await loadAkUnder(op, ekHandle, ref);
  // Free the EK's object slot early; a loaded AK no longer needs its parent.
  if (ref.ek.persistentHandle === undefined) await op.flush(ekHandle);
  op.tpm.rememberContext(key, await op.execute(contextSave(handle)));
  return handle;
}

/**
 * Checks that a stored AK still loads under `ek` on this TPM (e.g. at agent start) and returns
 * its Name; throws a TpmResponseError (typically TPM_RC_INTEGRITY) when it was made elsewhere.
 */
export function loadAk(tpm: Tpm, ref: AkRef): Promise<Uint8Array> {
  return tpm.run(async (op) => {
    await loadAkIn(op, ref, false);
    return ref.ak.name;
  });
}

/** The on-disk form of an AK: JSON with base64 blobs. */
export interface StoredAk {
  readonly version: 1;
  readonly alg: AkAlg;
  readonly hashAlg: string;
  readonly public: string;
  readonly private: string;
  readonly name: string;
}

/** Serialises an AK for the agent's state directory. */
export function serializeAk(ak: AkKey): string {
  const stored: StoredAk = {
    version: 1,
    alg: ak.alg,
    hashAlg: hashAlgName(ak.hashAlg) ?? String(ak.hashAlg),
    public: toBase64(ak.public),
    private: toBase64(ak.private),
    name: toBase64(ak.name),
  };
  return JSON.stringify(stored);
}

/** Parses what serializeAk wrote; strict about every field. */
export function parseAk(text: string): AkKey {
  const bad = (why: string): never => {
    throw new TpmDeviceError(TpmDeviceErrorCode.Unexpected, `stored AK is invalid: ${why}`);
  };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  if (typeof value !== 'object' || value === null) return bad('not an object');
  const v = value as Record<string, unknown>;
  if (v['version'] !== 1) bad('unknown version');
  const alg = v['alg'];
  if (typeof alg !== 'string' || !(AK_ALGS as readonly string[]).includes(alg))
    return bad('bad alg');
  const field = (key: string): Uint8Array => {
    const s = v[key];
    if (typeof s !== 'string') return bad(`missing ${key}`);
    return fromBase64(s, `AK ${key}`);
  };
  const pub = field('public');
  const publicArea = decodeTpm2bPublic(pub).value;
  const scheme = publicArea.parameters.scheme;
  if (scheme.hashAlg === undefined) return bad('AK has no signing scheme');
  if (hashAlgName(scheme.hashAlg) !== v['hashAlg']) bad('hashAlg does not match the public area');
  return {
    alg: alg as AkAlg,
    hashAlg: scheme.hashAlg,
    public: pub,
    publicArea,
    private: field('private'),
    name: field('name'),
  };
}
