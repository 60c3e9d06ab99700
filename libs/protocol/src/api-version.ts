/**
 * @module api-version: Keylime REST API versions, their ordering and negotiation
 * (spec/agent-registrar-tenant.md §2).
 */
import { KeylimeError } from '@keylime/core';

/** A `major.minor` API version. */
export interface ApiVersion {
  readonly major: number;
  readonly minor: number;
}

/** Versions the registrar and verifier serve (upstream `keylime/api_version.py`). */
export const SERVER_SUPPORTED_VERSIONS = [
  '1.0',
  '2.0',
  '2.1',
  '2.2',
  '2.3',
  '2.4',
  '2.5',
  '2.6',
  '3.0',
] as const;
/** What the registrar and verifier report as `current_version`. */
export const SERVER_CURRENT_VERSION = '2.6';
/** Versions a pull agent serves (rust-keylime `api_versions = default`). */
export const AGENT_SUPPORTED_VERSIONS = ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'] as const;

const VERSION_RE = /^(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})$/;

/** Parses `2.6`; returns undefined for anything else (no leading zeros, no extra parts). */
export function parseApiVersion(text: string): ApiVersion | undefined {
  const m = VERSION_RE.exec(text);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]) };
}

export function formatApiVersion(v: ApiVersion): string {
  return `${v.major}.${v.minor}`;
}

/** Numeric ordering: major first, then minor (2.10 > 2.9). */
export function compareApiVersions(a: ApiVersion, b: ApiVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/**
 * The highest version both sides support, or undefined when they share none (upstream
 * `negotiate_version`). Unparseable entries are ignored.
 */
export function negotiateApiVersion(
  local: readonly string[],
  remote: readonly string[],
): string | undefined {
  const remoteSet = new Set(remote);
  let best: ApiVersion | undefined;
  for (const text of local) {
    if (!remoteSet.has(text)) continue;
    const v = parseApiVersion(text);
    if (v && (!best || compareApiVersions(v, best) > 0)) best = v;
  }
  return best ? formatApiVersion(best) : undefined;
}

/** The highest version in `versions` whose major is `major` (how `/v2` aliases `/v2.6`). */
export function latestMinor(versions: readonly string[], major: number): string | undefined {
  let best: ApiVersion | undefined;
  for (const text of versions) {
    const v = parseApiVersion(text);
    if (v && v.major === major && (!best || v.minor > best.minor)) best = v;
  }
  return best ? formatApiVersion(best) : undefined;
}

/**
 * Resolves a URL version segment (`v2.1` or `v2`, without slashes) against a supported list.
 * Returns the canonical version string, or undefined if it is not supported.
 */
export function resolveVersionSegment(
  segment: string,
  supported: readonly string[],
): string | undefined {
  const m = /^v(\d{1,4})(?:\.(\d{1,4}))?$/.exec(segment);
  if (!m) return undefined;
  if (m[2] === undefined) return latestMinor(supported, Number(m[1]));
  const text = `${Number(m[1])}.${Number(m[2])}`;
  return supported.includes(text) ? text : undefined;
}

/** Throws unless `text` is a well-formed version (for config values and CLI options). */
export function requireApiVersion(text: string, what = 'API version'): ApiVersion {
  const v = parseApiVersion(text);
  if (!v)
    throw new KeylimeError(
      'KL_PROTOCOL_BAD_VERSION',
      `${what} "${text}" is not of the form major.minor`,
    );
  return v;
}
