/**
 * @module hash: TPM hash algorithm ids ↔ the names Node and upstream Keylime use, digest sizes.
 * Only SHA-1/256/384/512 are supported, as upstream's HASH_FUNCS (tpm2_objects.py).
 */
import { createHash } from 'node:crypto';
import type { HashAlg } from '@keylime/crypto';
import { TpmAlg } from './constants';
import { TpmErrorCode, tpmError } from './errors';
import type { TpmAlgId } from './constants';

const NAME_BY_ID: ReadonlyMap<number, HashAlg> = new Map<number, HashAlg>([
  [TpmAlg.Sha1, 'sha1'],
  [TpmAlg.Sha256, 'sha256'],
  [TpmAlg.Sha384, 'sha384'],
  [TpmAlg.Sha512, 'sha512'],
]);

const ID_BY_NAME: Readonly<Record<HashAlg, TpmAlgId>> = {
  sha1: TpmAlg.Sha1,
  sha256: TpmAlg.Sha256,
  sha384: TpmAlg.Sha384,
  sha512: TpmAlg.Sha512,
};

const SIZE_BY_ID: ReadonlyMap<number, number> = new Map([
  [TpmAlg.Sha1, 20],
  [TpmAlg.Sha256, 32],
  [TpmAlg.Sha384, 48],
  [TpmAlg.Sha512, 64],
]);

/** The hash name (`sha256`) of a TPM_ALG_ID, or undefined when it is not a supported hash. */
export function hashAlgName(alg: TpmAlgId): HashAlg | undefined {
  return NAME_BY_ID.get(alg);
}

/** The TPM_ALG_ID of a hash name. */
export function hashAlgId(name: HashAlg): TpmAlgId {
  return ID_BY_NAME[name];
}

/** Digest size in bytes of a supported TPM hash algorithm, or undefined. */
export function tpmDigestSize(alg: TpmAlgId): number | undefined {
  return SIZE_BY_ID.get(alg);
}

/** True when `alg` is a hash we support. */
export function isTpmHashAlg(alg: TpmAlgId): boolean {
  return NAME_BY_ID.has(alg);
}

/** H(parts…) with a TPM hash algorithm id; the caller has checked the id is supported. */
export function tpmHash(alg: TpmAlgId, ...parts: readonly Uint8Array[]): Uint8Array {
  const name = NAME_BY_ID.get(alg);
  if (name === undefined) {
    throw tpmError(
      TpmErrorCode.Unsupported,
      `hash algorithm 0x${alg.toString(16)} is not supported`,
    );
  }
  const h = createHash(name);
  for (const p of parts) h.update(p);
  return h.digest();
}
