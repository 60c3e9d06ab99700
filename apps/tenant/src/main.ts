/** @module main: entry point of `keylime_tenant`, upstream's tenant CLI (see tenant/commands.ts). */
import { parseTenantArgs } from './tenant/args';
import { runCli } from './tenant/cli-runner';
import { runTenant } from './tenant/commands';
import { chooseOutputMode, createReporter, processSink } from './tenant/output';
import type { Reporter } from './tenant/output';

async function main(argv: readonly string[]): Promise<number> {
  let out: Reporter | undefined;
  const json = argv.includes('--json');
  return runCli(
    'keylime_tenant',
    async () => {
      // The reporter exists before parsing so that usage errors use the chosen output too.
      out = createReporter({
        mode: chooseOutputMode(json, process.stdout.isTTY === true),
        sink: processSink(),
        loggerName: 'keylime.tenant',
      });
      const args = parseTenantArgs(argv);
      if (args === undefined) {
        out = undefined;
        return;
      }
      await runTenant(args, process.env, out);
    },
    () => out,
  );
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
