/** @module policy/runtime: `keylime-policy create runtime`, `sign runtime`, `convert` (IMA). */
import { Option } from 'commander';
import type { PolicyCommandGroups } from './commands';
import { convertRuntimePolicy } from './runtime-convert';
import { createRuntimePolicy, EMPTY_IMA_MEASUREMENT_LIST, IMA_MEASUREMENT_LIST } from './runtime-create';
import { signRuntimePolicy, VALID_BACKENDS } from './runtime-sign';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

interface CreateFlags {
  algo?: string;
  ramdiskDir?: string;
  rootfs?: string;
  skipPath?: string;
  output: string;
  basePolicy?: string;
  keyrings: boolean;
  imaBuf: boolean;
  allowlist?: string;
  excludelist?: string;
  imaMeasurementList: string | true;
  ignoredKeyrings: string[];
  addImaSignatureVerificationKey: string[];
  showLegacyAllowlist: boolean;
  verbose: boolean;
}

interface SignFlags {
  output: string;
  runtimePolicy: string;
  keyfile?: string;
  keypath?: string;
  backend: string;
  certOutfile?: string;
}

interface ConvertFlags {
  allowlist?: string;
  runtime_policy?: string;
  excludelist?: string;
  verification_keys: string[];
  output_file?: string;
}

/** Registers the runtime (IMA) policy commands with upstream's option names. */
export function registerRuntimeCommands(groups: PolicyCommandGroups): void {
  groups.create
    .command('runtime')
    .description('create runtime policies')
    .addOption(new Option('--algo <algo>', 'checksum algorithm to be used').choices(['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256']))
    .option('--ramdisk-dir <dir>', 'path to where the initrds are located, e.g.: /boot')
    .option('--rootfs <dir>', 'path to the root filesystem, e.g.: /')
    .option('-s, --skip-path <dirs>', 'comma-separated list of directories; files found there will not have their checksums calculated')
    .option('-o, --output <file>', 'output file (defaults to stdout)', '/dev/stdout')
    .option('-p, --base-policy <file>', 'Merge new data into the given JSON runtime policy')
    .option('-k, --keyrings', 'Create keyrings policy entries', false)
    .option('-b, --ima-buf', 'Process ima-buf entries other than those related to keyrings', false)
    .option('-a, --allowlist <file>', 'Read checksums from the given plain-text allowlist')
    .option('-e, --excludelist <file>', 'An IMA exclude list file whose contents will be added to the policy')
    .option(
      '-m, --ima-measurement-list [file]',
      `Use an IMA measurement list for hash, keyring, and critical data extraction. If a list is not specified, it uses ${IMA_MEASUREMENT_LIST}. Use ${EMPTY_IMA_MEASUREMENT_LIST} for an empty list.`,
      EMPTY_IMA_MEASUREMENT_LIST,
    )
    .option('--ignored-keyrings <keyring>', 'Ignores the given keyring; this option may be passed multiple times', collect, [])
    .option('--add-ima-signature-verification-key <file>', "Add the given IMA signature verification key to the Keylime-internal 'tenant_keyring'", collect, [])
    .option('--show-legacy-allowlist', 'Instead of the actual policy, display only the digests in the legacy allowlist format', false)
    .option('-v, --verbose', 'Set log level to DEBUG; may be helpful when diagnosing issues', false)
    .action((flags: CreateFlags) => {
      createRuntimePolicy(flags);
    });

  groups.sign
    .command('runtime')
    .description('sign runtime policies')
    .option('-o, --output <file>', 'The output file path for the DSSE-signed policy', '/dev/stdout')
    .requiredOption('-r, --runtime-policy <file>', 'The location of the runtime policy file')
    .option('-k, --keyfile <file>', 'The EC private key to sign the policy with')
    .option('-p, --keypath <file>', 'The filename to write the created private key, if one is not provided via the --keyfile argument')
    .option('-b, --backend <backend>', `DSSE backend to use; either ${VALID_BACKENDS.join(' or ')}`, 'ecdsa')
    .option('-c, --cert-outfile <file>', 'The output file path for the x509 certificate, if using x509 DSSE backend')
    .action(async (flags: SignFlags) => {
      await signRuntimePolicy(flags);
    });

  groups.program
    .command('convert')
    .description('convert a legacy allowlist / exclude list or an older runtime policy (keylime_convert_runtime_policy)')
    .option('-a, --allowlist <file>', 'allowlist file location')
    .option('-r, --runtime_policy <file>', 'Runtime policy file location')
    .option('-e, --excludelist <file>', 'exclude list file location')
    .option('-v, --verification_keys <files...>', 'list of verification key paths', [])
    .option('-o, --output_file <file>', 'Output file path')
    .action((flags: ConvertFlags) => {
      convertRuntimePolicy({
        allowlist: flags.allowlist,
        runtimePolicy: flags.runtime_policy,
        excludelist: flags.excludelist,
        verificationKeys: flags.verification_keys,
        outputFile: flags.output_file,
      });
    });
}
