/** @module main: entry point of `keylime_registrar` — config, logger, start, clean shutdown. */
import 'reflect-metadata';
import { Command } from 'commander';
import { CONFIG_EXIT_CODE, ConfigError, formatConfigError } from '@keylime/config';
import { createLineLogger, errorMessage, hasErrorCode } from '@keylime/core';
import { PersistenceErrorCode } from '@keylime/persistence';
import { SERVER_CURRENT_VERSION, SERVER_SUPPORTED_VERSIONS } from '@keylime/protocol';
import { loadRegistrarSettings } from './config';
import { startRegistrar } from './server';

async function main(): Promise<void> {
  // Upstream's keylime_registrar takes no options; --help is all we add.
  new Command('keylime_registrar')
    .description('Keylime registrar: agent registration and activation, tenant-facing agent list')
    .helpOption('-h, --help')
    .parse(process.argv);

  const logger = createLineLogger({
    name: 'keylime.registrar',
    write: (line) => process.stdout.write(`${line}\n`),
  });

  let settings;
  try {
    settings = loadRegistrarSettings();
  } catch (e) {
    process.stderr.write(`keylime_registrar: ${formatConfigError(e)}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  for (const w of settings.config.raw.warnings) logger.warn(w);

  logger.info('Starting Keylime registrar...');
  logger.info(`Current API version: ${SERVER_CURRENT_VERSION}`);
  logger.info(
    `Other supported API versions: ${SERVER_SUPPORTED_VERSIONS.filter((v) => v !== SERVER_CURRENT_VERSION).join(', ')}`,
  );
  // Upstream still lists 1.0 as deprecated; the registrar serves no v1 routes.
  logger.info('Deprecated API versions (soon to be removed): 1.0');

  let running;
  try {
    running = await startRegistrar(settings, { logger });
  } catch (e) {
    const bad = e instanceof ConfigError || hasErrorCode(e, PersistenceErrorCode.BadUrl);
    process.stderr.write(`keylime_registrar: ${errorMessage(e).replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(bad ? CONFIG_EXIT_CODE : 1);
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn(`Shutdown already in progress, ignoring ${signal}`);
      return;
    }
    stopping = true;
    logger.info(`Received ${signal}, shutting down`);
    running.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error(`Shutdown failed: ${errorMessage(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  process.stderr.write(`keylime_registrar: ${errorMessage(e).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
});
