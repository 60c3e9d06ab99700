/**
 * @module example-checks: field-level checks the `example` policy applies to events (spec §5.6),
 * each returning '' to accept or an English reason, like upstream's elchecking tests.
 */
import { createHash } from 'node:crypto';
import type { Digest, Signature } from './example-refstate';
import { isJsonObject } from './json';
import type { JsonObject, JsonValue } from './json';

/** Hash algorithms upstream knows (keylime.common.algorithms.Hash) that Node can compute. */
const HASHES = ['sha1', 'sha256', 'sha384', 'sha512'] as const;

/** Good digests per algorithm. */
export type DigestSet = ReadonlyMap<string, ReadonlySet<string>>;

export function digestSet(digests: readonly Digest[]): DigestSet {
  const out = new Map<string, Set<string>>();
  for (const d of digests) for (const [alg, h] of d) out.set(alg, (out.get(alg) ?? new Set()).add(h));
  return out;
}

/** Every known hash of `data`, as a one-entry DigestSet per algorithm. */
export function digestsOfData(data: Uint8Array): DigestSet {
  return new Map(HASHES.map((alg) => [alg, new Set([createHash(alg).update(data).digest('hex')])]));
}

/** Passes when some digest of the event, of an algorithm `good` lists, is in `good` (DigestsTest). */
export function approvedDigest(ev: JsonValue | undefined, good: DigestSet): string {
  if (!isJsonObject(ev)) return 'is not a dict';
  const list = ev['Digests'];
  if (list === undefined) return 'has no Digests';
  if (!Array.isArray(list)) return 'Digests is not a list';
  for (const [i, d] of list.entries()) {
    if (!isJsonObject(d)) return `Digests[${i}] is not a dict`;
    const alg = d['AlgorithmId'];
    const hash = d['Digest'];
    if (typeof alg !== 'string') return `Digests[${i}].AlgorithmId is not a str`;
    if (typeof hash !== 'string') return `Digests[${i}].Digest is not a str`;
    if (good.get(alg)?.has(hash) === true) return '';
  }
  return `has no digest approved by ${describe(good)}`;
}

function describe(good: DigestSet): string {
  return `{${[...good].map(([alg, s]) => `'${alg}': {${[...s].map((h) => `'${h}'`).join(', ')}}`).join(', ')}}`;
}

/** The `Event` member as an object, or a reason. */
export function eventObject(ev: JsonObject): JsonObject | string {
  const e = ev['Event'];
  if (e === undefined) return "has no 'Event' field";
  return isJsonObject(e) ? e : 'Event is not a dict';
}

/** `Event.String` of an EV_IPL event, or a reason. */
export function iplString(ev: JsonObject): string | { readonly reason: string } {
  const e = eventObject(ev);
  if (typeof e === 'string') return { reason: e };
  const s = e['String'];
  if (s === undefined) return { reason: "Event has no 'String' field" };
  return typeof s === 'string' ? s : { reason: 'Event String is not a str' };
}

/** Every entry of `list` is one of `allowed` (SignatureSetMember over IterateTest). */
export function signaturesAllowed(list: JsonValue | undefined, allowed: readonly Signature[]): string {
  if (!Array.isArray(list)) return 'is not a list';
  for (const [i, s] of list.entries()) {
    if (!isJsonObject(s)) return `[${i}] is not a dict`;
    if (!allowed.some((a) => a.owner === s['SignatureOwner'] && a.data === s['SignatureData'])) {
      return allowed.length === 0 ? `[${i}] does not pass empty disjunction` : `[${i}] ${JSON.stringify(s['SignatureOwner'])} key is not in the reference state`;
    }
  }
  return '';
}

/** Every signature list has one of `types` and only allowed keys (KeySubset / KeySubsetMulti). */
export function keySubset(data: JsonValue | undefined, types: readonly string[], allowed: readonly Signature[]): string {
  if (!Array.isArray(data)) return 'is not a list';
  for (const [i, l] of data.entries()) {
    if (!isJsonObject(l)) return `[${i}] is not a dict`;
    const t = l['SignatureType'];
    if (typeof t !== 'string' || !types.includes(t)) return `[${i}] SignatureType is not one of ${types.join(', ')}`;
    const why = signaturesAllowed(l['Keys'], allowed);
    if (why !== '') return `[${i}] Keys ${why}`;
  }
  return '';
}

/** Exactly one signature list, of `type`, whose keys include every required one (KeySuperset). */
export function keySuperset(data: JsonValue | undefined, types: readonly string[], required: readonly Signature[]): string {
  if (!Array.isArray(data)) return 'is not a list';
  if (data.length !== 1) return `has ${data.length} signature lists, expected exactly 1`;
  const l = data[0];
  if (!isJsonObject(l)) return '[0] is not a dict';
  const t = l['SignatureType'];
  if (typeof t !== 'string' || !types.includes(t)) return `[0] SignatureType is not one of ${types.join(', ')}`;
  const keys = l['Keys'];
  if (!Array.isArray(keys)) return '[0] Keys is not a list';
  const have = new Set<string>();
  for (const k of keys) {
    if (!isJsonObject(k) || Object.keys(k).length !== 2 || typeof k['SignatureOwner'] !== 'string' || typeof k['SignatureData'] !== 'string') {
      return "[0] Keys member does not have the right set of field names ('SignatureOwner', 'SignatureData')";
    }
    have.add(`${k['SignatureOwner']}|${k['SignatureData']}`);
  }
  const missing = required.filter((r) => !have.has(`${r.owner}|${r.data}`));
  return missing.length === 0 ? '' : `[0] Keys lacks ${missing.length} required entr${missing.length === 1 ? 'y' : 'ies'} (first owner ${missing[0]?.owner ?? ''})`;
}

/** `Enabled` equals one of `values`. */
export function enabledIs(data: JsonValue | undefined, values: readonly string[]): string {
  if (!isJsonObject(data)) return 'is not a dict';
  const e = data['Enabled'];
  if (e === undefined) return "has no 'Enabled' field";
  return typeof e === 'string' && values.includes(e) ? '' : `Enabled is not ${values.map((v) => `'${v}'`).join(' or ')}`;
}
