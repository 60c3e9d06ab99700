/** @module @keylime/ima: IMA measurement list parsing, template hashes, PCR 10 replay and runtime policy evaluation. */

// errors (faults)
export { ImaErrorCode } from './errors';

// hash algorithms
export { HashAlg, HASH_ALGS, isHashAlg, toHashAlg, digestSize } from './hash-alg';

// attestation failures (verdicts as values)
export { ImaEventId, makeEvent } from './failure';
export type { AttestationEvent, AttestationFailure, EventContext, VerificationResult } from './failure';

// measurement list entries
export { ImaTemplate, parseImaEntry } from './entry';
export type { ImaEntry, ParsedImaEntry } from './entry';

// replay and boot_aggregate
export { replayMeasurementList, bootAggregates } from './replay';
export type { ReplayResult } from './replay';

// incremental attestation
export { evaluateImaList } from './evaluate';
export type { ImaEvaluation, ImaEvaluationInput } from './evaluate';
export { initialImaState, checkQuoteProgress, serializeImaState, deserializeImaState } from './state';
export type { ImaAttestState } from './state';

// runtime policy
export { PolicyGenerator, RUNTIME_POLICY_CURRENT_VERSION, LOG_HASH_ALGS, emptyRuntimePolicy } from './policy/types';
export type { RuntimePolicy, DigestMap, LogHashAlg } from './policy/types';
export { validateRuntimePolicy } from './policy/validate';
export { compileRuntimePolicy } from './policy/compile';
export type { CompiledRuntimePolicy } from './policy/compile';
export { translatePythonRegex, checkExclude, compileExcludes } from './policy/excludes';
export { toPythonJson } from './policy/python-json';

// keys, keyrings, signatures
export { ImaKeyring, loadImaPublicKey, parseImaKeyring } from './keys/keyring';
export type { ImaPublicKey } from './keys/keyring';
export { learnedKeyringsToJson, learnedKeyringsFromJson } from './keys/keyrings';
export type { LearnedKeyrings } from './keys/keyrings';
export { verifyImaSignature } from './keys/signature';

// signed policies (DSSE) and legacy formats
export {
  KEYLIME_PAYLOAD_TYPE,
  dssePae,
  dsseDecode,
  parseDsseEnvelope,
  isDsseEnvelope,
  signDsse,
  ecdsaKeyId,
  ecdsaSigner,
  verifyDsseEnvelope,
  dssePayloadText,
} from './policy/dsse';
export type { DsseEnvelope, DsseSigner, DsseVerified } from './policy/dsse';
export { parseFlatAllowlist, convertLegacyAllowlist, parseExcludeList, upgradeRuntimePolicy } from './policy/legacy';
