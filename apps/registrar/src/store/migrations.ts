/**
 * @module migrations: schema of the registrar database. Each migration is idempotent against a
 * database an upstream registrar created (same table; columns added only when missing).
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ensureTable, ensureIndex, Table, TableIndex } from '@keylime/persistence';

/** registrarmain as upstream's alembic chain leaves it (keylime/migrations, registrar branch). */
export class RegistrarMain1767225600000 implements MigrationInterface {
  name = 'RegistrarMain1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const text = (name: string) => ({ name, type: 'text', isNullable: true });
    await ensureTable(
      queryRunner,
      new Table({
        name: 'registrarmain',
        columns: [
          { name: 'agent_id', type: 'varchar', length: '80', isPrimary: true },
          { name: 'key', type: 'varchar', length: '45', isNullable: true },
          text('ekcert'),
          { name: 'virtual', type: 'boolean', isNullable: true },
          { name: 'active', type: 'boolean', isNullable: true },
          text('provider_keys'),
          { name: 'regcount', type: 'integer', isNullable: true },
          text('aik_tpm'),
          text('ek_tpm'),
          // Upstream says VARCHAR(15), too short for IPv6 or host names; SQLite ignores it anyway.
          { name: 'ip', type: 'varchar', length: '255', isNullable: true },
          { name: 'port', type: 'integer', isNullable: true },
          text('mtls_cert'),
          text('iak_tpm'),
          text('idevid_tpm'),
          text('iak_cert'),
          text('idevid_cert'),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('registrarmain', true);
  }
}

/** Index for the optional "one EK, one agent" rule (lookup by ek_tpm). */
export class RegistrarEkIndex1767225600001 implements MigrationInterface {
  name = 'RegistrarEkIndex1767225600001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await ensureIndex(
      queryRunner,
      'registrarmain',
      new TableIndex({ name: 'ix_registrarmain_ek_tpm', columnNames: ['ek_tpm'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('registrarmain', 'ix_registrarmain_ek_tpm');
  }
}

export const REGISTRAR_MIGRATIONS = [RegistrarMain1767225600000, RegistrarEkIndex1767225600001];
