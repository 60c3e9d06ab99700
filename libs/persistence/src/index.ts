/** @module @keylime/persistence: TypeORM data sources: better-sqlite3 by default, PostgreSQL for scale-out. */
export {};
