/**
 * @module tpm-keys: decodes and checks the EK and AK public areas an agent registers, refusing
 * keys that cannot be what they claim (stricter than upstream for the AK, spec §3.3).
 */
import { fromBase64 } from '@keylime/core';
import { TpmAlg, decodeTpm2bPublic } from '@keylime/tpm';
import type { Tpm2b, TpmtPublic, TpmaObjectFlag } from '@keylime/tpm';

/** A decoded TPM2B_PUBLIC with its wire bytes. */
export interface TpmKey {
  /** The TPM2B_PUBLIC bytes as received (size prefix included). */
  readonly wire: Uint8Array;
  readonly public: Tpm2b<TpmtPublic>;
}

/** Decodes base64 TPM2B_PUBLIC; throws with the field name and the decoder's offset. */
export function decodeTpmKey(text: string, field: string): TpmKey {
  const wire = fromBase64(text, field);
  try {
    return { wire, public: decodeTpm2bPublic(wire) };
  } catch (e) {
    throw new Error(`${field} is not a valid TPM2B_PUBLIC: ${(e as Error).message}`);
  }
}

/** The attributes an AK must have: a restricted signing key that never left this TPM. */
export const AK_REQUIRED_ATTRIBUTES: readonly TpmaObjectFlag[] = [
  'fixedTpm',
  'fixedParent',
  'sensitiveDataOrigin',
  'restricted',
  'sign',
];

const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  fixedTpm: 'fixedTPM',
  fixedParent: 'fixedParent',
  sensitiveDataOrigin: 'sensitiveDataOrigin',
  restricted: 'restricted',
  sign: 'sign',
  decrypt: 'decrypt',
};

/** Why `ak` is not acceptable as an attestation key, or undefined when it is. */
export function akProblem(ak: TpmKey): string | undefined {
  const attrs = ak.public.value.objectAttributes;
  const missing = AK_REQUIRED_ATTRIBUTES.filter((f) => !attrs[f]).map((f) => ATTRIBUTE_NAMES[f]);
  if (missing.length > 0) {
    return `aik_tpm must be a restricted signing key generated in the TPM (fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign); missing: ${missing.join(', ')}`;
  }
  if (attrs.decrypt) return 'aik_tpm must not be a decryption key';
  return undefined;
}

/** Why `ek` cannot receive a MakeCredential challenge, or undefined. */
export function ekProblem(ek: TpmKey): string | undefined {
  const v = ek.public.value;
  const attrs = v.objectAttributes;
  if (!attrs.restricted || !attrs.decrypt || attrs.sign) {
    return 'ek_tpm must be a restricted decryption key';
  }
  const sym = v.parameters.symmetric;
  if (sym.algorithm !== TpmAlg.Aes || sym.mode !== TpmAlg.Cfb) {
    return 'ek_tpm must use AES-CFB as its symmetric algorithm';
  }
  return undefined;
}
