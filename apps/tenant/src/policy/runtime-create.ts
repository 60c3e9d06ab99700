/**
 * @module policy/runtime-create: `keylime-policy create runtime` (upstream
 * `keylime/policy/create_runtime_policy.py`): digests from an IMA measurement list, a directory
 * tree, legacy allowlists and a base policy, merged into one runtime policy v1.
 */
import {
  checkExclude,
  emptyRuntimePolicy,
  isHashAlg,
  loadImaPublicKey,
  parseImaKeyring,
  ImaKeyring,
  PolicyGenerator,
  toPythonJson,
  validateRuntimePolicy,
} from '@keylime/ima';
import type { HashAlg, RuntimePolicy } from '@keylime/ima';
import { errorMessage } from '@keylime/core';
import * as crypto from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { fileDigests, guessAlgFromHex } from './runtime-files';
import { CliError, mergeMapLists, pythonNow, readText, sortedUnique, toMap, toRecord, warn, writeOutput } from './runtime-util';

export const IMA_MEASUREMENT_LIST = '/sys/kernel/security/ima/ascii_runtime_measurements';
export const EMPTY_IMA_MEASUREMENT_LIST = '/dev/null';
const SHA256_OR_SM3 = 'sha256_or_sm3_256';
const INVALID = 'invalid';

export interface CreateRuntimeOptions {
  readonly algo?: string;
  readonly ramdiskDir?: string;
  readonly rootfs?: string;
  readonly skipPath?: string;
  readonly output: string;
  readonly basePolicy?: string;
  readonly keyrings: boolean;
  readonly imaBuf: boolean;
  readonly allowlist?: string;
  readonly excludelist?: string;
  /** A path, `true` for the kernel's list, or /dev/null for none. */
  readonly imaMeasurementList: string | true;
  readonly ignoredKeyrings: readonly string[];
  readonly addImaSignatureVerificationKey: readonly string[];
  readonly showLegacyAllowlist: boolean;
  readonly verbose: boolean;
}

type Debug = (message: string) => void;

/** Upstream `update_base_policy`: cherry-picks the supported fields onto a fresh policy. */
function loadBasePolicy(path: string): RuntimePolicy {
  let base: Record<string, unknown>;
  try {
    base = JSON.parse(readText(path, 'base policy')) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`An error occurred while parsing a JSON object from file ${path}: ${errorMessage(e)}`);
  }
  const policy = emptyRuntimePolicy();
  const ima = (base['ima'] ?? {}) as Record<string, unknown>;
  policy.digests = toRecord(toMap(base['digests']));
  policy.excludes = sortedUnique(Array.isArray(base['excludes']) ? base['excludes'].map(String) : []);
  policy.keyrings = toRecord(toMap(base['keyrings']));
  policy['ima-buf'] = toRecord(toMap(base['ima-buf']));
  policy.ima.log_hash_alg = (ima['log_hash_alg'] ?? 'sha1') as RuntimePolicy['ima']['log_hash_alg'];
  policy.ima.ignored_keyrings = sortedUnique(Array.isArray(ima['ignored_keyrings']) ? ima['ignored_keyrings'].map(String) : []);
  policy['verification-keys'] = typeof base['verification-keys'] === 'string' ? base['verification-keys'] : '';
  try {
    return validateRuntimePolicy(policy);
  } catch (e) {
    throw new CliError(`Could not convert the provided base policy to a valid runtime policy: ${errorMessage(e)}`);
  }
}

/** Upstream `process_flat_allowlist`: "<hash> <path>" lines, spaces in paths become '_'. */
function flatAllowlist(path: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of readText(path, 'allowlist').split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (m === null) continue;
    const key = (m[2] as string).replace(/ /g, '_');
    out.set(key, [...(out.get(key) ?? []), m[1] as string]);
  }
  return out;
}

/** Upstream `process_ima_sig_ima_ng_line` on the first line: the boot_aggregate algorithm. */
function bootAggregateAlg(listText: string): string {
  const line = listText.split('\n')[0] ?? '';
  const pieces = line.split(' ');
  if (pieces.length < 5 || !['ima-sig', 'ima-ng', 'ima'].includes(pieces[2] as string)) return INVALID;
  if (pieces[4] !== 'boot_aggregate') return INVALID;
  const parts = (pieces[3] as string).split(':');
  if (parts.length === 2) {
    const [alg, hex] = parts as [string, string];
    if (!isHashAlg(alg)) return INVALID;
    return guessAlgFromHex(hex, alg) === INVALID ? INVALID : alg;
  }
  return guessAlgFromHex(parts[0] as string);
}

/** Upstream `get_hashes_from_measurement_list` (ima-ng and ima-sig entries only). */
function measurementListDigests(listText: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of listText.split('\n')) {
    const pieces = line.split(' ');
    if (pieces.length < 5 || (pieces[2] !== 'ima-sig' && pieces[2] !== 'ima-ng')) continue;
    const hash = (pieces[3] as string).split(':')[1];
    if (hash === undefined) continue;
    const path = pieces[4] as string;
    out.set(path, [...(out.get(path) ?? []), hash]);
  }
  return out;
}

function isCertificate(hex: string): boolean {
  try {
    new crypto.X509Certificate(Buffer.from(hex, 'hex'));
    return true;
  } catch {
    return false;
  }
}

/** Upstream `process_ima_buf_in_measurement_list`: key entries → keyrings, others → ima-buf. */
function imaBufEntries(listText: string, policy: RuntimePolicy, opts: CreateRuntimeOptions): void {
  const keyrings = toMap(policy.keyrings);
  const imaBuf = toMap(policy['ima-buf']);
  for (const line of listText.split('\n')) {
    const pieces = line.split(' ');
    if (pieces.length !== 6 || pieces[2] !== 'ima-buf') continue;
    const hash = (pieces[3] as string).split(':')[1];
    if (hash === undefined) continue;
    const name = pieces[4] as string;
    const target = isCertificate((pieces[5] as string).trim()) ? (opts.keyrings && !policy.ima.ignored_keyrings.includes(name) ? keyrings : undefined) : opts.imaBuf ? imaBuf : undefined;
    if (target !== undefined) target.set(name, [...(target.get(name) ?? []), hash]);
  }
  policy.keyrings = toRecord(keyrings);
  policy['ima-buf'] = toRecord(imaBuf);
}

/** Upstream's source priority: --algo > base policy > allowlist > IMA measurement list. */
function chooseAlgorithm(sources: readonly [string | undefined, string][], debug: Debug): HashAlg {
  let algo: string | undefined;
  let abort = false;
  for (const [a, source] of sources) {
    if (a === INVALID) {
      warn(`Invalid digest algorithm found in the ${source}`);
      abort = true;
      continue;
    }
    if (!a) continue;
    if (algo !== undefined) {
      if (a !== algo) {
        if (algo === SHA256_OR_SM3 && (a === 'sha256' || a === 'sm3_256')) {
          algo = a;
          debug(`Using digest algorithm '${a}' obtained from the ${source}`);
          continue;
        }
        warn(`The digest algorithm in the ${source} does not match the previously set '${algo}' algorithm`);
        abort = true;
      }
    } else {
      if (!isHashAlg(a)) {
        if (a === SHA256_OR_SM3) algo = a;
        else {
          warn(`Invalid digests algorithm ${a} in the ${source}`);
          abort = true;
        }
        continue;
      }
      algo = a;
      if (!abort) debug(`Using digest algorithm '${a}' obtained from the ${source}`);
    }
  }
  if (abort) throw new CliError('Aborting operation: inconsistent or invalid digest algorithms in the inputs');
  if (algo === undefined || algo === SHA256_OR_SM3) {
    // upstream keeps the ambiguous marker and then fails hashing; sha256 is what it meant
    debug('Using default digest algorithm sha256');
    return 'sha256';
  }
  return algo as HashAlg;
}

function firstDigestAlg(map: ReadonlyMap<string, readonly string[]>): string {
  const first = map.values().next().value?.[0];
  if (first === undefined) return INVALID;
  const alg = guessAlgFromHex(first);
  return alg === 'sha256' ? SHA256_OR_SM3 : alg;
}

/** Builds the policy (or the legacy allowlist text) and writes it to `opts.output`. */
export function createRuntimePolicy(opts: CreateRuntimeOptions): RuntimePolicy {
  const debug: Debug = opts.verbose ? (m) => process.stderr.write(`DEBUG: ${m}\n`) : () => undefined;
  let policy = emptyRuntimePolicy();
  let baseAlg: string | undefined;
  if (opts.basePolicy) {
    policy = loadBasePolicy(opts.basePolicy);
    baseAlg = firstDigestAlg(toMap(policy.digests));
  }
  if (opts.algo && !(opts.ramdiskDir || opts.rootfs)) {
    warn('You need to specify at least one of --ramdisk-dir or --rootfs to use a custom digest algorithm');
  }
  let allowlistDigests = new Map<string, string[]>();
  let allowlistAlg: string | undefined;
  if (opts.allowlist) {
    allowlistDigests = flatAllowlist(opts.allowlist);
    allowlistAlg = firstDigestAlg(allowlistDigests);
  }
  const listPath = opts.imaMeasurementList === true ? IMA_MEASUREMENT_LIST : opts.imaMeasurementList;
  let listText = '';
  let imaDigests = new Map<string, string[]>();
  let listAlg: string | undefined;
  if (listPath !== EMPTY_IMA_MEASUREMENT_LIST) {
    debug(`Measurement list is ${listPath}`);
    if (!existsSync(listPath) || !statSync(listPath).isFile()) {
      throw new CliError(`The IMA measurement list file '${listPath}' does not seem to exist`);
    }
    listText = readText(listPath, 'IMA measurement list');
    listAlg = bootAggregateAlg(listText);
    imaDigests = measurementListDigests(listText);
  }
  if (opts.ramdiskDir) throw new CliError('--ramdisk-dir (initrd extraction) is not supported by this keylime-policy');
  const algo = chooseAlgorithm(
    [
      [opts.algo, '--algo option'],
      [baseAlg, 'base policy'],
      [allowlistAlg, 'allowlist'],
      [listAlg, 'IMA measurement list'],
    ],
    debug,
  );
  const rootfsDigests = opts.rootfs ? fileDigests(opts.rootfs, opts.skipPath ?? '', algo, debug) : new Map<string, string[]>();

  const digests = toMap(policy.digests);
  for (const d of [allowlistDigests, imaDigests, rootfsDigests]) mergeMapLists(digests, d);
  policy.digests = toRecord(digests);

  if (opts.excludelist) {
    for (const raw of readText(opts.excludelist, 'exclude list').split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      const reason = checkExclude(line);
      if (reason !== undefined) throw new CliError(`Bad IMA exclude list rule '${line}': ${reason}`);
      policy.excludes.push(line);
    }
  }
  policy.ima.ignored_keyrings.push(...opts.ignoredKeyrings);
  if (opts.keyrings || opts.imaBuf) imaBufEntries(listText, policy, opts);
  addVerificationKeys(policy, opts.addImaSignatureVerificationKey);

  for (const key of ['digests', 'ima-buf', 'keyrings'] as const) {
    policy[key] = Object.fromEntries(Object.entries(policy[key]).map(([k, v]) => [k, sortedUnique(v)]));
  }
  policy.excludes = sortedUnique(policy.excludes);
  policy.ima.ignored_keyrings = sortedUnique(policy.ima.ignored_keyrings);
  policy.meta.generator = PolicyGenerator.LegacyAllowList;
  policy.meta.timestamp = pythonNow();
  try {
    validateRuntimePolicy(policy);
  } catch (e) {
    throw new CliError(`Base policy is not a valid runtime policy: ${errorMessage(e)}`);
  }
  writeOutput(opts.output, opts.showLegacyAllowlist ? legacyAllowlist(policy.digests) : toPythonJson(policy));
  return policy;
}

/** Upstream `process_signature_verification_keys`: keys added to the policy's keyring text. */
function addVerificationKeys(policy: RuntimePolicy, files: readonly string[]): void {
  if (files.length === 0) return;
  let ring: ImaKeyring | undefined;
  try {
    ring = policy['verification-keys'] ? parseImaKeyring(policy['verification-keys']) : new ImaKeyring();
  } catch (e) {
    throw new CliError(`Could not create IMA Keyring from JSON: ${errorMessage(e)}`);
  }
  if (ring === undefined) return;
  for (const file of files) {
    try {
      const key = loadImaPublicKey(Buffer.from(readText(file, 'key file'), 'latin1'));
      if (key === undefined) warn(`File '${file}' is not a file with a key`);
      else ring.add(key);
    } catch (e) {
      if (e instanceof CliError) throw e;
      warn(`File '${file}' does not have a supported key: ${errorMessage(e)}`);
    }
  }
  policy['verification-keys'] = ring.toText();
}

/** `<digest>  <file>` lines, boot_aggregate first (upstream `print_digests_legacy_format`). */
function legacyAllowlist(digests: Record<string, string[]>): string {
  const lines: string[] = [];
  for (const d of digests['boot_aggregate'] ?? []) lines.push(`${d}  boot_aggregate`);
  for (const [name, list] of Object.entries(digests)) {
    if (name === 'boot_aggregate') continue;
    for (const d of list) lines.push(`${d}  ${name}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}
