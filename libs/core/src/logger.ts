/**
 * @module logger: the logging interface libs receive. Apps choose the sink. Lines follow
 * upstream Keylime's format so operators' greps keep working:
 * `YYYY-mm-dd HH:MM:SS.mmm - keylime.<component> - LEVEL - message`.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-component: `keylime.verifier` → `keylime.verifier.quote`. */
  child(component: string): Logger;
}

const LEVEL_ORDER: Readonly<Record<LogLevel, number>> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};
const LEVEL_LABEL: Readonly<Record<LogLevel, string>> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
};

/** Keys whose values are never written, whatever a caller passes (B8 redaction list). */
const REDACTED_KEYS = new Set([
  'key',
  'privateKey',
  'private_key',
  'password',
  'u',
  'v',
  'k',
  'ukey',
  'vkey',
  'auth_tag',
  'authTag',
  'secret',
  'payload',
]);

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Upstream's timestamp: local time, `YYYY-mm-dd HH:MM:SS.mmm`. */
export function formatTimestamp(d: Date): string {
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

function renderFields(fields: LogFields | undefined): string {
  if (!fields) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const value = REDACTED_KEYS.has(k)
      ? '[redacted]'
      : typeof v === 'string'
        ? v
        : JSON.stringify(v);
    parts.push(`${k}=${value}`);
  }
  return parts.length ? ` [${parts.join(' ')}]` : '';
}

export interface LineLoggerOptions {
  /** Logger name, e.g. `keylime.verifier`. */
  readonly name: string;
  readonly level?: LogLevel;
  /** Where a finished line goes (without trailing newline). */
  readonly write: (line: string, level: LogLevel) => void;
  readonly now?: () => Date;
}

/** A logger that renders upstream-format text lines with structured fields appended. */
export function createLineLogger(options: LineLoggerOptions): Logger {
  const min = LEVEL_ORDER[options.level ?? 'info'];
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (LEVEL_ORDER[level] < min) return;
    options.write(
      `${formatTimestamp(now())} - ${options.name} - ${LEVEL_LABEL[level]} - ${message}${renderFields(fields)}`,
      level,
    );
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (component) => createLineLogger({ ...options, name: `${options.name}.${component}` }),
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
