/** @module policy-cache.spec: policies read once per row; "no policy" is one shared promise. */
import type { AllowlistRow, MbPolicyRow } from '../store/schema';
import type { VerifierStore } from '../store/verifier-store';
import { NOT_SETTLED, PolicyCache, PolicyReadError } from './policy-cache';

function fakeStore(mb: Record<number, string | null>, ima: Record<number, string | null> = {}) {
  const reads = { mb: 0, ima: 0 };
  let fail = false;
  const store = {
    getMbPolicyById: (id: number): Promise<MbPolicyRow | undefined> => {
      reads.mb++;
      if (fail) return Promise.reject(new Error('database down'));
      return Promise.resolve(
        id in mb ? { id, name: `mb${id}`, mbPolicy: mb[id] ?? null } : undefined,
      );
    },
    getAllowlistById: (id: number): Promise<AllowlistRow | undefined> => {
      reads.ima++;
      if (fail) return Promise.reject(new Error('database down'));
      return Promise.resolve(
        id in ima
          ? {
              id,
              name: `a${id}`,
              checksum: null,
              generator: null,
              tpmPolicy: null,
              imaPolicy: ima[id] ?? null,
            }
          : undefined,
      );
    },
  };
  return {
    store: store as unknown as VerifierStore,
    reads,
    setFail: (f: boolean) => (fail = f),
  };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('PolicyCache', () => {
  it('reads a refstate once and shares one settled promise among agents whose refstate is empty', async () => {
    const { store, reads } = fakeStore({ 1: null, 2: '{}', 3: '', 4: '{"a": 1}' });
    const cache = new PolicyCache(store);
    expect(await cache.mbRefstate(1)).toBeUndefined();
    expect(await cache.mbRefstate(2)).toBeUndefined();
    expect(await cache.mbRefstate(3)).toBeUndefined();
    expect(await cache.mbRefstate(4)).toEqual({ a: 1 });
    await settle();
    // Upstream makes an (empty) mbpolicies row per agent: no promise per agent is kept for those.
    const none = cache.mbRefstate(1);
    expect(cache.mbRefstate(2)).toBe(none);
    expect(cache.mbRefstate(3)).toBe(none);
    expect(cache.mbRefstate(null)).toBe(none);
    expect(cache.mbRefstate(4)).not.toBe(none);
    expect(cache.mbRefstate(4)).toBe(cache.mbRefstate(4));
    expect(reads.mb).toBe(4);
  });

  it('does the same for agents without a runtime policy text', async () => {
    const { store, reads } = fakeStore({}, { 1: null, 2: null });
    const cache = new PolicyCache(store);
    expect(await cache.runtimePolicy(1)).toBeUndefined();
    expect(await cache.runtimePolicy(2)).toBeUndefined();
    await settle();
    expect(cache.runtimePolicy(1)).toBe(cache.runtimePolicy(2));
    expect(cache.runtimePolicy(1)).toBe(cache.mbRefstate(null));
    expect(reads.ima).toBe(2);
  });

  it('forgets failed reads, and a clear() during a read is not undone by it', async () => {
    const { store, reads, setFail } = fakeStore({ 1: null });
    const cache = new PolicyCache(store);
    setFail(true);
    await expect(cache.mbRefstate(1)).rejects.toBeInstanceOf(PolicyReadError);
    await settle();
    setFail(false);
    expect(await cache.mbRefstate(1)).toBeUndefined();
    expect(reads.mb).toBe(2);
    cache.clear();
    const pending = cache.mbRefstate(1);
    cache.clear();
    expect(await pending).toBeUndefined();
    await settle();
    // The read that finished after clear() left nothing behind: the next call reads again.
    await cache.mbRefstate(1);
    expect(reads.mb).toBe(4);
  });

  it('hands out settled reads without a promise, and nothing that is pending, failed or cleared', async () => {
    const { store, setFail } = fakeStore({ 4: '{"a": 1}' }, { 7: null });
    const cache = new PolicyCache(store);
    expect(cache.mbRefstateNow(null)).toBeUndefined();
    expect(cache.runtimePolicyNow(null)).toBeUndefined();
    // Never read: the Now form starts no read.
    expect(cache.mbRefstateNow(4)).toBe(NOT_SETTLED);
    const pending = cache.mbRefstate(4);
    expect(cache.mbRefstateNow(4)).toBe(NOT_SETTLED);
    expect(await pending).toEqual({ a: 1 });
    expect(cache.mbRefstateNow(4)).toEqual({ a: 1 });
    expect(await cache.runtimePolicy(7)).toBeUndefined();
    await settle();
    expect(cache.runtimePolicyNow(7)).toBeUndefined();
    cache.clear();
    expect(cache.mbRefstateNow(4)).toBe(NOT_SETTLED);
    setFail(true);
    await expect(cache.mbRefstate(4)).rejects.toBeInstanceOf(PolicyReadError);
    expect(cache.mbRefstateNow(4)).toBe(NOT_SETTLED);
  });
});
