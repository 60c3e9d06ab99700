/** @module tenant/errors: the user-facing failures of keylime_tenant and keylime_ca, and their exit codes. */

/** Exit codes (documented in apps/tenant/README.md); 1 and 2 are upstream's. */
export const ExitCode = {
  Ok: 0,
  /** An operation failed: unknown agent, service refused, bad quote, unreadable policy... (upstream UserError). */
  Failure: 1,
  /** Bad command line or bad configuration (argparse's and CONFIG_EXIT_CODE). */
  Usage: 2,
  /** Interrupted by SIGINT. */
  Interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * A failure explained in one line, printed without a stack trace (upstream's UserError). The
 * message never contains key material.
 */
export class UserError extends Error {
  readonly exitCode: ExitCodeValue;

  constructor(message: string, exitCode: ExitCodeValue = ExitCode.Failure) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** A bad command line: exit 2, as argparse does. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
    this.name = 'UsageError';
  }
}

/** One line for any thrown value; multi-line messages are collapsed so the output stays one line. */
export function oneLineMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
