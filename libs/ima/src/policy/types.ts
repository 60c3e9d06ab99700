/** @module policy/types: the runtime policy v1 document (spec verifier.md §4.6), with wire key names. */

/** `meta.generator` values (upstream `RUNTIME_POLICY_GENERATOR`). */
export const PolicyGenerator = {
  Unknown: 0,
  EmptyAllowList: 1,
  CompatibleAllowList: 2,
  LegacyAllowList: 3,
} as const;
export type PolicyGenerator = (typeof PolicyGenerator)[keyof typeof PolicyGenerator];

export const RUNTIME_POLICY_CURRENT_VERSION = 1;

/** Log hash algorithms a policy may name in `ima.log_hash_alg`. */
export const LOG_HASH_ALGS = ['sha1', 'sha256', 'sha384', 'sha512'] as const;
export type LogHashAlg = (typeof LOG_HASH_ALGS)[number];

/** Path (or keyring / buffer name) → allowed lower-case hex digests. */
export type DigestMap = Record<string, string[]>;

export interface RuntimePolicy {
  meta: { version: number; generator: number; timestamp?: string };
  release: number;
  digests: DigestMap;
  /** Python `re` patterns, matched at the start of the path. */
  excludes: string[];
  keyrings: DigestMap;
  ima: { ignored_keyrings: string[]; log_hash_alg: LogHashAlg; dm_policy: null };
  'ima-buf': DigestMap;
  /** JSON text of an IMA keyring, or "". */
  'verification-keys': string;
}

/** A fresh copy of upstream's EMPTY_RUNTIME_POLICY. */
export function emptyRuntimePolicy(): RuntimePolicy {
  return {
    meta: { version: RUNTIME_POLICY_CURRENT_VERSION, generator: PolicyGenerator.EmptyAllowList },
    release: 0,
    digests: {},
    excludes: [],
    keyrings: {},
    ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null },
    'ima-buf': {},
    'verification-keys': '',
  };
}
