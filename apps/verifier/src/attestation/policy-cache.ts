/**
 * @module policy-cache: compiled runtime policies and parsed measured-boot refstates, keyed by row id
 * and shared by every agent using them (upstream caches per policy checksum, verifier §7.2). A quote
 * never reads a policy from the database once its policy is cached.
 */
import { compileRuntimePolicy, dssePayloadText, isDsseEnvelope } from '@keylime/ima';
import type { CompiledRuntimePolicy } from '@keylime/ima';
import { errorMessage } from '@keylime/core';
import type { VerifierStore } from '../store/verifier-store';

/**
 * The database could not be read: a fault of the verifier, not of the agent, so the loop retries
 * the agent later instead of judging it (a broken policy text is still a verdict).
 */
export class PolicyReadError extends Error {
  override readonly name = 'PolicyReadError';
}

function readFailed(e: unknown): never {
  throw new PolicyReadError(`reading a policy from the database failed: ${errorMessage(e)}`);
}

/** The one settled "no policy" promise: agents without a policy share it instead of one each. */
const NONE: Promise<undefined> = Promise.resolve(undefined);

/** What a read resolved to, by its promise: a quote takes a cached policy without an await. */
const settledValues = new WeakMap<Promise<unknown>, unknown>([[NONE, undefined]]);

/** `…Now()` of a read that is pending, failed or not started: await the promise instead. */
export const NOT_SETTLED: unique symbol = Symbol('policy read not settled');
export type NotSettled = typeof NOT_SETTLED;

function settledValue<T>(p: Promise<T | undefined> | undefined): T | undefined | NotSettled {
  return p !== undefined && settledValues.has(p)
    ? (settledValues.get(p) as T | undefined)
    : NOT_SETTLED;
}

/**
 * Caches a read by row id. A read that resolves to no policy is replaced by the shared NONE (unless
 * a clear() or a newer read replaced it meanwhile); a failed read is dropped, so the next call
 * reads again.
 */
function remember<T>(
  cache: Map<number, Promise<T | undefined>>,
  id: number,
  read: Promise<T | undefined>,
): void {
  cache.set(id, read);
  read.then(
    (v) => {
      settledValues.set(read, v);
      if (v === undefined && cache.get(id) === read) cache.set(id, NONE);
    },
    () => cache.delete(id),
  );
}

export class PolicyCache {
  private readonly runtime = new Map<number, Promise<CompiledRuntimePolicy | undefined>>();
  private readonly refstates = new Map<number, Promise<unknown>>();

  constructor(private readonly store: VerifierStore) {}

  /** The compiled runtime policy of an `allowlists` row (undefined: none / NULL text). */
  runtimePolicy(id: number | null): Promise<CompiledRuntimePolicy | undefined> {
    if (id === null) return NONE;
    let p = this.runtime.get(id);
    if (!p) {
      p = this.store
        .getAllowlistById(id)
        .catch(readFailed)
        .then((row) => {
          const text = row?.imaPolicy ?? null;
          if (text === null) return undefined;
          const plain = isDsseEnvelope(text) ? dssePayloadText(text) : text;
          return compileRuntimePolicy(JSON.parse(plain) as unknown);
        });
      remember(this.runtime, id, p);
    }
    return p;
  }

  /** runtimePolicy(id) if its read has settled, else NOT_SETTLED (no read is started). */
  runtimePolicyNow(id: number | null): CompiledRuntimePolicy | undefined | NotSettled {
    return settledValue(id === null ? NONE : this.runtime.get(id));
  }

  /** mbRefstate(id) if its read has settled, else NOT_SETTLED (no read is started). */
  mbRefstateNow(id: number | null): unknown {
    return settledValue(id === null ? NONE : this.refstates.get(id));
  }

  /** The parsed refstate of an `mbpolicies` row; undefined when NULL, empty or `{}` (§5.4: disabled). */
  mbRefstate(id: number | null): Promise<unknown> {
    if (id === null) return NONE;
    let p = this.refstates.get(id);
    if (!p) {
      p = this.store
        .getMbPolicyById(id)
        .catch(readFailed)
        .then((row) => {
          const text = row?.mbPolicy ?? null;
          if (text === null || text.trim() === '') return undefined;
          const v: unknown = JSON.parse(text);
          if (v === null || (typeof v === 'object' && Object.keys(v).length === 0))
            return undefined;
          return v;
        });
      // upstream makes an mbpolicies row per agent, mostly empty: those end up sharing NONE.
      remember(this.refstates, id, p);
    }
    return p;
  }

  /** Drops everything (a policy was replaced through the API). */
  clear(): void {
    this.runtime.clear();
    this.refstates.clear();
  }
}
