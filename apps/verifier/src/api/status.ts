/**
 * @module status: the agent status object of GET /agents/{id} and the bulk listing, field for
 * field as upstream's `process_get_status` (verifier §1.4).
 */
import { OperationalState } from '@keylime/protocol';
import { readPolicyText, readStringList } from '../store/columns';
import type { AgentRow } from '../store/schema';

/** The columns the status reads (and the policy ids behind its two flags). */
export const STATUS_COLUMNS = [
  'agentId',
  'operationalState',
  'v',
  'ip',
  'port',
  'tpmPolicy',
  'metaData',
  'imaPolicyId',
  'mbPolicyId',
  'acceptTpmHashAlgs',
  'acceptTpmEncryptionAlgs',
  'acceptTpmSigningAlgs',
  'hashAlg',
  'encAlg',
  'signAlg',
  'verifierId',
  'verifierIp',
  'verifierPort',
  'severityLevel',
  'lastEventId',
  'attestationCount',
  'lastReceivedQuote',
  'lastSuccessfulAttestation',
  'acceptAttestations',
  'consecutiveAttestationFailures',
] as const satisfies readonly (keyof AgentRow)[];

/** An agent row as far as the status needs it (the bulk listing reads no more). */
export type StatusRow = Pick<AgentRow, (typeof STATUS_COLUMNS)[number]>;

export interface StatusContext {
  readonly quoteIntervalSeconds: number;
  /** Linked mbpolicies row has non-NULL content. */
  readonly hasMbRefstate: boolean;
  /** Linked allowlists row has generator > 1. */
  readonly hasRuntimePolicy: boolean;
}

const PASS_STATES = new Set<number>([
  OperationalState.GetQuote,
  OperationalState.GetQuoteRetry,
  OperationalState.ProvideV,
  OperationalState.ProvideVRetry,
]);
const FAIL_STATES = new Set<number>([
  OperationalState.Failed,
  OperationalState.InvalidQuote,
  OperationalState.TenantFailed,
]);

function attestationStatus(row: StatusRow): string {
  const pushAgent = row.operationalState === null || (row.ip === null && row.port === null);
  if (pushAgent) {
    const failures = row.consecutiveAttestationFailures ?? 0;
    if (!row.acceptAttestations) return failures > 0 ? 'FAIL' : 'TIMEOUT';
    if (failures > 0) return 'FAIL';
    return (row.attestationCount ?? 0) > 0 ? 'PASS' : 'PENDING';
  }
  const s = row.operationalState ?? -1;
  if (PASS_STATES.has(s)) return 'PASS';
  if (FAIL_STATES.has(s)) return 'FAIL';
  return 'PENDING';
}

/** The status object; key order as upstream emits it. */
export function agentStatus(row: StatusRow, ctx: StatusContext): Record<string, unknown> {
  return {
    operational_state: row.operationalState,
    v: row.v,
    ip: row.ip,
    port: row.port,
    tpm_policy: readPolicyText(row.tpmPolicy),
    meta_data: row.metaData,
    has_mb_refstate: ctx.hasMbRefstate ? 1 : 0,
    has_runtime_policy: ctx.hasRuntimePolicy ? 1 : 0,
    accept_tpm_hash_algs: readStringList(row.acceptTpmHashAlgs),
    accept_tpm_encryption_algs: readStringList(row.acceptTpmEncryptionAlgs),
    accept_tpm_signing_algs: readStringList(row.acceptTpmSigningAlgs),
    hash_alg: row.hashAlg ?? '',
    enc_alg: row.encAlg ?? '',
    sign_alg: row.signAlg ?? '',
    verifier_id: row.verifierId,
    verifier_ip: row.verifierIp,
    verifier_port: row.verifierPort,
    severity_level: row.severityLevel,
    last_event_id: row.lastEventId,
    attestation_count: row.attestationCount ?? 0,
    last_received_quote: row.lastReceivedQuote ?? 0,
    last_successful_attestation: row.lastSuccessfulAttestation ?? 0,
    attestation_status: attestationStatus(row),
    attestation_period: `${Math.trunc(ctx.quoteIntervalSeconds)}s`,
    maximum_attestation_interval: `${Math.trunc(ctx.quoteIntervalSeconds * 5)}s`,
  };
}
