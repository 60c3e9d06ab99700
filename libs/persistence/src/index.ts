/** @module @keylime/persistence: TypeORM data sources: better-sqlite3 by default, PostgreSQL for scale-out. */
import 'reflect-metadata';

export { PersistenceErrorCode } from './errors';
export { parseDatabaseUrl, redactUrl, describeTarget } from './database-url';
export type { DatabaseTarget } from './database-url';
export { openDataSource, DEFAULT_MIGRATIONS_TABLE } from './data-source';
export type { OpenDataSourceOptions, OpenedDataSource, ClassRef } from './data-source';
export {
  dialectOf,
  portableTypes,
  ensureTable,
  addColumnIfMissing,
  ensureIndex,
  Table,
  TableColumn,
  TableIndex,
} from './migration-helpers';
export type { Dialect } from './migration-helpers';
