/** @module errors: stable error codes of @keylime/persistence. */

export const PersistenceErrorCode = {
  /** database_url is neither `sqlite`, a `sqlite:///` URL nor a PostgreSQL URL. */
  BadUrl: 'KL_PERSISTENCE_BAD_URL',
  /** The database could not be opened or reached. */
  Unreachable: 'KL_PERSISTENCE_UNREACHABLE',
  /** A migration failed. */
  MigrationFailed: 'KL_PERSISTENCE_MIGRATION_FAILED',
  /** The private PostgreSQL test server could not be started. */
  TestServer: 'KL_PERSISTENCE_TEST_SERVER',
} as const;
