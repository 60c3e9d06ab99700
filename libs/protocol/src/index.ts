/** @module @keylime/protocol: the wire — envelope, API versions, agent ids, operational states. */

// API versions
export {
  SERVER_SUPPORTED_VERSIONS,
  SERVER_CURRENT_VERSION,
  AGENT_SUPPORTED_VERSIONS,
  parseApiVersion,
  formatApiVersion,
  compareApiVersions,
  negotiateApiVersion,
  latestMinor,
  resolveVersionSegment,
  requireApiVersion,
} from './api-version';
export type { ApiVersion } from './api-version';

// response envelope
export { SUCCESS_STATUS, successEnvelope, errorEnvelope, parseEnvelope } from './envelope';
export type { Envelope } from './envelope';

// identifiers and states
export { isValidAgentId, AGENT_ID_MAX_LENGTH } from './agent-id';
export { OperationalState, OPERATIONAL_STATE_NAMES, isOperationalState } from './operational-state';
