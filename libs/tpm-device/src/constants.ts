/**
 * @module constants: the TPM 2.0 numbers the command layer needs (Part 2 §6): command codes,
 * tags, handles, algorithms, capabilities. Kept private to this lib; @keylime/tpm owns the full set.
 */

/** TPM_CC (Part 2 §6.5.2). */
// prettier-ignore
export const TpmCc = {
  EvictControl: 0x120, NvRead: 0x14e, CreatePrimary: 0x131, Startup: 0x144, Create: 0x153,
  Load: 0x157, Quote: 0x158, PolicySecret: 0x151, ActivateCredential: 0x147,
  ContextLoad: 0x161, ContextSave: 0x162, FlushContext: 0x165, NvReadPublic: 0x169,
  PolicyOr: 0x171, ReadPublic: 0x173, StartAuthSession: 0x176, GetCapability: 0x17a,
  GetRandom: 0x17b, PcrRead: 0x17e, PcrExtend: 0x182, PcrReset: 0x13d,
} as const;

/** Spec names of the commands, for error messages. */
// prettier-ignore
export const COMMAND_NAMES: Readonly<Record<number, string>> = {
  0x120: 'TPM2_EvictControl', 0x14e: 'TPM2_NV_Read', 0x131: 'TPM2_CreatePrimary',
  0x144: 'TPM2_Startup', 0x153: 'TPM2_Create', 0x157: 'TPM2_Load', 0x158: 'TPM2_Quote',
  0x151: 'TPM2_PolicySecret', 0x147: 'TPM2_ActivateCredential', 0x161: 'TPM2_ContextLoad',
  0x162: 'TPM2_ContextSave', 0x165: 'TPM2_FlushContext', 0x169: 'TPM2_NV_ReadPublic',
  0x171: 'TPM2_PolicyOR', 0x173: 'TPM2_ReadPublic', 0x176: 'TPM2_StartAuthSession',
  0x17a: 'TPM2_GetCapability', 0x17b: 'TPM2_GetRandom', 0x17e: 'TPM2_PCR_Read',
  0x182: 'TPM2_PCR_Extend', 0x13d: 'TPM2_PCR_Reset',
};

/** TPM_ST (Part 2 §6.9). */
export const TpmSt = { NoSessions: 0x8001, Sessions: 0x8002 } as const;

/** TPM_RH / TPM_RS permanent handles (Part 2 §7.4). */
export const TpmRh = {
  Owner: 0x40000001,
  Null: 0x40000007,
  Password: 0x40000009,
  Endorsement: 0x4000000b,
  Platform: 0x4000000c,
} as const;

/** Handle ranges by their top byte (Part 2 §7.2). */
export const HandleType = {
  Pcr: 0x00,
  NvIndex: 0x01,
  HmacSession: 0x02,
  PolicySession: 0x03,
  Permanent: 0x40,
  Transient: 0x80,
  Persistent: 0x81,
} as const;

/** TPM_ALG_ID values used here (Part 2 §6.3). */
// prettier-ignore
export const TpmAlg = {
  Rsa: 0x0001, Sha1: 0x0004, Aes: 0x0006, Sha256: 0x000b, Sha384: 0x000c, Sha512: 0x000d,
  Null: 0x0010, Sm3_256: 0x0012, RsaSsa: 0x0014, RsaPss: 0x0016, EcDsa: 0x0018, Ecc: 0x0023,
  Cfb: 0x0043,
} as const;

/** TPM_ECC_CURVE (Part 2 §6.4). */
export const TpmEccCurve = { NistP256: 0x0003, NistP384: 0x0004 } as const;

/** TPM_SU (Part 2 §6.5.1). */
export const TpmSu = { Clear: 0x0000, State: 0x0001 } as const;

/** TPM_SE session types (Part 2 §6.11). */
export const TpmSe = { Hmac: 0x00, Policy: 0x01, Trial: 0x03 } as const;

/** TPM_CAP (Part 2 §6.12). */
export const TpmCap = { Algs: 0, Handles: 1, Commands: 2, Pcrs: 5, TpmProperties: 6 } as const;

/** TPM_PT properties used here (Part 2 §6.13). */
export const TpmPt = {
  Manufacturer: 0x105,
  InputBuffer: 0x10d,
  NvBufferMax: 0x12c,
  MaxDigest: 0x120,
  PcrCount: 0x112,
} as const;

/** Digest sizes of the hash algorithms a TPM may have PCR banks for. */
export const DIGEST_SIZES: Readonly<Record<number, number>> = {
  [TpmAlg.Sha1]: 20,
  [TpmAlg.Sha256]: 32,
  [TpmAlg.Sha384]: 48,
  [TpmAlg.Sha512]: 64,
  [TpmAlg.Sm3_256]: 32,
};

/** Node crypto names of those hashes. */
export const NODE_HASH_NAMES: Readonly<Record<number, string>> = {
  [TpmAlg.Sha1]: 'sha1',
  [TpmAlg.Sha256]: 'sha256',
  [TpmAlg.Sha384]: 'sha384',
  [TpmAlg.Sha512]: 'sha512',
  [TpmAlg.Sm3_256]: 'sm3',
};
