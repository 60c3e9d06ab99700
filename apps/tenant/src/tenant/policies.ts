/**
 * @module tenant/policies: the policies an `add` or a policy command sends (spec §7.2; KR
 * cli/policies.process_policy, ima.read_runtime_policy, mba policy_load): TPM policy and mask,
 * runtime policy (plain or DSSE, checksum, signing key), legacy allowlists, measured-boot policy.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  convertLegacyAllowlist,
  ImaKeyring,
  isDsseEnvelope,
  loadImaPublicKey,
  parseExcludeList,
  validateRuntimePolicy,
  verifyDsseEnvelope,
  dssePayloadText,
} from '@keylime/ima';
import { UserError, oneLineMessage } from './errors';
import type { Reporter } from './output';
import { pyJson } from './python-format';
import {
  IMA_PCR,
  MEASUREDBOOT_PCRS,
  enforcePcrs,
  maskHas,
  maskHex,
  readTpmPolicy,
  withMaskBits,
} from './tpm-policy';
import type { TpmPolicy } from './tpm-policy';

/** The policy inputs of the command line (after URL downloads became files). */
export interface PolicyArgs {
  readonly tpmPolicy: string | undefined;
  readonly imaSignVerificationKeys: readonly string[];
  readonly allowlist: string | undefined;
  readonly imaExclude: string | undefined;
  readonly runtimePolicy: string | undefined;
  readonly runtimePolicyChecksum: string | undefined;
  readonly runtimePolicySigKey: string | undefined;
  readonly allowlistName: string | undefined;
  readonly runtimePolicyName: string | undefined;
  readonly mbPolicy: string | undefined;
  readonly mbPolicyName: string | undefined;
}

/** What process_policy returns, in the verifier's terms. */
export interface PolicyBundle {
  readonly tpmPolicy: TpmPolicy;
  /** JSON text of the measured-boot policy, or null. */
  readonly mbPolicy: string | null;
  readonly mbPolicyName: string;
  readonly runtimePolicyName: string;
  /** Deprecated tenant-side keyring JSON text, or "". */
  readonly imaSignVerificationKeys: string;
  /** base64 of the runtime policy bytes, or "". */
  readonly runtimePolicy: string;
  /** base64 of the DSSE verification key file, or "". */
  readonly runtimePolicyKey: string;
}

const DEPRECATION_TAIL =
  'Keylime has implemented support for a unified policy format, and will no longer accept separate allow/exclude lists in the near future.' +
  'A conversion script to upgrade legacy allow/exclude lists to the new format is available under keylime/cmd/convert_runtime_policy.py.';

function readPolicyFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : oneLineMessage(e);
    throw new UserError(`Cannot read ${what} ${path}: ${why}`);
  }
}

/**
 * Upstream read_runtime_policy + verify_runtime_policy: JSON, DSSE signature when signed or a key
 * is given, exclude regexes, checksum; plus a schema check so a bad policy fails here with one
 * line instead of at the verifier. Returns the file bytes and key bytes.
 */
export function readRuntimePolicy(
  path: string,
  checksum: string | undefined,
  keyFile: string | undefined,
): { policy: Buffer; key: Buffer } {
  const bytes = readPolicyFile(path, 'runtime policy');
  const key = keyFile ? readPolicyFile(keyFile, 'runtime policy signing key') : Buffer.alloc(0);
  const fail = (message: string): never => {
    throw new UserError(`Validation for runtime policy ${path} failed! Error: ${message}`);
  };
  const text = bytes.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail('Runtime policy is not valid JSON!');
  }
  const signed = isDsseEnvelope(text);
  const verifySig = keyFile !== undefined || signed;
  if (verifySig && key.length === 0)
    fail('Runtime policy signature verification required but no key was given!');
  let policyText = text;
  if (signed) {
    try {
      verifyDsseEnvelope(text, { publicKey: key.toString('utf8') });
    } catch (e) {
      fail(oneLineMessage(e));
    }
    policyText = dssePayloadText(text);
  } else if (verifySig) {
    fail('Runtime policy is not signed!');
  }
  try {
    validateRuntimePolicy(signed ? JSON.parse(policyText) : json);
  } catch (e) {
    fail(oneLineMessage(e));
  }
  const calculated = createHash('sha256').update(bytes).digest('hex');
  if (checksum && checksum !== calculated) {
    throw new UserError(
      `Checksum of runtime policy does not match! Expected ${checksum}, Calculated ${calculated}`,
    );
  }
  return { policy: bytes, key };
}

/** mba policy_load for the example engine: the file as JSON, re-dumped as Python does. */
export function loadMbPolicy(path: string): string {
  const text = readPolicyFile(path, 'measured boot policy').toString('utf8');
  try {
    return pyJson(JSON.parse(text));
  } catch {
    throw new UserError(`Invalid measured boot policy ${path}: not valid JSON`);
  }
}

/** The deprecated tenant-side keyring of IMA signature keys. */
function keyringFromFiles(files: readonly string[]): string {
  const ring = new ImaKeyring();
  for (const file of files) {
    const data = readPolicyFile(file, 'IMA signature verification key');
    let key;
    try {
      key = loadImaPublicKey(new Uint8Array(data));
    } catch (e) {
      throw new UserError(`File '${file}' does not have a supported key: ${oneLineMessage(e)}`);
    }
    if (key === undefined) throw new UserError(`File '${file}' is not a file with a key`);
    ring.add(key);
  }
  return ring.toText();
}

/** Upstream process_policy, same order of checks and mask updates, same log lines. */
export function processPolicy(
  args: PolicyArgs,
  mbRefstate: string | undefined,
  out: Reporter,
): PolicyBundle {
  let tpm = readTpmPolicy(args.tpmPolicy ?? '{}');
  out.info(`TPM PCR Mask from policy is ${maskHex(tpm.mask)}`, null);
  let imaSignVerificationKeys = '';
  let runtimePolicy = '';
  let runtimePolicyKey = '';
  let runtimePolicyName = '';
  let mbPolicyName = '';

  if (args.imaSignVerificationKeys.length > 0) {
    tpm = withMaskBits(tpm, [IMA_PCR]);
    out.warn(
      'WARNING: Verification key support in the Keylime tenant is deprecated. Provide verification keys as part of a runtime policy instead.',
    );
    imaSignVerificationKeys = keyringFromFiles(args.imaSignVerificationKeys);
  }
  if (args.allowlist !== undefined) {
    out.warn(`WARNING: --allowlist is deprecated.${DEPRECATION_TAIL}`);
    enforcePcrs(tpm, [IMA_PCR], 'IMA');
    tpm = withMaskBits(tpm, [IMA_PCR]);
    const text = readPolicyFile(args.allowlist, 'allowlist').toString('utf8');
    let policy;
    try {
      policy = convertLegacyAllowlist(text);
      if (args.imaExclude !== undefined) {
        policy.excludes = parseExcludeList(
          readPolicyFile(args.imaExclude, 'exclude list').toString('utf8'),
        );
      }
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`Invalid allowlist ${args.allowlist}: ${oneLineMessage(e)}`);
    }
    runtimePolicy = Buffer.from(pyJson(policy), 'utf8').toString('base64');
  }
  if (args.imaExclude !== undefined)
    out.warn(`WARNING: --exclude is deprecated.${DEPRECATION_TAIL}`);
  if (args.runtimePolicy !== undefined) {
    enforcePcrs(tpm, [IMA_PCR], 'IMA');
    tpm = withMaskBits(tpm, [IMA_PCR]);
    const read = readRuntimePolicy(
      args.runtimePolicy,
      args.runtimePolicyChecksum,
      args.runtimePolicySigKey,
    );
    runtimePolicy = read.policy.toString('base64');
    runtimePolicyKey = read.key.toString('base64');
  }
  if (args.allowlistName !== undefined) {
    runtimePolicyName = args.allowlistName;
    tpm = withMaskBits(tpm, [IMA_PCR]);
  }
  if (args.runtimePolicyName !== undefined) {
    runtimePolicyName = args.runtimePolicyName;
    tpm = withMaskBits(tpm, [IMA_PCR]);
  }
  let mbData: string | null = null;
  if (args.mbPolicy !== undefined) {
    enforcePcrs(tpm, MEASUREDBOOT_PCRS, 'measured boot');
    tpm = withMaskBits(tpm, MEASUREDBOOT_PCRS);
    out.info(
      `TPM PCR Mask automatically modified is ${maskHex(tpm.mask)} to include IMA/Event log PCRs`,
      null,
    );
    const path = args.mbPolicy === 'default' ? mbRefstate : args.mbPolicy;
    if (!path) throw new UserError('--mb-policy default needs mb_refstate set in tenant.conf');
    mbData = loadMbPolicy(path);
  }
  const mbPolicy = maskHas(tpm.mask, MEASUREDBOOT_PCRS[2] ?? 2) ? mbData : null;
  if (args.mbPolicyName !== undefined) {
    mbPolicyName = args.mbPolicyName;
    tpm = withMaskBits(tpm, MEASUREDBOOT_PCRS);
  }
  return {
    tpmPolicy: tpm,
    mbPolicy,
    mbPolicyName,
    runtimePolicyName,
    imaSignVerificationKeys,
    runtimePolicy,
    runtimePolicyKey,
  };
}
