/**
 * @module templates: EK templates from the TCG EK Credential Profile (so the EK we create is the
 * key in the EK certificate) and the AK templates Keylime expects (restricted signing, 0x00050072).
 */
import { fromHex } from '@keylime/core';
import {
  AK_EXPECTED_ATTRIBUTES,
  TpmAlg,
  TpmEccCurve,
  encodeTpmtPublic,
  tpmaObjectFromWord,
} from '@keylime/tpm';
import type { TpmAlgId, TpmaObject, TpmtPublic } from '@keylime/tpm';

/** EK kinds: the two low-range templates and the high-range P-384 one swtpm certifies. */
export type EkAlg = 'rsa2048' | 'ecc256' | 'ecc384';
export const EK_ALGS: readonly EkAlg[] = ['rsa2048', 'ecc256', 'ecc384'];

/** AK kinds: RSA-2048 signing with RSASSA, or NIST P-256 signing with ECDSA. */
export type AkAlg = 'rsa2048' | 'ecc256';
export const AK_ALGS: readonly AkAlg[] = ['rsa2048', 'ecc256'];

/** PolicySecret(TPM_RH_ENDORSEMENT) digests ("PolicyA", EK profile §B.6.2). */
const POLICY_A_SHA256 = fromHex('837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa');
const POLICY_A_SHA384 = fromHex(
  '8bbf2266537c171cb56e403c4dc1d4b64f432611dc386e6f532050c3278c930e143e8bb1133824ccb431053871c6db53',
);
/** PolicyAuthorizeNV branch ("PolicyC", EK profile §B.6.4), SHA-384. */
const POLICY_C_SHA384 = fromHex(
  'd6032ce61f2fb3c240eb3cf6a33237ef2b6a16f4293c22b455e261cffd217ad5b4947c2d73e63005eed2dc2b3593d165',
);
/** PolicyOR(PolicyA, PolicyC) ("PolicyB"), the authPolicy of the high-range SHA-384 templates. */
const POLICY_B_SHA384 = fromHex(
  'b26e7d28d11a50bc53d882bcf5fd3a1a074148bb35d3b4e4cb1c0ad9bde419cacb47ba09699646150f9fc000f3f80e12',
);

/** fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt (low range). */
const EK_LOW_ATTRIBUTES = 0x000300b2;
/** The same plus userWithAuth (high range, EK profile §B.4.x). */
const EK_HIGH_ATTRIBUTES = 0x000300f2;

/** What an EK kind needs besides its template: where its certificate lives and how to satisfy its policy. */
export interface EkProfile {
  readonly alg: EkAlg;
  readonly template: TpmtPublic;
  /** NV index of the EK certificate (EK profile §2.2.1.4). */
  readonly certificateIndex: number;
  /** Hash of the policy session that authorizes the EK (its nameAlg). */
  readonly policyHash: TpmAlgId;
  /** PolicyOR branches to apply after PolicySecret; empty for the low-range templates. */
  readonly policyOrBranches: readonly Uint8Array[];
}

function attributes(word: number): TpmaObject {
  return tpmaObjectFromWord(word) as TpmaObject;
}

const EK_PROFILES: Readonly<Record<EkAlg, EkProfile>> = {
  // Template L-1: RSA 2048 (EK profile §B.3.3); unique is 256 zero bytes.
  rsa2048: {
    alg: 'rsa2048',
    certificateIndex: 0x01c00002,
    policyHash: TpmAlg.Sha256,
    policyOrBranches: [],
    template: {
      type: TpmAlg.Rsa,
      nameAlg: TpmAlg.Sha256,
      objectAttributes: attributes(EK_LOW_ATTRIBUTES),
      authPolicy: POLICY_A_SHA256,
      parameters: {
        symmetric: { algorithm: TpmAlg.Aes, keyBits: 128, mode: TpmAlg.Cfb },
        scheme: { scheme: TpmAlg.Null },
        keyBits: 2048,
        exponent: 0,
      },
      unique: new Uint8Array(256),
    },
  },
  // Template L-2: ECC NIST P256 (EK profile §B.3.4); unique is two 32-byte zero coordinates.
  ecc256: {
    alg: 'ecc256',
    certificateIndex: 0x01c0000a,
    policyHash: TpmAlg.Sha256,
    policyOrBranches: [],
    template: {
      type: TpmAlg.Ecc,
      nameAlg: TpmAlg.Sha256,
      objectAttributes: attributes(EK_LOW_ATTRIBUTES),
      authPolicy: POLICY_A_SHA256,
      parameters: {
        symmetric: { algorithm: TpmAlg.Aes, keyBits: 128, mode: TpmAlg.Cfb },
        scheme: { scheme: TpmAlg.Null },
        curveId: TpmEccCurve.NistP256,
        kdf: { scheme: TpmAlg.Null },
      },
      unique: { x: new Uint8Array(32), y: new Uint8Array(32) },
    },
  },
  // Template H-3: ECC NIST P384 (EK profile §B.4.5); what swtpm_setup creates and certifies.
  ecc384: {
    alg: 'ecc384',
    certificateIndex: 0x01c00016,
    policyHash: TpmAlg.Sha384,
    policyOrBranches: [POLICY_A_SHA384, POLICY_C_SHA384],
    template: {
      type: TpmAlg.Ecc,
      nameAlg: TpmAlg.Sha384,
      objectAttributes: attributes(EK_HIGH_ATTRIBUTES),
      authPolicy: POLICY_B_SHA384,
      parameters: {
        symmetric: { algorithm: TpmAlg.Aes, keyBits: 256, mode: TpmAlg.Cfb },
        scheme: { scheme: TpmAlg.Null },
        curveId: TpmEccCurve.NistP384,
        kdf: { scheme: TpmAlg.Null },
      },
      unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
    },
  },
};

/** The profile of an EK kind. */
export function ekProfile(alg: EkAlg): EkProfile {
  return EK_PROFILES[alg];
}

/** The marshalled TPMT_PUBLIC template of an EK kind. */
export function ekTemplate(alg: EkAlg): Uint8Array {
  return encodeTpmtPublic(EK_PROFILES[alg].template);
}

/**
 * An AK template: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign, empty
 * auth and policy, signing with `hashAlg` (what Keylime's registrar expects, spec §3.3).
 */
export function akTemplate(alg: AkAlg, hashAlg: TpmAlgId = TpmAlg.Sha256): TpmtPublic {
  const common = {
    nameAlg: TpmAlg.Sha256,
    objectAttributes: attributes(AK_EXPECTED_ATTRIBUTES),
    authPolicy: new Uint8Array(0),
  };
  if (alg === 'rsa2048') {
    return {
      ...common,
      type: TpmAlg.Rsa,
      parameters: {
        symmetric: { algorithm: TpmAlg.Null },
        scheme: { scheme: TpmAlg.RsaSsa, hashAlg },
        keyBits: 2048,
        exponent: 0,
      },
      unique: new Uint8Array(0),
    };
  }
  return {
    ...common,
    type: TpmAlg.Ecc,
    parameters: {
      symmetric: { algorithm: TpmAlg.Null },
      scheme: { scheme: TpmAlg.Ecdsa, hashAlg },
      curveId: TpmEccCurve.NistP256,
      kdf: { scheme: TpmAlg.Null },
    },
    unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
  };
}
