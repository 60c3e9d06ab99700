/**
 * @module policy/measured-boot: `keylime-policy create measured-boot` (UEFI event logs), with
 * upstream's options (keylime/policy/create_mb_policy.py): -e/--eventlog-file, -i/--without-secureboot,
 * -o/--output. Writes the `example` policy's reference state (spec §5.5).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { Option } from 'commander';
import { createMeasuredBootRefState, normaliseEventLog, parseEventLog, replayEventLog } from '@keylime/mba';
import type { ExampleRefStateJson } from '@keylime/mba';
import type { PolicyCommandGroups } from './commands';
import { pythonJsonDumps } from './measured-boot-json';

export interface CreateMeasuredBootOptions {
  readonly eventlogFile: string;
  readonly withoutSecureboot?: boolean;
  /** Output path; `-` (default) is stdout. */
  readonly output?: string;
}

export interface CreateMeasuredBootIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: CreateMeasuredBootIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

export function registerMeasuredBootCommands(groups: PolicyCommandGroups): void {
  groups.create
    .command('measured-boot')
    .description('create measured boot reference state policy')
    .requiredOption('-e, --eventlog-file <path>', 'Binary UEFI eventlog (Normally /sys/kernel/security/tpm0/binary_bios_measurements)')
    .addOption(
      new Option('-i, --without-secureboot', 'Set if you want to create a measured boot reference state policy without SecureBoot (only MeasuredBoot)'),
    )
    .option('-o, --output <path>', "Output path for the generated measured boot policy, use '-' for stdout", '-')
    .configureOutput({ outputError: (text, write) => write(`keylime-policy: ${text.replace(/^error: /, '')}`) })
    .action(async (opts: CreateMeasuredBootOptions) => {
      await createMeasuredBootPolicy(opts);
    });
}

/**
 * Reads the log, builds the refstate and writes it as upstream does (Python json.dump, no newline).
 * Throws Error with a one-line reason; the entry point prints it as `keylime-policy: <reason>`.
 */
export async function createMeasuredBootPolicy(opts: CreateMeasuredBootOptions, io: CreateMeasuredBootIo = processIo): Promise<ExampleRefStateJson> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(opts.eventlogFile));
  } catch (e) {
    throw new Error(`cannot read event log ${opts.eventlogFile}: ${reason(e)}`);
  }
  let json;
  try {
    const log = parseEventLog(bytes);
    json = normaliseEventLog(log, replayEventLog(log));
  } catch (e) {
    throw new Error(`Parsing of binary boot measurements (${opts.eventlogFile}) failed with: ${reason(e)}`);
  }
  // Generation refusals (Secure Boot off without -i, wrong number of boot applications) keep upstream's text.
  const created = createMeasuredBootRefState(json, { withoutSecureBoot: opts.withoutSecureboot === true });
  for (const w of created.warnings) io.stderr(`keylime-policy: warning: ${w}\n`);
  const text = pythonJsonDumps(created.refstate);
  const output = opts.output ?? '-';
  if (output === '-') io.stdout(text);
  else {
    try {
      await writeFile(output, text, 'utf8');
    } catch (e) {
      throw new Error(`cannot write ${output}: ${reason(e)}`);
    }
  }
  return created.refstate;
}

function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0] ?? text;
}
