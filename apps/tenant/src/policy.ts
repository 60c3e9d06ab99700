/**
 * @module policy: entry point of `keylime-policy`, upstream's policy tool (create, sign and
 * convert runtime and measured-boot policies).
 */
import { Command, CommanderError } from 'commander';
import { registerMeasuredBootCommands } from './policy/measured-boot';
import { registerRuntimeCommands } from './policy/runtime';

function buildProgram(): Command {
  const program = new Command('keylime-policy')
    .description('Create, sign and convert Keylime runtime and measured-boot policies')
    .exitOverride();
  const create = program.command('create').description('create a policy');
  const sign = program.command('sign').description('sign a policy (DSSE)');
  const groups = { program, create, sign };
  registerRuntimeCommands(groups);
  registerMeasuredBootCommands(groups);
  return program;
}

async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    process.stderr.write(`keylime-policy: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
