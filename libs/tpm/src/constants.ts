/**
 * @module constants: TPM 2.0 constants (TCG TPM 2.0 Library Part 2, §6) as `as const` objects, plus the
 * tpm2-tools credential-blob header. Values are the spec's; names drop the `TPM_ALG_`-style prefix.
 */

/** TPM_ALG_ID (Part 2 §6.3). */
export const TpmAlg = {
  Error: 0x0000,
  Rsa: 0x0001,
  Tdes: 0x0003,
  Sha1: 0x0004,
  Hmac: 0x0005,
  Aes: 0x0006,
  Mgf1: 0x0007,
  KeyedHash: 0x0008,
  Xor: 0x000a,
  Sha256: 0x000b,
  Sha384: 0x000c,
  Sha512: 0x000d,
  Null: 0x0010,
  Sm3_256: 0x0012,
  Sm4: 0x0013,
  RsaSsa: 0x0014,
  RsaEs: 0x0015,
  RsaPss: 0x0016,
  Oaep: 0x0017,
  Ecdsa: 0x0018,
  Ecdh: 0x0019,
  Ecdaa: 0x001a,
  Sm2: 0x001b,
  EcSchnorr: 0x001c,
  EcMqv: 0x001d,
  Kdf1Sp800_56a: 0x0020,
  Kdf2: 0x0021,
  Kdf1Sp800_108: 0x0022,
  Ecc: 0x0023,
  SymCipher: 0x0025,
  Camellia: 0x0026,
  Ctr: 0x0040,
  Ofb: 0x0041,
  Cbc: 0x0042,
  Cfb: 0x0043,
  Ecb: 0x0044,
} as const;
export type TpmAlgId = number;

/** TPM_ST structure tags (Part 2 §6.9). */
export const TpmSt = {
  RspCommand: 0x00c4,
  Null: 0x8000,
  NoSessions: 0x8001,
  Sessions: 0x8002,
  AttestNv: 0x8014,
  AttestCommandAudit: 0x8015,
  AttestSessionAudit: 0x8016,
  AttestCertify: 0x8017,
  AttestQuote: 0x8018,
  AttestTime: 0x8019,
  AttestCreation: 0x801a,
  AttestNvDigest: 0x801c,
  Creation: 0x8021,
  Verified: 0x8022,
  AuthSecret: 0x8023,
  Hashcheck: 0x8024,
  AuthSigned: 0x8025,
  FuManifest: 0x8029,
} as const;

/** TPM_CC command codes (Part 2 §6.5.2), the ones an agent and its tests use. */
export const TpmCc = {
  EvictControl: 0x00000120,
  Clear: 0x00000126,
  HierarchyChangeAuth: 0x00000129,
  NvDefineSpace: 0x0000012a,
  PcrAllocate: 0x0000012b,
  CreatePrimary: 0x00000131,
  NvWrite: 0x00000137,
  PcrEvent: 0x0000013c,
  PcrReset: 0x0000013d,
  SelfTest: 0x00000143,
  Startup: 0x00000144,
  Shutdown: 0x00000145,
  ActivateCredential: 0x00000147,
  Certify: 0x00000148,
  NvRead: 0x0000014e,
  PolicySecret: 0x00000151,
  Create: 0x00000153,
  Load: 0x00000157,
  Quote: 0x00000158,
  RsaDecrypt: 0x00000159,
  Sign: 0x0000015d,
  Unseal: 0x0000015e,
  ContextLoad: 0x00000161,
  ContextSave: 0x00000162,
  FlushContext: 0x00000165,
  LoadExternal: 0x00000167,
  MakeCredential: 0x00000168,
  NvReadPublic: 0x00000169,
  PolicyOr: 0x00000171,
  ReadPublic: 0x00000173,
  StartAuthSession: 0x00000176,
  VerifySignature: 0x00000177,
  GetCapability: 0x0000017a,
  GetRandom: 0x0000017b,
  Hash: 0x0000017d,
  PcrRead: 0x0000017e,
  PolicyPcr: 0x0000017f,
  ReadClock: 0x00000181,
  PcrExtend: 0x00000182,
  PolicyGetDigest: 0x00000189,
  CreateLoaded: 0x00000191,
} as const;

/** TPM_ECC_CURVE (Part 2 §6.4). */
export const TpmEccCurve = {
  NistP192: 0x0001,
  NistP224: 0x0002,
  NistP256: 0x0003,
  NistP384: 0x0004,
  NistP521: 0x0005,
  BnP256: 0x0010,
  BnP638: 0x0011,
  Sm2P256: 0x0020,
} as const;

/** Permanent handles (Part 2 §7.4) and the password session handle TPM_RS_PW. */
export const TpmRh = {
  Owner: 0x40000001,
  Null: 0x40000007,
  Pw: 0x40000009,
  Lockout: 0x4000000a,
  Endorsement: 0x4000000b,
  Platform: 0x4000000c,
} as const;

/** TPM_GENERATED_VALUE: "\xffTCG", the magic that starts every TPMS_ATTEST (Part 2 §6.2). */
export const TPM_GENERATED_VALUE = 0xff544347;

/** tpm2-tools makecredential output header: magic and version (agent-registrar-tenant §3.4 step 10). */
export const CREDENTIAL_BLOB_MAGIC = 0xbadcc0de;
export const CREDENTIAL_BLOB_VERSION = 1;

/** Largest PCR bitmap we accept (TPM2_PCR_SELECT_MAX in tpm2-tss: 32 PCRs). */
export const PCR_SELECT_MAX = 4;
/** Number of selection slots in TPML_PCR_SELECTION (TPM2_NUM_PCR_BANKS in tpm2-tss). */
export const NUM_PCR_BANKS = 16;
/** Largest TPML_DIGEST count for PCR reads (Part 2 §10.9.2: at most 8 digests). */
export const MAX_PCR_DIGESTS = 8;
/** Size of the largest digest (TPMU_HA, SHA-512). */
export const MAX_DIGEST_SIZE = 64;
