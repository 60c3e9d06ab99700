/**
 * @module tenant/cli-runner: the frame of keylime_tenant and keylime_ca: every failure becomes one
 * line and an exit code (README "Exit codes"), never a stack trace; SIGINT exits 130.
 */
import { CONFIG_EXIT_CODE, ConfigError, formatConfigError } from '@keylime/config';
import { ExitCode, UserError, oneLineMessage } from './errors';
import type { Reporter } from './output';

/** Maps a thrown value to its line and exit code. */
export function describeFailure(e: unknown): { message: string; exitCode: number } {
  if (e instanceof ConfigError)
    return { message: formatConfigError(e), exitCode: CONFIG_EXIT_CODE };
  if (e instanceof UserError) return { message: oneLineMessage(e), exitCode: e.exitCode };
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('KL_CONFIG')) {
    return { message: formatConfigError(e), exitCode: CONFIG_EXIT_CODE };
  }
  return { message: oneLineMessage(e), exitCode: ExitCode.Failure };
}

/**
 * Runs `body` and sets process.exitCode. The reporter may be created late (it depends on the
 * parsed options), so it is looked up when a failure happens.
 */
export async function runCli(
  program: string,
  body: () => Promise<void>,
  reporter: () => Reporter | undefined,
): Promise<number> {
  const onSigint = (): void => {
    reporter()?.close();
    process.stderr.write(`\n${program}: interrupted\n`);
    process.exit(ExitCode.Interrupted);
  };
  process.once('SIGINT', onSigint);
  try {
    await body();
    reporter()?.close();
    return ExitCode.Ok;
  } catch (e) {
    const { message, exitCode } = describeFailure(e);
    const out = reporter();
    if (out) {
      out.fail(message, program);
      out.close();
    } else {
      process.stderr.write(`${program}: ${message}\n`);
    }
    return exitCode;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
