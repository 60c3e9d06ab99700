/** @module @keylime/mba: UEFI measured-boot event log parsing, replay and reference-state evaluation. */

// errors (faults; attestation refusals are values, see failure)
export { MbaErrorCode } from './errors';
export type { MbaErrorCodeValue } from './errors';

// constants
export { EventType, HashAlgId, DIGEST_SIZE, Guid, PCR_COUNT, UNKNOWN_EVENT_TYPE, eventTypeName, bankName } from './constants';
export type { EventTypeName, BankName } from './constants';

// binary log (spec §5.2)
export { parseEventLog, EVENT_LOG_LIMITS } from './event-log';
export type { EventLog, PcrEvent, HeaderEvent, SpecIdEvent, SpecIdAlgorithm, EventDigest } from './event-log';
export { decodeEventData } from './event-data';
export { formatDevicePath } from './device-path';

// replay (spec §5.2 step 3)
export { replayEventLog, startupLocalityOf } from './replay';
export type { ReplayResult, BankReplay } from './replay';

// normalised JSON (spec §5.3)
export { normaliseEventLog } from './normalise';
export type { MbLogJson } from './normalise';
export { isJsonObject } from './json';
export type { JsonValue, JsonObject, JsonPrimitive } from './json';

// verification against a quote (spec §5.4) and failures (spec §6.2)
export { verifyEventLog, verifyEventLogBytes } from './verify';
export type { VerifiedEventLog, QuotedPcrs } from './verify';
export { MbEventId } from './failure';
export type { MbFailureEvent, MbResult } from './failure';
export { Workarounds, pcr0StartupLocalityAsExtend } from './workarounds';
export type { Workaround } from './workarounds';

// policy engines (spec §5.4–5.6)
export { acceptAllPolicy, rejectAllPolicy } from './policy';
export type { MbPolicy, MbRefusal } from './policy';
export { examplePolicy } from './example-policy';
export { readExampleRefState } from './example-refstate';
export type { ExampleRefState, ExampleRefStateJson, DigestJson, SignatureJson, KernelJson } from './example-refstate';
export { createPolicyRegistry, requirePolicy, evaluateMeasuredBoot } from './evaluate';
export type { PolicyRegistry, MeasuredBootEvaluation, MeasuredBootVerdict } from './evaluate';
export { createMeasuredBootRefState } from './create-refstate';
export type { CreateRefStateOptions, CreatedRefState } from './create-refstate';
export { pyReEscape, compilePythonFullMatch } from './py-regex';
