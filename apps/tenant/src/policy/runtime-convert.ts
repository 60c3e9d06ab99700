/**
 * @module policy/runtime-convert: legacy conversion, upstream `keylime_convert_runtime_policy`
 * (`keylime/cmd/convert_runtime_policy.py`), offered as `keylime-policy convert`.
 */
import { convertLegacyAllowlist, ImaKeyring, loadImaPublicKey, parseExcludeList, parseImaKeyring, toPythonJson, upgradeRuntimePolicy } from '@keylime/ima';
import { errorMessage } from '@keylime/core';
import * as path from 'node:path';
import { CliError, pythonNow, readText, writeOutput } from './runtime-util';

export interface ConvertOptions {
  readonly allowlist?: string;
  readonly runtimePolicy?: string;
  readonly excludelist?: string;
  readonly verificationKeys: readonly string[];
  readonly outputFile?: string;
}

/** Converts and writes the policy; upstream's progress notes go to stdout. */
export function convertRuntimePolicy(opts: ConvertOptions): Record<string, unknown> {
  if (opts.allowlist && opts.runtimePolicy) throw new CliError('Cannot provide both --allowlist and --runtime-policy!');
  if (!opts.allowlist && !opts.runtimePolicy) throw new CliError('Either --allowlist or --runtime_policy is required!');
  if (!opts.outputFile) throw new CliError('An output file path (-o, --output_file) is required to write new policy!');
  const notes: string[] = [];
  let policy: Record<string, unknown>;
  if (opts.allowlist) {
    const text = readText(opts.allowlist, 'allowlist');
    const name = path.basename(opts.allowlist);
    const isJson = (() => {
      try {
        JSON.parse(text);
        return true;
      } catch {
        return false;
      }
    })();
    notes.push(
      isJson
        ? `${name} appears to be JSON-formatted; converting to IMA policy`
        : `${name} is not JSON-formatted; attempting to convert to IMA policy from flat file format`,
    );
    try {
      policy = convertLegacyAllowlist(text, notes, pythonNow()) as unknown as Record<string, unknown>;
    } catch (e) {
      throw new CliError(`${name}: ${errorMessage(e)}`);
    }
  } else {
    const file = opts.runtimePolicy as string;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readText(file, 'runtime policy'));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(`The policy in file ${file} is not valid JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CliError(`The policy in file ${file} must be a dictionary`);
    }
    policy = upgradeRuntimePolicy(parsed as Record<string, unknown>, notes, pythonNow());
  }
  if (opts.excludelist) {
    try {
      const excl = parseExcludeList(readText(opts.excludelist, 'exclude list'));
      policy['excludes'] = [...((policy['excludes'] as string[] | undefined) ?? []), ...excl];
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new CliError(errorMessage(e));
    }
  }
  if (opts.verificationKeys.length > 0) {
    const existing = typeof policy['verification-keys'] === 'string' ? policy['verification-keys'] : '';
    let ring: ImaKeyring | undefined;
    try {
      ring = existing ? parseImaKeyring(existing) : new ImaKeyring();
    } catch {
      notes.push('Could not create IMAKeyring from JSON');
    }
    if (ring !== undefined) {
      for (const file of opts.verificationKeys) {
        try {
          const key = loadImaPublicKey(Buffer.from(readText(file, 'key file'), 'latin1'));
          if (key === undefined) notes.push(`File '${file}' is not a file with a key`);
          else ring.add(key);
        } catch (e) {
          if (e instanceof CliError) throw e;
          notes.push(`File '${file}' does not have a supported key: ${errorMessage(e)}`);
        }
      }
      policy['verification-keys'] = ring.toText();
    }
  }
  for (const n of notes) process.stdout.write(`${n}\n`);
  writeOutput(opts.outputFile, toPythonJson(policy));
  return policy;
}
