/** @module config-error: the one error type of @keylime/config, a single line naming source, option and problem. */

import { KeylimeError, errorMessage } from '@keylime/core';

/** Stable codes of every ConfigError (KL_CONFIG_*). */
export const ConfigErrorCode = {
  /** A line that is neither section header, option, comment nor continuation. */
  Syntax: 'KL_CONFIG_SYNTAX',
  /** An option line before the first `[section]` header. */
  MissingSectionHeader: 'KL_CONFIG_MISSING_SECTION_HEADER',
  /** The same option twice in one section of one file (RawConfigParser strict mode). */
  DuplicateOption: 'KL_CONFIG_DUPLICATE_OPTION',
  /** The same section header twice in one file (RawConfigParser strict mode). */
  DuplicateSection: 'KL_CONFIG_DUPLICATE_SECTION',
  /** A value that does not parse as the option's type or is outside its allowed set. */
  InvalidValue: 'KL_CONFIG_INVALID_VALUE',
  /** Two options whose values cannot be combined. */
  IncompatibleOptions: 'KL_CONFIG_INCOMPATIBLE_OPTIONS',
  /** A file named explicitly (e.g. KEYLIME_AGENT_CONFIG) does not exist. */
  FileNotFound: 'KL_CONFIG_FILE_NOT_FOUND',
  /** A file exists but cannot be read or decoded. */
  Unreadable: 'KL_CONFIG_UNREADABLE',
} as const;

export type ConfigErrorCodeValue = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

/**
 * Exit code of every keylime-ts command when its configuration is bad (design.md, "Configuration").
 * Apps print `formatConfigError(e)` to stderr and exit with this code, never with a stack trace.
 */
export const CONFIG_EXIT_CODE = 2;

/** Where a value came from: a file line, an environment variable, or the built-in default. */
export type ValueOrigin =
  | { readonly kind: 'file'; readonly file: string; readonly line?: number }
  | { readonly kind: 'env'; readonly variable: string }
  | { readonly kind: 'default' };

export interface ConfigErrorInit {
  /** Where the offending value or line came from. */
  readonly origin?: ValueOrigin;
  readonly section?: string;
  readonly option?: string;
  /** Lower-case sentence fragment, no trailing period: `expected a number, got "abc"`. */
  readonly problem: string;
  readonly cause?: unknown;
}

/** Text naming where a value came from, used as the message prefix. */
function originText(origin: ConfigErrorInit['origin']): string | undefined {
  if (origin === undefined) return undefined;
  switch (origin.kind) {
    case 'file':
      return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
    case 'env':
      return `environment variable ${origin.variable}`;
    case 'default':
      return 'built-in default';
  }
}

/** Collapses any line breaks so the message stays one line on a terminal or in a journal. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/** A bad configuration file, line, variable or value. The message is always exactly one line. */
export class ConfigError extends KeylimeError {
  readonly origin: ConfigErrorInit['origin'];
  readonly section: string | undefined;
  readonly option: string | undefined;
  readonly problem: string;

  constructor(code: ConfigErrorCodeValue, init: ConfigErrorInit) {
    const parts: string[] = [];
    const where = originText(init.origin);
    if (where !== undefined) parts.push(where);
    if (init.section !== undefined && init.option !== undefined) {
      parts.push(`[${init.section}] ${init.option}`);
    } else if (init.section !== undefined) {
      parts.push(`[${init.section}]`);
    } else if (init.option !== undefined) {
      parts.push(init.option);
    }
    parts.push(init.problem);
    super(code, oneLine(parts.join(': ')), {
      cause: init.cause,
      details: { origin: init.origin, section: init.section, option: init.option },
    });
    this.name = 'ConfigError';
    this.origin = init.origin;
    this.section = init.section;
    this.option = init.option;
    this.problem = init.problem;
  }
}

/**
 * The one line an app prints for a failed configuration load. A ConfigError gives its own message;
 * anything else (a bug) is still reduced to one line, without a stack trace.
 */
export function formatConfigError(error: unknown): string {
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  return `configuration error: ${oneLine(errorMessage(error))}`;
}

/** Quotes a value for an error message; hides secrets and shortens long values. */
export function describeValue(value: string, option?: string): string {
  if (option !== undefined && /password|secret/i.test(option)) return '(value hidden)';
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}
