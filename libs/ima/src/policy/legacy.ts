/**
 * @module policy/legacy: conversion of legacy allowlists and exclude lists into a runtime policy
 * v1 (spec verifier.md §4.8; upstream `keylime/cmd/convert_runtime_policy.py` and the
 * allowlist/excludelist handling of `keylime-policy create runtime`).
 */
import { ImaErrorCode, imaError } from '../errors';
import { checkExclude } from './excludes';
import { emptyRuntimePolicy, PolicyGenerator, RUNTIME_POLICY_CURRENT_VERSION } from './types';
import type { DigestMap, RuntimePolicy } from './types';

/** Notes the converter prints, as upstream does, so the CLI can show them. */
export type Notes = string[];

function addTo(map: DigestMap, key: string, value: string): void {
  const list = Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
  if (list === undefined) Object.defineProperty(map, key, { value: [value], enumerable: true, writable: true, configurable: true });
  else list.push(value);
}

/**
 * Flat allowlist ("<hash> <path>" per line, split on the first whitespace) → digests and, for
 * `%keyring:<name>` paths, keyrings. Lines that do not split in two are noted and skipped.
 */
export function parseFlatAllowlist(text: string, notes: Notes = []): { digests: DigestMap; keyrings: DigestMap } {
  const digests: DigestMap = {};
  const keyrings: DigestMap = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (m === null) {
      notes.push(`Line #${i} in Allowlist does not consist of hash and file path: ${line}`);
      return;
    }
    const [, hash, path] = m as unknown as [string, string, string];
    if (path.startsWith('%keyring:')) addTo(keyrings, path.slice('%keyring:'.length), hash);
    else addTo(digests, path, hash);
  });
  return { digests, keyrings };
}

/** Legacy allowlist text (JSON with `hashes`, or flat) → runtime policy, generator LegacyAllowList. */
export function convertLegacyAllowlist(text: string, notes: Notes = [], timestamp?: string): RuntimePolicy {
  const policy = emptyRuntimePolicy();
  policy.meta.generator = PolicyGenerator.LegacyAllowList;
  if (timestamp !== undefined) policy.meta.timestamp = timestamp;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const { digests, keyrings } = parseFlatAllowlist(text, notes);
    policy.digests = digests;
    policy.keyrings = keyrings;
    return policy;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw imaError(ImaErrorCode.InvalidAllowlist, 'allowlist does not contain a valid digest list');
  }
  const o = json as Record<string, unknown>;
  if (o['digests']) throw imaError(ImaErrorCode.InvalidAllowlist, 'allowlist is already a runtime policy');
  if (!o['hashes']) throw imaError(ImaErrorCode.InvalidAllowlist, 'allowlist does not contain a valid digest list');
  const target = policy as unknown as Record<string, unknown>;
  for (const key of Object.keys(policy)) {
    if (key === 'meta') continue;
    const from = key === 'digests' ? 'hashes' : key;
    if (o[from]) target[key] = o[from];
    else notes.push(`IMA policy field '${key}' not found in allowlist; using default value`);
  }
  return policy;
}

/** Exclude list: one regex per line; blank lines and `#` comments skipped; every regex checked. */
export function parseExcludeList(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const reason = checkExclude(line);
    if (reason !== undefined) throw imaError(ImaErrorCode.InvalidExclude, `Bad IMA exclude list rule '${line}': ${reason}`);
    out.push(line);
  }
  return out;
}

/** An older-version policy rebuilt on the current skeleton (generator CompatibleAllowList); current ones unchanged. */
export function upgradeRuntimePolicy(old: Record<string, unknown>, notes: Notes = [], timestamp?: string): Record<string, unknown> {
  const meta = old['meta'] as { version?: unknown } | undefined;
  const version = typeof meta?.version === 'number' ? meta.version : 0;
  if (version >= RUNTIME_POLICY_CURRENT_VERSION) return old;
  notes.push(`Provided policy has version ${version}; latest policy has version ${RUNTIME_POLICY_CURRENT_VERSION}. Updating to latest version.`);
  const policy = emptyRuntimePolicy();
  policy.meta.generator = PolicyGenerator.CompatibleAllowList;
  if (timestamp !== undefined) policy.meta.timestamp = timestamp;
  const target = policy as unknown as Record<string, unknown>;
  for (const key of Object.keys(policy)) {
    if (key === 'meta') continue;
    if (old[key]) target[key] = old[key];
    else notes.push(`IMA policy field '${key}' not found in existing IMA policy; using default value`);
  }
  return target;
}
