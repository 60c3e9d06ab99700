/**
 * @module server: assembles a running registrar from its settings — database, EK CA store, the
 * express app, the HTTP (agents) and HTTPS (tenant) listeners — and closes it again.
 */
import type http from 'node:http';
import type { Logger } from '@keylime/core';
import { openDataSource } from '@keylime/persistence';
import { listen } from '@keylime/server';
import type { RunningServer } from '@keylime/server';
import { buildRegistrarApp } from './app';
import type { RegistrarSettings } from './config';
import { loadCaStore } from './registration/certificates';
import { RegistrarAgentRow } from './store/registrar-agent.entity';
import { REGISTRAR_MIGRATIONS } from './store/migrations';
import { createAgentStore } from './store/agent-store';
import { loadTlsMaterial } from './tls';

/** Registration bodies are a few KiB; the cap keeps a hostile body from costing memory. */
export const MAX_REGISTRAR_BODY_BYTES = 512 * 1024;

export interface StartRegistrarOptions {
  readonly logger: Logger;
  /** Listen ports instead of `port`/`tls_port` (tests pass 0 for a free port). */
  readonly httpPort?: number;
  readonly httpsPort?: number;
}

export interface RunningRegistrar {
  readonly httpPort: number;
  readonly httpsPort: number;
  close(): Promise<void>;
}

export async function startRegistrar(
  settings: RegistrarSettings,
  options: StartRegistrarOptions,
): Promise<RunningRegistrar> {
  const { config } = settings;
  const logger = options.logger;

  const caStore = loadCaStore(settings.tpmCertStore);
  logger.info(
    `Loaded ${caStore.certificates.length} EK CA certificates from ${settings.tpmCertStore}` +
      (settings.tpmCertStoreOrigin === 'shipped' ? ' (shipped copy)' : ''),
  );
  if (caStore.skipped.length > 0) {
    logger.warn(
      `Skipped files without certificates in the TPM certificate store: ${caStore.skipped.join(', ')}`,
    );
  }
  const tls = await loadTlsMaterial(config, logger);

  logger.info('database_url is set, using it to establish database connection');
  const db = await openDataSource({
    databaseUrl: config.database.url,
    sqliteDefaultPath: config.database.kind === 'sqlite' ? config.database.file : '',
    entities: [RegistrarAgentRow],
    migrations: REGISTRAR_MIGRATIONS,
    logger,
    autoMigrate: config.autoMigrateDb,
    ...(config.database.kind === 'url'
      ? { poolSize: config.database.poolSize + config.database.maxOverflow }
      : {}),
  });

  const servers: RunningServer[] = [];
  try {
    const app = buildRegistrarApp({
      store: createAgentStore(db.dataSource),
      policy: {
        caStore,
        requireEkCert: settings.requireEkCert,
        singleAgentPerEk: settings.singleAgentPerEk,
      },
      logger,
      bodyLimitBytes: Math.min(config.maxUploadSize, MAX_REGISTRAR_BODY_BYTES),
    });
    const handler: http.RequestListener = app;
    servers.push(await listen({ host: config.ip, port: options.httpPort ?? config.port, handler }));
    servers.push(
      await listen({ host: config.ip, port: options.httpsPort ?? config.tlsPort, handler, tls }),
    );
  } catch (e) {
    await Promise.all(servers.map((s) => s.close()));
    await db.close();
    throw e;
  }
  const [httpServer, httpsServer] = servers as [RunningServer, RunningServer];
  logger.info(
    `Listening on ${config.ip}:${httpServer.port}/${httpsServer.port} (HTTP/S) with 1 worker processes...`,
  );

  let closing: Promise<void> | undefined;
  return {
    httpPort: httpServer.port,
    httpsPort: httpsServer.port,
    close: () => {
      closing ??= (async () => {
        await Promise.all(servers.map((s) => s.close()));
        await db.close();
      })();
      return closing;
    },
  };
}
