/**
 * @module migrations: the verifier schema as upstream's alembic chain leaves it (verifier §8.1,
 * §8.2). Idempotent on a database an upstream verifier created: tables are adopted and only
 * missing columns are added.
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  Table,
  TableIndex,
  dialectOf,
  ensureIndex,
  ensureTable,
  portableTypes,
} from '@keylime/persistence';

const text = (name: string) => ({ name, type: 'text', isNullable: true });
const int = (name: string) => ({ name, type: 'integer', isNullable: true });
const varchar = (name: string, length: number) => ({
  name,
  type: 'varchar',
  length: String(length),
  isNullable: true,
});

/** allowlists, mbpolicies and verifiermain. */
export class VerifierTables1767225700000 implements MigrationInterface {
  name = 'VerifierTables1767225700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const types = portableTypes(dialectOf(queryRunner));
    const id = {
      name: 'id',
      type: 'integer',
      isPrimary: true,
      isGenerated: true,
      generationStrategy: 'increment' as const,
    };
    await ensureTable(
      queryRunner,
      new Table({
        name: 'allowlists',
        columns: [
          id,
          { name: 'name', type: 'varchar', length: '255', isNullable: false, isUnique: true },
          varchar('checksum', 128),
          int('generator'),
          text('tpm_policy'),
          text('ima_policy'),
        ],
      }),
    );
    await ensureTable(
      queryRunner,
      new Table({
        name: 'mbpolicies',
        columns: [
          id,
          { name: 'name', type: 'varchar', length: '255', isNullable: false, isUnique: true },
          text('mb_policy'),
        ],
      }),
    );
    await ensureTable(
      queryRunner,
      new Table({
        name: 'verifiermain',
        columns: [
          { name: 'agent_id', type: 'varchar', length: '80', isPrimary: true },
          varchar('v', 45),
          varchar('ip', 255),
          int('port'),
          varchar('verifier_id', 80),
          varchar('verifier_ip', 255),
          int('verifier_port'),
          int('operational_state'),
          text('public_key'),
          text('tpm_policy'),
          text('meta_data'),
          int('ima_policy_id'),
          int('mb_policy_id'),
          text('ima_sign_verification_keys'),
          text('revocation_key'),
          text('accept_tpm_hash_algs'),
          text('accept_tpm_encryption_algs'),
          text('accept_tpm_signing_algs'),
          varchar('hash_alg', 10),
          varchar('enc_alg', 10),
          varchar('sign_alg', 10),
          int('boottime'),
          text('ima_pcrs'),
          { name: 'pcr10', type: types.blob, isNullable: true },
          int('next_ima_ml_entry'),
          int('severity_level'),
          varchar('last_event_id', 200),
          text('learned_ima_keyrings'),
          varchar('supported_version', 20),
          text('ak_tpm'),
          text('mtls_cert'),
          int('attestation_count'),
          int('last_received_quote'),
          int('last_successful_attestation'),
          text('tpm_clockinfo'),
          { name: 'accept_attestations', type: 'boolean', isNullable: false, default: true },
          int('consecutive_attestation_failures'),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('verifiermain', true);
    await queryRunner.dropTable('mbpolicies', true);
    await queryRunner.dropTable('allowlists', true);
  }
}

/** Startup loads agents by verifier id (verifier §7.1); with 10 000 rows that wants an index. */
export class VerifierIdIndex1767225700001 implements MigrationInterface {
  name = 'VerifierIdIndex1767225700001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await ensureIndex(
      queryRunner,
      'verifiermain',
      new TableIndex({ name: 'ix_verifiermain_verifier_id', columnNames: ['verifier_id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('verifiermain', 'ix_verifiermain_verifier_id');
  }
}

export const VERIFIER_MIGRATIONS = [VerifierTables1767225700000, VerifierIdIndex1767225700001];
