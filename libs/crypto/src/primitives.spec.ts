/** @module primitives.spec: spec §9 vectors 3-6, HMAC/compare helpers, payload and bootstrap keys. */
import { KeylimeError } from '@keylime/core';
import {
  activationAuthTag,
  activationKeyFromCredential,
  checkActivationAuthTag,
  checkKeysVerifyHmac,
  combineBootstrapKey,
  generateBootstrapKey,
  keysVerifyHmac,
  splitBootstrapKey,
  tryCombineBootstrapKey,
  ukeyAuthTag,
  xorBytes,
} from './bootstrap';
import { boundPcr16, DIGEST_SIZES, hash, hashHex, HASH_ALGS, pcrExtend } from './hash';
import { hmacSha384, hmacSha384Hex, timingSafeEqualBytes, timingSafeEqualHex } from './hmac';
import { decryptPayload, decryptPayloadBytes, encryptPayload } from './payload';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof KeylimeError ? e.code : 'not a KeylimeError';
  }
  return 'no error';
}

// spec §9 items 3-5
const AGENT_ID = 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000';
const K = b64('AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=');
const V = b64('ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=');
const U = b64('ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA=');
const UKEY_TAG =
  '74216909e21c5a1a5fb9e0ad23881f6f1693d01b5469c4d12dfe4ea151ab3334690966790c8e3b4a358b1be3ca443e2d';

describe('spec §9 item 3: activation auth_tag', () => {
  const credential = Buffer.from('ZNRKONnwuRuH1h74xZFjBAo1GXglHMAI', 'ascii');
  const storedKey = 'Wk5SS09Obnd1UnVIMWg3NHhaRmpCQW8xR1hnbEhNQUk=';
  const tag =
    'c7eb95b4fe0f8f2669c9220f97fd1ed8c311d125ca53f255b25d812577d1d22c985ef114e85c542692f0d1011f02cf71';

  it('stores base64 of the credential and tags with its ASCII', () => {
    expect(activationKeyFromCredential(credential)).toBe(storedKey);
    expect(activationAuthTag(storedKey, AGENT_ID)).toBe(tag);
  });

  it('checks tags in constant time, either hex case, rejecting near misses', () => {
    expect(checkActivationAuthTag(storedKey, AGENT_ID, tag)).toBe(true);
    expect(checkActivationAuthTag(storedKey, AGENT_ID, tag.toUpperCase())).toBe(true);
    expect(checkActivationAuthTag(storedKey, AGENT_ID, tag.slice(0, -1) + '0')).toBe(false);
    expect(checkActivationAuthTag(storedKey, AGENT_ID, tag.slice(0, -2))).toBe(false);
    expect(checkActivationAuthTag(storedKey, AGENT_ID, '')).toBe(false);
    expect(checkActivationAuthTag(storedKey, 'other-agent', tag)).toBe(false);
  });
});

describe('spec §9 item 4: bootstrap key', () => {
  it('U = K xor V and back', () => {
    expect(toHex(xorBytes(K, V))).toBe(toHex(U));
    const parts = splitBootstrapKey(K, V);
    expect(toHex(parts.u)).toBe(toHex(U));
    expect(toHex(combineBootstrapKey(U, V))).toBe(toHex(K));
  });

  it('ukey auth_tag and /keys/verify HMAC', () => {
    expect(ukeyAuthTag(K, AGENT_ID)).toBe(UKEY_TAG);
    const expected =
      '111e1005bfb41681cc482dd940f6122e410bdf0353ef6b68e67e1c6b9631f25442bf671bb30a6545c104033fa5a87780';
    expect(keysVerifyHmac(K, 'ABCDEFGHIJ0123456789')).toBe(expected);
    expect(checkKeysVerifyHmac(K, 'ABCDEFGHIJ0123456789', expected)).toBe(true);
    expect(checkKeysVerifyHmac(K, 'ABCDEFGHIJ012345678X', expected)).toBe(false);
  });

  it('agent combination accepts only the matching pair', () => {
    expect(toHex(tryCombineBootstrapKey(U, V, UKEY_TAG, AGENT_ID)!)).toBe(toHex(K));
    expect(tryCombineBootstrapKey(V, V, UKEY_TAG, AGENT_ID)).toBeUndefined();
    expect(tryCombineBootstrapKey(U, V.subarray(1), UKEY_TAG, AGENT_ID)).toBeUndefined();
    expect(tryCombineBootstrapKey(U, V, UKEY_TAG, 'another')).toBeUndefined();
  });

  it('generates 32-byte random parts that combine', () => {
    const p = generateBootstrapKey();
    expect(p.k.length).toBe(32);
    expect(toHex(combineBootstrapKey(p.u, p.v))).toBe(toHex(p.k));
    expect(toHex(p.k)).not.toBe(toHex(generateBootstrapKey().k));
  });

  it('refuses halves of different or zero length', () => {
    expect(codeOf(() => combineBootstrapKey(U, V.subarray(2)))).toBe('KL_CRYPTO_BAD_KEY');
    expect(codeOf(() => combineBootstrapKey(new Uint8Array(0), new Uint8Array(0)))).toBe(
      'KL_CRYPTO_BAD_KEY',
    );
  });
});

describe('spec §9 item 5: payload', () => {
  const iv = new Uint8Array(16).map((_, i) => i);
  const expected = 'AAECAwQFBgcICQoLDA0ODw8JzBpWxCFN5JOyRDCuFQ1Ga5YC38HpDmzZw1vZpQ==';

  it('encrypts to the known answer and decrypts it', () => {
    expect(encryptPayload(K, Buffer.from('hello keylime\n'), iv)).toBe(expected);
    expect(b64(expected).length).toBe(46);
    expect(Buffer.from(decryptPayload(K, expected)).toString()).toBe('hello keylime\n');
  });

  it('round-trips with a random IV, AES-128 and empty plaintext', () => {
    const a = encryptPayload(K, Buffer.from('x'));
    expect(a).not.toBe(encryptPayload(K, Buffer.from('x')));
    expect(Buffer.from(decryptPayload(K, a)).toString()).toBe('x');
    const k16 = K.subarray(0, 16);
    expect(decryptPayload(k16, encryptPayload(k16, new Uint8Array(0))).length).toBe(0);
  });

  it('rejects tampering, short input, bad base64 and bad key sizes', () => {
    const raw = b64(expected);
    raw[20] = (raw[20] ?? 0) ^ 1;
    expect(codeOf(() => decryptPayloadBytes(K, raw))).toBe('KL_CRYPTO_DECRYPT_FAILED');
    expect(codeOf(() => decryptPayloadBytes(K, new Uint8Array(31)))).toBe(
      'KL_CRYPTO_DECRYPT_FAILED',
    );
    expect(codeOf(() => decryptPayload(K, expected.slice(1)))).toBe('KL_CRYPTO_DECRYPT_FAILED');
    expect(codeOf(() => decryptPayload(K, ` ${expected}`))).toBe('KL_CRYPTO_DECRYPT_FAILED');
    expect(codeOf(() => decryptPayload(V, expected))).toBe('KL_CRYPTO_DECRYPT_FAILED');
    expect(codeOf(() => decryptPayload(K.subarray(0, 24), expected))).toBe('KL_CRYPTO_BAD_KEY');
    expect(codeOf(() => encryptPayload(K, new Uint8Array(1), new Uint8Array(12)))).toBe(
      'KL_CRYPTO_BAD_ARGUMENT',
    );
  });
});

describe('spec §9 item 6: PCR16 binding', () => {
  it('extends a zero PCR with H(PEM text)', () => {
    const pem =
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
    expect(toHex(boundPcr16('sha256', pem))).toBe(
      '4e52600d441f39511b0bf944c751121546c1b36eb16d20fcd7559ec80812ebdf',
    );
  });

  it('refuses PCR values of the wrong size', () => {
    expect(codeOf(() => pcrExtend('sha256', new Uint8Array(20), new Uint8Array(32)))).toBe(
      'KL_CRYPTO_BAD_ARGUMENT',
    );
  });
});

describe('hash and HMAC helpers', () => {
  it('digest sizes match the algorithms', () => {
    for (const alg of HASH_ALGS)
      expect(hash(alg, new Uint8Array(0)).length).toBe(DIGEST_SIZES[alg]);
    expect(hashHex('sha256', 'abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(toHex(hash('sha256', Buffer.from('a'), Buffer.from('bc')))).toBe(
      hashHex('sha256', 'abc'),
    );
  });

  it('HMAC-SHA384 (RFC 4231 test case 2)', () => {
    const expected =
      'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649';
    expect(hmacSha384Hex(Buffer.from('Jefe'), 'what do ya want for nothing?')).toBe(expected);
    expect(
      toHex(hmacSha384(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'))),
    ).toBe(expected);
  });

  it('timing-safe compares handle unequal lengths and junk', () => {
    expect(timingSafeEqualBytes(Buffer.from('abc'), Buffer.from('abc'))).toBe(true);
    expect(timingSafeEqualBytes(Buffer.from('abc'), Buffer.from('abc\0'))).toBe(false);
    expect(timingSafeEqualBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(timingSafeEqualBytes(new Uint8Array(0), new Uint8Array(1))).toBe(false);
    expect(timingSafeEqualHex('ABcd', 'abCD')).toBe(true);
    expect(timingSafeEqualHex('abc', 'abc')).toBe(false);
    expect(timingSafeEqualHex('zz', 'zz')).toBe(false);
    expect(timingSafeEqualHex('ab', 'abab')).toBe(false);
  });
});
