/**
 * @module tenant/output: where results and messages go. Not a terminal: upstream's log lines
 * (`… - keylime.tenant - INFO - …`), `print` lines and JSON, byte for byte, so scripts keep
 * working. A terminal: readable text, tables and progress. `--json`: one JSON document on stdout.
 */
import { createLineLogger } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { pyJson } from './python-format';

export const OutputMode = {
  /** Upstream's output (stdout is not a terminal). */
  Upstream: 'upstream',
  /** Readable output for a person at a terminal. */
  Pretty: 'pretty',
  /** One JSON document on stdout (--json). */
  Json: 'json',
} as const;
export type OutputModeValue = (typeof OutputMode)[keyof typeof OutputMode];

export interface Sink {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal (progress lines may be redrawn in place). */
  readonly errIsTty: boolean;
}

export interface Reporter {
  readonly mode: OutputModeValue;
  /** An INFO line. `pretty` replaces the text at a terminal; null hides it there. */
  info(upstream: string, pretty?: string | null): void;
  warn(upstream: string, pretty?: string | null): void;
  /** An ERROR line that is not (yet) the final failure. */
  error(upstream: string, pretty?: string | null): void;
  debug(upstream: string): void;
  /** A line only for a person at a terminal (upstream prints nothing there). */
  note(pretty: string): void;
  /** Upstream's bare `print(...)` lines (not shown at a terminal or in JSON mode). */
  print(line: string): void;
  /** Progress while waiting; only drawn at a terminal. */
  progress(text: string): void;
  /** The command's result: printed as JSON in JSON mode, rendered at a terminal, silent otherwise. */
  result(value: unknown, render?: (value: unknown) => string): void;
  /** The final failure: one clear line (plus upstream's ERROR line when not at a terminal). */
  fail(message: string, program: string): void;
  /** Flushes JSON results. */
  close(): void;
}

export interface ReporterOptions {
  readonly mode: OutputModeValue;
  readonly sink: Sink;
  /** Logger name, `keylime.tenant` or `keylime.ca-util`. */
  readonly loggerName: string;
  readonly debug?: boolean;
  readonly now?: () => Date;
}

/** Chooses the mode as the issue asks: --json wins, else a terminal gets readable output. */
export function chooseOutputMode(json: boolean, stdoutIsTty: boolean): OutputModeValue {
  if (json) return OutputMode.Json;
  return stdoutIsTty ? OutputMode.Pretty : OutputMode.Upstream;
}

/** The process's stdout/stderr as a Sink. */
export function processSink(): Sink {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    errIsTty: process.stderr.isTTY,
  };
}

function upstreamLogger(options: ReporterOptions, toStderr: boolean): Logger {
  return createLineLogger({
    name: options.loggerName,
    level: options.debug ? 'debug' : 'info',
    write: (line) => (toStderr ? options.sink.err(`${line}\n`) : options.sink.out(`${line}\n`)),
    ...(options.now ? { now: options.now } : {}),
  });
}

/** Builds the reporter for a mode. */
export function createReporter(options: ReporterOptions): Reporter {
  switch (options.mode) {
    case OutputMode.Upstream:
      return upstreamReporter(options);
    case OutputMode.Pretty:
      return prettyReporter(options);
    case OutputMode.Json:
      return jsonReporter(options);
  }
}

function upstreamReporter(options: ReporterOptions): Reporter {
  const log = upstreamLogger(options, false);
  return {
    mode: OutputMode.Upstream,
    info: (m) => log.info(m),
    warn: (m) => log.warn(m),
    error: (m) => log.error(m),
    debug: (m) => log.debug(m),
    note: () => undefined,
    print: (line) => options.sink.out(`${line}\n`),
    progress: () => undefined,
    result: () => undefined,
    fail: (message, program) => {
      // Upstream logs the UserError on stdout; the stderr line is for people and cron mails.
      log.error(message);
      options.sink.err(`${program}: ${message}\n`);
    },
    close: () => undefined,
  };
}

function prettyReporter(options: ReporterOptions): Reporter {
  const { sink } = options;
  let progressShown = false;
  const clearProgress = (): void => {
    if (progressShown) sink.err('\r\x1b[K');
    progressShown = false;
  };
  const say = (
    text: string | null | undefined,
    fallback: string,
    toErr: boolean,
    prefix = '',
  ): void => {
    if (text === null) return;
    clearProgress();
    const line = `${prefix}${text ?? fallback}\n`;
    if (toErr) sink.err(line);
    else sink.out(line);
  };
  return {
    mode: OutputMode.Pretty,
    info: (m, p) => say(p, m, false),
    warn: (m, p) => say(p, m, true, 'warning: '),
    error: (m, p) => say(p, m, true, 'error: '),
    debug: (m) => (options.debug ? say(undefined, m, true, 'debug: ') : undefined),
    note: (m) => say(undefined, m, false),
    print: () => undefined,
    progress: (text) => {
      if (sink.errIsTty) {
        sink.err(`\r\x1b[K${text}`);
        progressShown = true;
      } else {
        sink.err(`${text}\n`);
      }
    },
    result: (value, render) => {
      clearProgress();
      const text = render ? render(value) : `${JSON.stringify(value, null, 2)}`;
      if (text.length > 0) sink.out(text.endsWith('\n') ? text : `${text}\n`);
    },
    fail: (message, program) => {
      clearProgress();
      sink.err(`${program}: ${message}\n`);
    },
    close: clearProgress,
  };
}

function jsonReporter(options: ReporterOptions): Reporter {
  // Messages go to stderr in upstream's format so stdout holds exactly one JSON document.
  const log = upstreamLogger(options, true);
  let results: unknown[] = [];
  let failed: string | undefined;
  return {
    mode: OutputMode.Json,
    info: () => undefined,
    warn: (m) => log.warn(m),
    error: (m) => log.error(m),
    debug: (m) => log.debug(m),
    note: () => undefined,
    print: () => undefined,
    progress: () => undefined,
    result: (value) => {
      results = [...results, value];
    },
    fail: (message, program) => {
      failed = message;
      options.sink.err(`${program}: ${message}\n`);
    },
    close: () => {
      if (failed !== undefined) {
        options.sink.out(`${pyJson({ error: failed })}\n`);
        return;
      }
      if (results.length === 0) return;
      const doc = results.length === 1 ? results[0] : results;
      options.sink.out(`${JSON.stringify(doc, null, 2)}\n`);
    },
  };
}

/** A fixed-width text table (header row first). */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
