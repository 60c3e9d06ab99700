/** @module logging-config: the parts of logging.conf (Python fileConfig format) keylime-ts honours. */

import { ConfigError, ConfigErrorCode } from './config-error';
import { loadComponentConfig } from './component-loader';
import type { ConfigLoadOptions, RawComponentConfig } from './component-loader';
import { deepFreeze } from './shared-options';

/** Python logging level names accepted in logging.conf. */
export const PythonLogLevel = {
  Debug: 'DEBUG',
  Info: 'INFO',
  Warning: 'WARNING',
  Error: 'ERROR',
  Critical: 'CRITICAL',
  NotSet: 'NOTSET',
} as const;
export type PythonLogLevelValue = (typeof PythonLogLevel)[keyof typeof PythonLogLevel];

/** Upstream's default format and date format (templates/2.6 logging.j2). */
export const LOGGING_DEFAULTS = {
  level: 'INFO',
  format: '%(asctime)s.%(msecs)03d - %(name)s - %(levelname)s - %(message)s',
  datefmt: '%Y-%m-%d %H:%M:%S',
} as const;

export interface LoggingConfig {
  /** Level of [logger_root]. */
  readonly rootLevel: PythonLogLevelValue;
  /** Level of [logger_keylime] (falls back to the root level). */
  readonly keylimeLevel: PythonLogLevelValue;
  /** Python %-style format of the first formatter. */
  readonly format: string;
  readonly datefmt: string;
  readonly raw: RawComponentConfig;
}

const ALIASES: Readonly<Record<string, PythonLogLevelValue>> = {
  WARN: 'WARNING',
  FATAL: 'CRITICAL',
};

function readLevel(
  raw: RawComponentConfig,
  section: string,
  fallback: PythonLogLevelValue,
): PythonLogLevelValue {
  const entry = raw.ini.getEntry(section, 'level');
  if (entry === undefined) return fallback;
  const name = entry.value.trim().toUpperCase();
  const level = ALIASES[name] ?? Object.values(PythonLogLevel).find((l) => l === name);
  if (level === undefined) {
    throw new ConfigError(ConfigErrorCode.InvalidValue, {
      origin: { kind: 'file', file: entry.file, line: entry.line },
      section,
      option: 'level',
      problem: `expected one of ${Object.values(PythonLogLevel).join(', ')}, got ${JSON.stringify(entry.value)}`,
    });
  }
  return level;
}

/** Builds the logging settings from loaded files. fileConfig has no env overrides upstream, so none here. */
export function loggingConfigFrom(raw: RawComponentConfig): LoggingConfig {
  const rootLevel = readLevel(raw, 'logger_root', PythonLogLevel.Info);
  const formatter = (raw.ini.get('formatters', 'keys') ?? '').split(',')[0]?.trim() ?? '';
  const section = `formatter_${formatter}`;
  return deepFreeze<LoggingConfig>({
    rootLevel,
    keylimeLevel: readLevel(raw, 'logger_keylime', rootLevel),
    format: raw.ini.get(section, 'format') ?? LOGGING_DEFAULTS.format,
    datefmt: raw.ini.get(section, 'datefmt') ?? LOGGING_DEFAULTS.datefmt,
    raw,
  });
}

/** Loads logging.conf (+ snippets) like the other Python components. */
export function loadLoggingConfig(options: ConfigLoadOptions = {}): LoggingConfig {
  return loggingConfigFrom(loadComponentConfig('logging', options));
}
