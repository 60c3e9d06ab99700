/**
 * @module schema: the verifier tables with upstream's names and column encodings (verifier §8):
 * `verifiermain`, `allowlists`, `mbpolicies`, so a database written by upstream's verifier reads
 * here and vice versa. EntitySchema instead of decorators: esbuild drops decorator metadata and the
 * binary column type differs per dialect (toolchain §5).
 */
import { EntitySchema } from 'typeorm';
import type { Dialect } from '@keylime/persistence';

/** One row of `verifiermain`. JSON columns hold JSON text exactly as upstream's JSONPickleType. */
export interface AgentRow {
  agentId: string;
  v: string | null;
  ip: string | null;
  port: number | null;
  verifierId: string | null;
  verifierIp: string | null;
  verifierPort: number | null;
  operationalState: number | null;
  publicKey: string | null;
  /** JSON text of the tpm_policy *string* (upstream double-encodes it). */
  tpmPolicy: string | null;
  metaData: string | null;
  imaPolicyId: number | null;
  mbPolicyId: number | null;
  imaSignVerificationKeys: string | null;
  revocationKey: string | null;
  acceptTpmHashAlgs: string | null;
  acceptTpmEncryptionAlgs: string | null;
  acceptTpmSigningAlgs: string | null;
  hashAlg: string | null;
  encAlg: string | null;
  signAlg: string | null;
  boottime: number | null;
  imaPcrs: string | null;
  pcr10: Buffer | null;
  nextImaMlEntry: number | null;
  severityLevel: number | null;
  lastEventId: string | null;
  learnedImaKeyrings: string | null;
  supportedVersion: string | null;
  akTpm: string | null;
  mtlsCert: string | null;
  attestationCount: number | null;
  lastReceivedQuote: number | null;
  lastSuccessfulAttestation: number | null;
  tpmClockinfo: string | null;
  acceptAttestations: boolean;
  consecutiveAttestationFailures: number | null;
}

export interface AllowlistRow {
  id: number;
  name: string;
  checksum: string | null;
  generator: number | null;
  tpmPolicy: string | null;
  imaPolicy: string | null;
}

export interface MbPolicyRow {
  id: number;
  name: string;
  mbPolicy: string | null;
}

export const AGENT_TABLE = 'verifiermain';
export const ALLOWLIST_TABLE = 'allowlists';
export const MBPOLICY_TABLE = 'mbpolicies';

type ColumnSpec = {
  name: string;
  type: string;
  nullable?: boolean;
  length?: number;
  primary?: true;
  generated?: 'increment';
  default?: unknown;
};

function col(name: string, type: string, extra: Partial<ColumnSpec> = {}): ColumnSpec {
  return { name, type, nullable: true, ...extra };
}

/** The three entity schemas for one dialect (only the binary column type differs). */
export function verifierEntities(dialect: Dialect): EntitySchema[] {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';
  const agent = new EntitySchema<AgentRow>({
    name: AGENT_TABLE,
    tableName: AGENT_TABLE,
    columns: {
      agentId: col('agent_id', 'varchar', { length: 80, primary: true, nullable: false }),
      v: col('v', 'varchar', { length: 45 }),
      ip: col('ip', 'varchar', { length: 255 }),
      port: col('port', 'integer'),
      verifierId: col('verifier_id', 'varchar', { length: 80 }),
      verifierIp: col('verifier_ip', 'varchar', { length: 255 }),
      verifierPort: col('verifier_port', 'integer'),
      operationalState: col('operational_state', 'integer'),
      publicKey: col('public_key', 'text'),
      tpmPolicy: col('tpm_policy', 'text'),
      metaData: col('meta_data', 'text'),
      imaPolicyId: col('ima_policy_id', 'integer'),
      mbPolicyId: col('mb_policy_id', 'integer'),
      imaSignVerificationKeys: col('ima_sign_verification_keys', 'text'),
      revocationKey: col('revocation_key', 'text'),
      acceptTpmHashAlgs: col('accept_tpm_hash_algs', 'text'),
      acceptTpmEncryptionAlgs: col('accept_tpm_encryption_algs', 'text'),
      acceptTpmSigningAlgs: col('accept_tpm_signing_algs', 'text'),
      hashAlg: col('hash_alg', 'varchar', { length: 10 }),
      encAlg: col('enc_alg', 'varchar', { length: 10 }),
      signAlg: col('sign_alg', 'varchar', { length: 10 }),
      boottime: col('boottime', 'integer'),
      imaPcrs: col('ima_pcrs', 'text'),
      pcr10: col('pcr10', blob),
      nextImaMlEntry: col('next_ima_ml_entry', 'integer'),
      severityLevel: col('severity_level', 'integer'),
      lastEventId: col('last_event_id', 'varchar', { length: 200 }),
      learnedImaKeyrings: col('learned_ima_keyrings', 'text'),
      supportedVersion: col('supported_version', 'varchar', { length: 20 }),
      akTpm: col('ak_tpm', 'text'),
      mtlsCert: col('mtls_cert', 'text'),
      attestationCount: col('attestation_count', 'integer'),
      lastReceivedQuote: col('last_received_quote', 'integer'),
      lastSuccessfulAttestation: col('last_successful_attestation', 'integer'),
      tpmClockinfo: col('tpm_clockinfo', 'text'),
      acceptAttestations: col('accept_attestations', 'boolean', { nullable: false, default: true }),
      consecutiveAttestationFailures: col('consecutive_attestation_failures', 'integer'),
    } as EntitySchema<AgentRow>['options']['columns'],
  });
  const allowlist = new EntitySchema<AllowlistRow>({
    name: ALLOWLIST_TABLE,
    tableName: ALLOWLIST_TABLE,
    columns: {
      id: { name: 'id', type: 'integer', primary: true, generated: 'increment' },
      name: col('name', 'varchar', { length: 255, nullable: false }),
      checksum: col('checksum', 'varchar', { length: 128 }),
      generator: col('generator', 'integer'),
      tpmPolicy: col('tpm_policy', 'text'),
      imaPolicy: col('ima_policy', 'text'),
    } as EntitySchema<AllowlistRow>['options']['columns'],
  });
  const mbpolicy = new EntitySchema<MbPolicyRow>({
    name: MBPOLICY_TABLE,
    tableName: MBPOLICY_TABLE,
    columns: {
      id: { name: 'id', type: 'integer', primary: true, generated: 'increment' },
      name: col('name', 'varchar', { length: 255, nullable: false }),
      mbPolicy: col('mb_policy', 'text'),
    } as EntitySchema<MbPolicyRow>['options']['columns'],
  });
  return [agent, allowlist, mbpolicy];
}
