/**
 * @module tenant/args: keylime_tenant's command line, with upstream's option names (argparse,
 * KR keylime/tenant.py main) including single-dash long forms (`-tp`, `-vp`, `-rp`, `-vi`, `-nvc`),
 * underscore spellings and argparse's unambiguous-prefix abbreviations.
 */
import { Command, CommanderError, Option } from 'commander';
import { UsageError } from './errors';

/** Every `-c` command upstream accepts (deprecated allowlist aliases included). */
export const TENANT_COMMANDS = [
  'add',
  'delete',
  'update',
  'regstatus',
  'cvstatus',
  'status',
  'reglist',
  'cvlist',
  'reactivate',
  'regdelete',
  'bulkinfo',
  'addruntimepolicy',
  'showruntimepolicy',
  'deleteruntimepolicy',
  'updateruntimepolicy',
  'listruntimepolicy',
  'addmbpolicy',
  'showmbpolicy',
  'deletembpolicy',
  'updatembpolicy',
  'listmbpolicy',
  'addallowlist',
  'showallowlist',
  'deleteallowlist',
] as const;

export const DEFAULT_AGENT_UUID = 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000';

/** The parsed command line (argparse `dest` names in camelCase). */
export interface TenantArgs {
  readonly command: string;
  readonly pushModel: boolean;
  readonly agentIp: string | undefined;
  readonly agentPort: string | undefined;
  readonly registrarIp: string | undefined;
  readonly registrarPort: string | undefined;
  readonly cvAgentIp: string | undefined;
  readonly verifierIp: string | undefined;
  readonly verifierPort: string | undefined;
  readonly verifierId: string | undefined;
  readonly verifierCheck: boolean;
  readonly agentUuid: string | undefined;
  readonly file: string | undefined;
  readonly caDir: string | undefined;
  readonly keyfile: string | undefined;
  readonly payload: string | undefined;
  readonly inclDir: string | undefined;
  readonly allowlist: string | undefined;
  readonly runtimePolicy: string | undefined;
  readonly imaSignVerificationKeys: readonly string[];
  readonly imaSignVerificationKeySigs: readonly string[];
  readonly imaSignVerificationKeySigKeys: readonly string[];
  readonly imaSignVerificationKeyUrls: readonly string[];
  readonly imaSignVerificationKeySigUrls: readonly string[];
  readonly imaSignVerificationKeySigUrlKeys: readonly string[];
  readonly mbPolicy: string | undefined;
  readonly allowlistUrl: string | undefined;
  readonly imaExclude: string | undefined;
  readonly runtimePolicyChecksum: string | undefined;
  readonly runtimePolicySigKey: string | undefined;
  readonly runtimePolicyUrl: string | undefined;
  readonly tpmPolicy: string | undefined;
  readonly verify: boolean;
  readonly allowlistName: string | undefined;
  readonly runtimePolicyName: string | undefined;
  readonly mbPolicyName: string | undefined;
  readonly agentApiVersion: string | undefined;
  readonly supportedVersion: string | undefined;
  /** Ours: force one JSON document on stdout. */
  readonly json: boolean;
}

/** A value option: flags as commander takes them, the argparse dest, and help. */
interface ValueOption {
  readonly flags: string;
  readonly key: keyof TenantArgs;
  readonly help: string;
  readonly repeat?: boolean;
}

const VALUE_OPTIONS: readonly ValueOption[] = [
  {
    flags: '-c, --command <command>',
    key: 'command',
    help: `one of ${TENANT_COMMANDS.slice(0, 21).join(', ')} (default add)`,
  },
  {
    flags: '-t, --targethost <ip>',
    key: 'agentIp',
    help: 'the IP address of the host to provision',
  },
  {
    flags: '--targetport <port>',
    key: 'agentPort',
    help: 'the port of the host to provision (also -tp)',
  },
  {
    flags: '-r, --registrarhost <ip>',
    key: 'registrarIp',
    help: 'the IP address of the registrar',
  },
  {
    flags: '--registrarport <port>',
    key: 'registrarPort',
    help: 'the port of the registrar (also -rp)',
  },
  {
    flags: '--cv_targethost <ip>',
    key: 'cvAgentIp',
    help: 'the agent address the verifier should use, if different from -t',
  },
  { flags: '-v, --cv <ip>', key: 'verifierIp', help: 'the IP address of the cloud verifier' },
  {
    flags: '--cvport <port>',
    key: 'verifierPort',
    help: 'the port of the cloud verifier (also -vp)',
  },
  {
    flags: '--cvid <id>',
    key: 'verifierId',
    help: 'the unique identifier of a cloud verifier (also -vi)',
  },
  { flags: '-u, --uuid <id>', key: 'agentUuid', help: 'UUID of the agent' },
  {
    flags: '-f, --file <path>',
    key: 'file',
    help: 'deliver the specified plaintext to the provisioned agent',
  },
  {
    flags: '--cert <ca_dir>',
    key: 'caDir',
    help: 'create and deliver a certificate package from a keylime_ca directory ("default" for the standard one)',
  },
  {
    flags: '-k, --key <path>',
    key: 'keyfile',
    help: 'an intermediate key file (K, U, V as base64 lines)',
  },
  {
    flags: '-p, --payload <path>',
    key: 'payload',
    help: 'the encrypted payload to deliver with the keys given by -k',
  },
  {
    flags: '--include <dir>',
    key: 'inclDir',
    help: 'add the files of this directory to the --cert package',
  },
  {
    flags: '--allowlist <path>',
    key: 'allowlist',
    help: 'DEPRECATED: a legacy allowlist (converted to a runtime policy)',
  },
  {
    flags: '--runtime-policy <path>',
    key: 'runtimePolicy',
    help: 'the file path of a runtime policy',
  },
  {
    flags: '--signature-verification-key <path>',
    key: 'imaSignVerificationKeys',
    help: 'DEPRECATED: an IMA file signature verification key',
    repeat: true,
  },
  {
    flags: '--signature-verification-key-sig <path>',
    key: 'imaSignVerificationKeySigs',
    help: 'DEPRECATED: GPG signature of a verification key',
    repeat: true,
  },
  {
    flags: '--signature-verification-key-sig-key <path>',
    key: 'imaSignVerificationKeySigKeys',
    help: 'DEPRECATED: GPG key for --signature-verification-key-sig',
    repeat: true,
  },
  {
    flags: '--signature-verification-key-url <url>',
    key: 'imaSignVerificationKeyUrls',
    help: 'DEPRECATED: URL of a verification key',
    repeat: true,
  },
  {
    flags: '--signature-verification-key-sig-url <url>',
    key: 'imaSignVerificationKeySigUrls',
    help: 'DEPRECATED: URL of the GPG signature of a verification key',
    repeat: true,
  },
  {
    flags: '--signature-verification-key-sig-url-key <path>',
    key: 'imaSignVerificationKeySigUrlKeys',
    help: 'DEPRECATED: GPG key for --signature-verification-key-sig-url',
    repeat: true,
  },
  {
    flags: '--mb-policy <path>',
    key: 'mbPolicy',
    help: 'the measured boot policy ("default" = tenant.conf mb_refstate; also --mb_refstate)',
  },
  {
    flags: '--allowlist-url <url>',
    key: 'allowlistUrl',
    help: 'DEPRECATED: URL of a legacy allowlist',
  },
  {
    flags: '--exclude <path>',
    key: 'imaExclude',
    help: 'DEPRECATED: an IMA exclude list for --allowlist',
  },
  {
    flags: '--runtime-policy-checksum <sha256>',
    key: 'runtimePolicyChecksum',
    help: 'SHA-256 checksum of the runtime policy',
  },
  {
    flags: '--runtime-policy-sig-key <path>',
    key: 'runtimePolicySigKey',
    help: 'public key that verifies a signed (DSSE) runtime policy',
  },
  {
    flags: '--runtime-policy-url <url>',
    key: 'runtimePolicyUrl',
    help: 'URL of a runtime policy (needs --runtime-policy-checksum)',
  },
  {
    flags: '--tpm_policy <json>',
    key: 'tpmPolicy',
    help: 'TPM policy as JSON, e.g. {"15":"0000…"}',
  },
  {
    flags: '--allowlist-name <name>',
    key: 'allowlistName',
    help: 'DEPRECATED: name of the allowlist',
  },
  {
    flags: '--runtime-policy-name <name>',
    key: 'runtimePolicyName',
    help: 'name of the runtime policy',
  },
  {
    flags: '--mb-policy-name <name>',
    key: 'mbPolicyName',
    help: 'name of the measured boot policy',
  },
  {
    flags: '--agent-api-version <version>',
    key: 'agentApiVersion',
    help: 'API version for agent communication (detected by default)',
  },
  {
    flags: '--supported-version <version>',
    key: 'supportedVersion',
    help: 'DEPRECATED: use --agent-api-version',
  },
];

const FLAG_OPTIONS: readonly { flags: string; key: keyof TenantArgs; help: string }[] = [
  { flags: '--push-model', key: 'pushModel', help: 'push model: do not contact the agent' },
  {
    flags: '--verify',
    key: 'verify',
    help: 'wait for the agent to prove it derived the key (needs -f, -k or --cert)',
  },
  { flags: '--json', key: 'json', help: 'print the result as one JSON document' },
];

/** Upstream spellings commander cannot express, rewritten before parsing. */
const ALIASES: Readonly<Record<string, string>> = {
  '-tp': '--targetport',
  '-rp': '--registrarport',
  '-vp': '--cvport',
  '-vi': '--cvid',
  '-nvc': '--no-verifier-check',
  '--no-verifier-check': '--no-verifier-check',
  '--sign_verification_key': '--signature-verification-key',
  '--mb_refstate': '--mb-policy',
  '--supported_version': '--supported-version',
};

function longNames(): string[] {
  const names = [...VALUE_OPTIONS, ...FLAG_OPTIONS].map((o) => /--[\w-]+/.exec(o.flags)?.[0] ?? '');
  return [...names, '--no-verifier-check', '--help', '--sign_verification_key', '--mb_refstate'];
}

/**
 * Rewrites upstream spellings into what commander parses: single-dash long options, `=` forms
 * of them, underscore aliases, and argparse's unique-prefix abbreviations of long options.
 */
export function normalizeArgv(argv: readonly string[]): string[] {
  const known = longNames();
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const rest = eq > 0 ? arg.slice(eq) : '';
    const alias = ALIASES[name];
    if (alias !== undefined) {
      out.push(alias + rest);
      continue;
    }
    if (name.startsWith('--') && !known.includes(name)) {
      const candidates = known.filter((k) => k.startsWith(name));
      const unique = [...new Set(candidates.map((c) => ALIASES[c] ?? c))];
      if (unique.length === 1) {
        out.push((unique[0] ?? name) + rest);
        continue;
      }
      if (unique.length > 1) {
        throw new UsageError(
          `error: ambiguous option: ${name} could match ${candidates.join(', ')}`,
        );
      }
    }
    out.push(arg);
  }
  return out;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The commander program (exported for --help text tests). */
export function buildTenantProgram(): Command {
  const program = new Command('keylime_tenant')
    .description(
      'Keylime tenant: enrol agents with the verifier and inspect the registrar and verifier',
    )
    .helpOption('-h, --help', 'show this help message and exit')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) });
  for (const o of VALUE_OPTIONS) {
    const opt = new Option(o.flags, o.help);
    if (o.repeat) opt.argParser(collect).default([]);
    program.addOption(opt);
  }
  for (const o of FLAG_OPTIONS) program.addOption(new Option(o.flags, o.help));
  program.addOption(
    new Option(
      '--no-verifier-check',
      'skip the check that the agent is served by this verifier (delete, reactivate; also -nvc)',
    ),
  );
  return program;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** What commander stores each option under (its camelCase of the long name). */
function attributeName(flags: string): string {
  const long = /--([\w-]+)/.exec(flags)?.[1] ?? '';
  return long.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Parses keylime_tenant's arguments. Throws UsageError (exit 2) for unknown options, missing
 * values and upstream's option conflicts (KR keylime/cli/options.py get_opts_error); returns
 * undefined after printing --help.
 */
export function parseTenantArgs(argv: readonly string[]): TenantArgs | undefined {
  const program = buildTenantProgram();
  try {
    program.parse(normalizeArgv(argv), { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return undefined;
      throw new UsageError(e.message.replace(/^error: /, 'error: '));
    }
    throw e;
  }
  const o = program.opts<Record<string, unknown>>();
  const values: Record<string, unknown> = {};
  for (const opt of VALUE_OPTIONS) {
    const raw = o[attributeName(opt.flags)];
    values[opt.key] = opt.repeat ? list(raw) : str(raw);
  }
  const args: TenantArgs = {
    ...(values as Omit<TenantArgs, 'command' | 'pushModel' | 'verify' | 'json' | 'verifierCheck'>),
    command: str(values['command']) ?? 'add',
    pushModel: o['pushModel'] === true,
    verify: o['verify'] === true,
    json: o['json'] === true,
    verifierCheck: o['verifierCheck'] !== false,
  };
  const problem = optionsError(args);
  if (problem !== undefined) throw new UsageError(`error: ${problem}`);
  return args;
}

/** Upstream's get_opts_error, same messages. */
export function optionsError(args: TenantArgs): string | undefined {
  if (
    (args.command === 'addallowlist' || args.command === 'addruntimepolicy') &&
    !(args.allowlist || args.allowlistUrl || args.runtimePolicy || args.runtimePolicyUrl)
  ) {
    return '--allowlist or --runtime_policy is required to add a runtime policy';
  }
  if (args.imaExclude && !args.allowlist) return '--exclude cannot be used without an --allowlist';
  if (args.allowlist && args.allowlistUrl)
    return '--allowlist and --allowlist-url cannot be specified at the same time';
  if (args.runtimePolicy && args.runtimePolicyUrl)
    return '--runtime_policy and --runtime_policy-url cannot be specified at the same time';
  if (args.runtimePolicyUrl && !args.runtimePolicyChecksum)
    return '--runtime_policy-url must have --runtime_policy-checksum to verifier integrity';
  if (args.runtimePolicyChecksum && !(args.runtimePolicyUrl || args.runtimePolicy))
    return '--runtime_policy-checksum must have either --runtime_policy or --runtime_policy-url';
  return undefined;
}
