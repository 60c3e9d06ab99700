/** @module ca: entry point of `keylime_ca`, upstream's Keylime CA tool (see ca/cli.ts). */
import { parseCaArgs, runCaCommand } from './ca/cli';
import { runCli } from './tenant/cli-runner';
import { chooseOutputMode, createReporter, processSink } from './tenant/output';
import type { Reporter } from './tenant/output';

async function main(argv: readonly string[]): Promise<number> {
  let out: Reporter | undefined;
  return runCli(
    'keylime_ca',
    async () => {
      const args = parseCaArgs(argv);
      if (args === undefined) return;
      out = createReporter({
        mode: chooseOutputMode(args.json, process.stdout.isTTY === true),
        sink: processSink(),
        loggerName: 'keylime.ca-util',
      });
      // umask as upstream: keys and certificates are never world-readable.
      process.umask(0o077);
      await runCaCommand(args, process.env, out);
    },
    () => out,
  );
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
