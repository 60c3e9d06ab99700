/** @module @keylime/tpm-device: TPM transports (swtpm TCP, /dev/tpmrm0) and the TPM 2.0 commands the agent uses. */

// errors
export { TpmDeviceError, TpmDeviceErrorCode } from './errors';
export type { TpmDeviceErrorCodeValue } from './errors';
export { TpmResponseError, TpmRc, decodeResponseCode } from './response-code';
export type { DecodedResponseCode } from './response-code';

// choosing and reaching a TPM
export {
  parseTcti,
  formatTcti,
  tctiFromEnvironment,
  TCTI_ENV_VARIABLES,
  DEFAULT_DEVICE_PATH,
  DEFAULT_SWTPM_HOST,
  DEFAULT_SWTPM_PORT,
} from './tcti';
export type { TctiConfig, SwtpmTcti, DeviceTcti } from './tcti';
export type { TpmTransport, TransportOptions } from './transport/transport';
export { openTransport } from './transport/open-transport';
export { SwtpmTransport } from './transport/swtpm-transport';
export { DeviceTransport } from './transport/device-transport';

// operations: exclusive use of the TPM, everything loaded is flushed at the end
export { Tpm, TpmOperation } from './tpm';

// capabilities, randomness, PCRs
export {
  startupTpm,
  getRandomBytes,
  listHandles,
  listLoadedHandles,
  getPcrBanks,
  getTpmProperty,
} from './capabilities';
export { readPcrs, extendPcr, resetPcr } from './pcrs';
export type { PcrReadResult, PcrBankValues, PcrValue } from './pcrs';
export type { PcrSelection, PcrBankSelection, TaggedDigest, TpmsContext } from './structures';

// keys: EK (re-created from its TCG template per operation), AK (stored blobs, loaded per operation)
export { createEk, readEkCertificate } from './ek';
export type { EkKey, CreateEkOptions } from './ek';
export { createAk, loadAk, serializeAk, parseAk } from './ak';
export type { AkKey, AkRef, CreateAkOptions, StoredAk } from './ak';
export { EK_ALGS, AK_ALGS, ekProfile, ekTemplate, akTemplate } from './templates';
export type { EkAlg, AkAlg, EkProfile } from './templates';

// attestation: quotes and the registrar's credential challenge
export { quote } from './quote';
export type { QuoteOptions, QuoteResult } from './quote';
export { activateCredential } from './credential';
export type { ActivateCredentialOptions } from './credential';

// the command layer, for composing operations not covered by the helpers
export { execute, marshalCommand, unmarshalResponse, passwordAuth, policyAuth } from './command';
export type { TpmCommand, ResponseCodec, Authorization } from './command';
export { startup, getRandom, getCapability } from './commands/basic';
export type { CapabilityData, GetCapabilityResponse } from './commands/basic';
export { pcrRead, pcrExtend, pcrReset } from './commands/pcr';
export type { PcrReadResponse } from './commands/pcr';
export {
  createPrimary,
  create,
  load,
  readPublic,
  flushContext,
  contextSave,
  contextLoad,
  evictControl,
} from './commands/object';
export type {
  CreatePrimaryResponse,
  CreateResponse,
  LoadResponse,
  ReadPublicResponse,
} from './commands/object';
export { startAuthSession, policySecret, policyOr } from './commands/session';
export type { StartAuthSessionResponse } from './commands/session';
export { nvReadPublic, nvRead, TpmaNv } from './commands/nv';
export type { NvPublic, NvReadPublicResponse } from './commands/nv';
export {
  quote as quoteCommand,
  activateCredential as activateCredentialCommand,
} from './commands/attest';
export type { QuoteResponse } from './commands/attest';
export { loadEkIn, withEkAuth } from './ek';
export { loadAkIn, loadAkUnder } from './ak';
export { readPcrsIn } from './pcrs';
// Numbers only this layer needs; TPM_ALG/TPM_CC/TPM_RH values come from @keylime/tpm.
export { TpmCap, TpmPt, TpmSe, TpmSu } from './constants';
