/**
 * @module policy/compile: turns a validated runtime policy into lookup structures for fast
 * evaluation (digest maps, one combined exclude regex, keyring sets). Compile once per policy
 * and reuse it for every quote of every agent using that policy.
 */
import type { HashAlg } from '../hash-alg';
import { parseImaKeyring } from '../keys/keyring';
import type { ImaKeyring } from '../keys/keyring';
import { compileExcludes } from './excludes';
import type { DigestMap, RuntimePolicy } from './types';
import { validateRuntimePolicy } from './validate';

/** Allowed digests of one path; small lists stay arrays, large ones become sets. */
export interface DigestList {
  readonly list: readonly string[];
  readonly set: ReadonlySet<string> | undefined;
}

const SET_THRESHOLD = 8;

export interface CompiledRuntimePolicy {
  readonly policy: RuntimePolicy;
  readonly digests: ReadonlyMap<string, DigestList>;
  readonly keyrings: ReadonlyMap<string, DigestList>;
  readonly imaBuf: ReadonlyMap<string, DigestList>;
  /** Combined `excludes`, anchored at the start of the path; undefined when there are none. */
  readonly exclude: RegExp | undefined;
  readonly ignoredKeyrings: ReadonlySet<string>;
  /** `"*"` in ignored_keyrings. */
  readonly ignoreAllKeyrings: boolean;
  readonly logHashAlg: HashAlg;
  /** Parsed `verification-keys`, undefined when empty. */
  readonly verificationKeys: ImaKeyring | undefined;
}

export function digestListHas(d: DigestList, hex: string): boolean {
  if (d.set !== undefined) return d.set.has(hex);
  const l = d.list;
  for (let i = 0; i < l.length; i++) if (l[i] === hex) return true;
  return false;
}

function toDigestList(list: readonly string[]): DigestList {
  return { list, set: list.length > SET_THRESHOLD ? new Set(list) : undefined };
}

function compileMap(map: DigestMap): Map<string, DigestList> {
  const out = new Map<string, DigestList>();
  for (const [name, list] of Object.entries(map)) out.set(name, toDigestList(list));
  return out;
}

/**
 * Validates (unless the caller already did, `trusted: true`) and compiles a policy. Throws
 * KL_IMA_INVALID_POLICY / KL_IMA_INVALID_EXCLUDE on a bad policy.
 */
export function compileRuntimePolicy(input: unknown, options: { trusted?: boolean } = {}): CompiledRuntimePolicy {
  const policy = options.trusted ? (input as RuntimePolicy) : validateRuntimePolicy(input);
  return {
    policy,
    digests: compileMap(policy.digests),
    keyrings: compileMap(policy.keyrings),
    imaBuf: compileMap(policy['ima-buf']),
    exclude: compileExcludes(policy.excludes),
    ignoredKeyrings: new Set(policy.ima.ignored_keyrings),
    ignoreAllKeyrings: policy.ima.ignored_keyrings.includes('*'),
    logHashAlg: policy.ima.log_hash_alg,
    verificationKeys: parseImaKeyring(policy['verification-keys']),
  };
}

/** Combined lookup for `boot_aggregate`: policy digests plus values computed from a UEFI log (§4.4). */
export function withBootAggregates(base: DigestList | undefined, extra: readonly string[]): DigestList | undefined {
  if (extra.length === 0) return base;
  const merged = [...(base?.list ?? [])];
  for (const v of extra) if (!merged.includes(v)) merged.push(v);
  return toDigestList(merged);
}
