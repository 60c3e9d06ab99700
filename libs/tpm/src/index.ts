/** @module @keylime/tpm: TPM 2.0 structures and codecs, object names, quote verification, MakeCredential. Pure, no I/O. */

// constants (Part 2 §6)
export {
  TpmAlg,
  TpmSt,
  TpmCc,
  TpmEccCurve,
  TpmRh,
  TPM_GENERATED_VALUE,
  CREDENTIAL_BLOB_MAGIC,
  CREDENTIAL_BLOB_VERSION,
  PCR_SELECT_MAX,
  NUM_PCR_BANKS,
  MAX_PCR_DIGESTS,
  MAX_DIGEST_SIZE,
} from './constants';
export type { TpmAlgId } from './constants';

// errors
export { TpmErrorCode } from './errors';
export type { TpmErrorCodeValue } from './errors';

// hash algorithm ids
export { hashAlgName, hashAlgId, tpmDigestSize, isTpmHashAlg, tpmHash } from './hash';

// sized buffers
export { readSized } from './tpm2b';
export type { Tpm2b } from './tpm2b';

// TPMA_OBJECT
export {
  TpmaObjectBits,
  AK_EXPECTED_ATTRIBUTES,
  EK_LOW_ATTRIBUTES,
  tpmaObjectFromWord,
  tpmaObjectToWord,
  readTpmaObject,
} from './attributes';
export type { TpmaObject, TpmaObjectFlag } from './attributes';

// TPMT_PUBLIC / TPM2B_PUBLIC and Names
export {
  readTpmtPublic,
  writeTpmtPublic,
  readTpm2bPublic,
  writeTpm2bPublic,
  decodeTpmtPublic,
  decodeTpm2bPublic,
  encodeTpmtPublic,
  encodeTpm2bPublic,
  readEccPoint,
  writeEccPoint,
  objectName,
} from './public';
export type {
  TpmtPublic,
  TpmtPublicRsa,
  TpmtPublicEcc,
  TpmsRsaParms,
  TpmsEccParms,
  TpmsEccPoint,
  TpmtSymDefObject,
  TpmtAsymScheme,
  TpmtKdfScheme,
} from './public';

// public keys ↔ Node KeyObject / PEM, EK certificate match
export {
  tpmPublicToKeyObject,
  tpmPublicToPem,
  tpmPublicFromKeyObject,
  publicKeysEqual,
  ekCertificateMatches,
  eccCurveInfo,
  EK_LOW_TEMPLATE,
} from './keys';
export type { PublicTemplate, EccCurveInfo } from './keys';

// PCR selections and digest lists (big-endian TPM marshalling)
export {
  selectedPcrs,
  pcrSelection,
  readTpmsPcrSelection,
  readTpmlPcrSelection,
  writeTpmlPcrSelection,
  readTpmlDigest,
  writeTpmlDigest,
  decodeTpmlPcrSelection,
  encodeTpmlPcrSelection,
  decodeTpmlDigest,
  encodeTpmlDigest,
} from './pcr-selection';
export type { TpmsPcrSelection, TpmlPcrSelection, TpmlDigest } from './pcr-selection';

// TPMS_ATTEST
export {
  readTpmsClockInfo,
  readTpmsAttest,
  writeTpmsAttest,
  decodeTpmsAttest,
  encodeTpmsAttest,
  readTpm2bAttest,
} from './attest';
export type {
  TpmsAttest,
  TpmsAttestQuote,
  TpmsAttestCertify,
  TpmsClockInfo,
  TpmsQuoteInfo,
  TpmsCertifyInfo,
} from './attest';

// TPMT_SIGNATURE
export {
  readTpmtSignature,
  writeTpmtSignature,
  decodeTpmtSignature,
  encodeTpmtSignature,
  ecdsaSignatureToP1363,
  ecdsaSignatureToDer,
} from './signature';
export type { TpmtSignature, TpmtSignatureRsa, TpmtSignatureEcdsa } from './signature';

// tpm2-tools PCR blob (little-endian) and the Keylime quote string
export {
  readPcrBlob,
  decodePcrBlob,
  encodePcrBlob,
  pcrBlobFromValues,
  pcrBlobValues,
  PCR_BLOB_DIGEST_LIST_SIZE,
  PCR_BLOB_SELECTION_SIZE,
} from './pcr-blob';
export type { PcrBlob, PcrBlobValue } from './pcr-blob';
export { parseQuoteString, formatQuoteString } from './quote-string';
export type { QuoteParts } from './quote-string';

// PCR replay
export {
  TPM_DATA_PCR,
  DataPcrBinding,
  pcrInitialValue,
  pcrExtend,
  pcrReplay,
  dataPcrValue,
} from './pcr';

// attestation verdicts (upstream event ids, incl. the `qoute_validation` spelling)
export { QuoteEventId, DataPcrEventId } from './failure';
export type { FailureEvent, Verdict } from './failure';

// quote verification (verifier §3)
export {
  prepareQuoteKey,
  verifyQuote,
  checkClockInfo,
  checkDataPcr,
  INITIAL_CLOCK_INFO,
} from './quote';
export type { QuoteVerificationKey, QuoteExpectations, VerifiedQuote, QuoteSignAlg } from './quote';

// MakeCredential and the credential blob (agent-registrar-tenant §3.4)
export {
  makeCredential,
  makeCredentialBlob,
  randomCredential,
  readCredentialBlob,
  decodeCredentialBlob,
  encodeCredentialBlob,
  decodeIdObject,
} from './credential';
export type { CredentialBlob, TpmsIdObject, MakeCredentialOptions } from './credential';
