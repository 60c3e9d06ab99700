/** @module keys/bootstrap-keys.spec: U/V pairing with the spec §9 item 4 vectors. */
import { silentLogger } from '@keylime/core';
import { BootstrapKeys } from './bootstrap-keys';

const K = Uint8Array.from({ length: 32 }, (_, i) => i);
const V = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);
const U = new Uint8Array(32).fill(0x20);
const ID = 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000';
const TAG =
  '74216909e21c5a1a5fb9e0ad23881f6f1693d01b5469c4d12dfe4ea151ab3334690966790c8e3b4a358b1be3ca443e2d';

test('derives K from a matching pair in either order, with the U payload', () => {
  const derived: [Uint8Array, string | undefined][] = [];
  const keys = new BootstrapKeys(ID, (k, p) => derived.push([k, p]), silentLogger);
  keys.addV(V);
  expect(keys.key).toBeUndefined();
  keys.addU({ u: U, authTag: TAG, payload: 'cGF5bG9hZA==' });
  expect(keys.key).toEqual(K);
  expect(derived).toEqual([[K, 'cGF5bG9hZA==']]);
});

test('a wrong tag, a foreign V or a length mismatch derives nothing', () => {
  const keys = new BootstrapKeys(ID, () => undefined, silentLogger);
  keys.addU({ u: U, authTag: TAG.replace('7', '8'), payload: undefined });
  keys.addV(V);
  keys.addU({ u: U.subarray(0, 16), authTag: TAG, payload: undefined });
  keys.addV(new Uint8Array(32));
  expect(keys.key).toBeUndefined();
  keys.addU({ u: U, authTag: TAG, payload: undefined });
  expect(keys.key).toEqual(K);
});
