/**
 * @module migration-helpers: schema-portable building blocks for migrations that run on SQLite
 * and PostgreSQL alike, and on tables an upstream (Python) Keylime may already have created.
 */
import { Table, TableColumn, TableIndex } from 'typeorm';
import type { QueryRunner, TableColumnOptions } from 'typeorm';

export type Dialect = 'sqlite' | 'postgres';

/** Which SQL dialect a migration is running against. */
export function dialectOf(queryRunner: QueryRunner): Dialect {
  const type = queryRunner.connection.options.type;
  if (type === 'postgres') return 'postgres';
  if (type === 'better-sqlite3') return 'sqlite';
  throw new Error(`unsupported database type ${type}`);
}

/** Column types whose spelling differs between the dialects. */
export function portableTypes(dialect: Dialect): {
  readonly timestamp: string;
  readonly blob: string;
  readonly now: string;
} {
  return dialect === 'postgres'
    ? { timestamp: 'timestamp with time zone', blob: 'bytea', now: 'now()' }
    : { timestamp: 'datetime', blob: 'blob', now: "(datetime('now'))" };
}

/**
 * Creates `table` unless a table of that name exists (e.g. made by upstream's alembic), then
 * adds any of its columns that are missing. Returns true when the table was created.
 */
export async function ensureTable(queryRunner: QueryRunner, table: Table): Promise<boolean> {
  if (!(await queryRunner.hasTable(table.name))) {
    await queryRunner.createTable(table, true);
    return true;
  }
  for (const column of table.columns) {
    await addColumnIfMissing(queryRunner, table.name, {
      ...column,
      // An added column on a populated table must be nullable.
      isNullable: column.isPrimary ? false : true,
    });
  }
  for (const index of table.indices) await ensureIndex(queryRunner, table.name, index);
  return false;
}

/** Adds a column unless present. */
export async function addColumnIfMissing(
  queryRunner: QueryRunner,
  tableName: string,
  column: TableColumnOptions,
): Promise<boolean> {
  if (await queryRunner.hasColumn(tableName, column.name)) return false;
  await queryRunner.addColumn(tableName, new TableColumn(column));
  return true;
}

/** Creates an index unless one of that name exists. */
export async function ensureIndex(
  queryRunner: QueryRunner,
  tableName: string,
  index: TableIndex,
): Promise<void> {
  const table = await queryRunner.getTable(tableName);
  if (table?.indices.some((i) => i.name === index.name)) return;
  await queryRunner.createIndex(tableName, index);
}

export { Table, TableColumn, TableIndex };
