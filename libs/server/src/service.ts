/**
 * @module service: the start-up and shut-down frame every service shares — upstream-format log
 * lines on stdout, a bad configuration as one line and exit code 2, clean stop on SIGINT/SIGTERM.
 */
import { ConfigError, CONFIG_EXIT_CODE, formatConfigError } from '@keylime/config';
import { KeylimeError, createLineLogger, errorMessage } from '@keylime/core';
import type { Logger, LogLevel } from '@keylime/core';

/** Exit code when start-up fails for a reason other than configuration (port busy, bad TLS file). */
export const STARTUP_FAILURE_EXIT_CODE = 1;

export interface ServiceHandle {
  /** Stops listeners and closes stores; resolves when done. */
  stop(): Promise<void>;
}

export interface RunServiceOptions {
  /** Logger name, e.g. `keylime.verifier`. */
  readonly name: string;
  readonly level?: LogLevel;
  /** Starts everything; throws ConfigError for bad configuration. */
  readonly start: (logger: Logger) => Promise<ServiceHandle>;
}

/** Creates a logger writing upstream-format lines to stdout. */
export function createStdoutLogger(name: string, level: LogLevel = 'info'): Logger {
  return createLineLogger({ name, level, write: (line) => process.stdout.write(`${line}\n`) });
}

/**
 * Runs a service until SIGINT/SIGTERM. Start-up failures print one line on stderr (no stack
 * trace) and set the exit code: 2 for configuration, 1 otherwise.
 */
export async function runService(options: RunServiceOptions): Promise<void> {
  const logger = createStdoutLogger(options.name, options.level);
  let handle: ServiceHandle;
  try {
    handle = await options.start(logger);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${formatConfigError(e)}\n`);
      process.exitCode = CONFIG_EXIT_CODE;
    } else {
      const code = e instanceof KeylimeError ? ` [${e.code}]` : '';
      process.stderr.write(`${options.name}: cannot start: ${errorMessage(e)}${code}\n`);
      process.exitCode = STARTUP_FAILURE_EXIT_CODE;
    }
    return;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`Received ${signal}, shutting down`);
    handle.stop().then(
      () => {
        process.exitCode = 0;
      },
      (e: unknown) => {
        logger.error(`Error during shutdown: ${errorMessage(e)}`);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
