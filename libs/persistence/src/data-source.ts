/**
 * @module data-source: opens a TypeORM DataSource on SQLite (better-sqlite3, WAL) or PostgreSQL
 * and brings its schema up to date, failing with one clear line when the database is unusable.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import path from 'node:path';
import { DataSource } from 'typeorm';
import type { DataSourceOptions, EntitySchema, MigrationInterface } from 'typeorm';
import { KeylimeError, errorMessage, silentLogger } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { parseDatabaseUrl, describeTarget } from './database-url';
import type { DatabaseTarget } from './database-url';
import { PersistenceErrorCode } from './errors';

/** A class TypeORM can take as an entity or migration (classes are passed, never globs). */
export type ClassRef<T = unknown> = abstract new (...args: never[]) => T;

export interface OpenDataSourceOptions {
  /** `sqlite`, `sqlite:////abs/path.sqlite` or `postgresql://user:pw@host:port/db`. */
  readonly databaseUrl: string;
  /** Where the `sqlite` keyword puts the file (e.g. KEYLIME_DIR/reg_data.sqlite). */
  readonly sqliteDefaultPath: string;
  readonly entities: readonly (ClassRef | EntitySchema)[];
  readonly migrations: readonly ClassRef<MigrationInterface>[];
  readonly logger?: Logger;
  /** Run pending migrations on open (upstream `auto_migrate_db`, default true). */
  readonly autoMigrate?: boolean;
  /** PostgreSQL pool size (upstream `database_pool_sz_ovfl` = size + overflow). */
  readonly poolSize?: number;
  /** How long to wait for PostgreSQL to accept a connection. */
  readonly connectTimeoutMs?: number;
  /** SQLite busy timeout: how long a writer waits for a lock held by another process. */
  readonly busyTimeoutMs?: number;
  /** Table where applied migrations are recorded. */
  readonly migrationsTableName?: string;
}

export interface OpenedDataSource {
  readonly dataSource: DataSource;
  readonly target: DatabaseTarget;
  /** Names of migrations applied by this open. */
  readonly applied: readonly string[];
  close(): Promise<void>;
}

export const DEFAULT_MIGRATIONS_TABLE = 'keylime_ts_migrations';

function buildOptions(target: DatabaseTarget, o: OpenDataSourceOptions): DataSourceOptions {
  // TypeORM's option types want mutable arrays of `Function`; the classes are passed unchanged.
  const entities = [...o.entities] as unknown as DataSourceOptions['entities'];
  const migrations = [...o.migrations] as unknown as DataSourceOptions['migrations'];
  const common = {
    entities,
    migrations,
    migrationsRun: false,
    migrationsTableName: o.migrationsTableName ?? DEFAULT_MIGRATIONS_TABLE,
    synchronize: false,
    logging: false,
  } as const;
  if (target.kind === 'sqlite') {
    return {
      ...common,
      type: 'better-sqlite3',
      database: target.file,
      enableWAL: true,
      timeout: o.busyTimeoutMs ?? 5000,
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        db.pragma('foreign_keys = ON');
      },
    };
  }
  return {
    ...common,
    type: 'postgres',
    url: target.url,
    poolSize: o.poolSize ?? 15,
    connectTimeoutMS: o.connectTimeoutMs ?? 10_000,
  };
}

function prepareSqliteFile(file: string): void {
  const dir = path.dirname(file);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Opens the database named by `databaseUrl`. On SQLite the file (and its directory, 0700) is
 * created if missing; WAL and a busy timeout let several processes share it. Pending
 * migrations run in one transaction each when `autoMigrate` is on (the default).
 */
export async function openDataSource(options: OpenDataSourceOptions): Promise<OpenedDataSource> {
  const logger = options.logger ?? silentLogger;
  const target = parseDatabaseUrl(options.databaseUrl, options.sqliteDefaultPath);
  const what = describeTarget(target);

  let dataSource: DataSource;
  try {
    if (target.kind === 'sqlite') prepareSqliteFile(target.file);
    dataSource = new DataSource(buildOptions(target, options));
    await dataSource.initialize();
  } catch (e) {
    throw new KeylimeError(
      PersistenceErrorCode.Unreachable,
      `cannot open ${what}: ${errorMessage(e)}`,
      { cause: e },
    );
  }

  const applied: string[] = [];
  try {
    if (options.autoMigrate ?? true) {
      const ran = await dataSource.runMigrations({ transaction: 'each' });
      for (const m of ran) applied.push(m.name);
      if (applied.length > 0) logger.info(`Applied database migrations: ${applied.join(', ')}`);
    } else if (await dataSource.showMigrations()) {
      logger.warn(`${what} has pending migrations and auto_migrate_db is off`);
    }
  } catch (e) {
    await dataSource.destroy().catch(() => undefined);
    throw new KeylimeError(
      PersistenceErrorCode.MigrationFailed,
      `migrating ${what} failed: ${errorMessage(e)}`,
      { cause: e },
    );
  }

  return {
    dataSource,
    target,
    applied,
    close: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}
