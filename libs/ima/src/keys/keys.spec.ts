import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateImaList } from '../evaluate';
import { parseImaEntry } from '../entry';
import { compileRuntimePolicy } from '../policy/compile';
import { initialImaState } from '../state';
import { KEYRING_ENTRY, KEYRING_JSON, MEASUREMENTS, SIGNATURES, runtimePolicyTest } from '../testing/upstream-vectors';
import { verifyEcdsaPrehashed, ecCurve } from './ecdsa';
import { ImaKeyring, loadImaPublicKey, parseImaKeyring } from './keyring';
import { NO_LEARNED_KEYRINGS, learnKey, learnedKeyringsFromJson, learnedKeyringsToJson } from './keyrings';
import { verifyImaSignature } from './signature';

const KEYS = join(__dirname, '..', '..', 'test-data', 'ima_keys');
const key = (f: string) => {
  const k = loadImaPublicKey(readFileSync(join(KEYS, f)));
  if (k === undefined) throw new Error(f);
  return k;
};
const ring = (...files: string[]) => {
  const r = new ImaKeyring();
  for (const f of files) r.add(key(f));
  return r;
};
const ids = (r: ReturnType<typeof evaluateImaList>) => (r.ok ? [] : r.failure.events.map((e) => e.eventId));

describe('IMA keys', () => {
  it('computes upstream key ids (§4.7)', () => {
    expect(key('rsa2048pub.pem').keyId).toBe(0xf3452d23);
    expect(key('rsa2048.pem').keyId).toBe(4081397027); // from the private key
    expect(key('secp256k1.pem').keyId).toBe(1394556965);
  });

  it('takes the key id of a certificate from its Subject Key Identifier', () => {
    const der = Buffer.from(KEYRING_ENTRY.split(' ')[5] as string, 'hex');
    expect(key2(der).keyId).toBe(0x2cb6058c);
    function key2(d: Buffer) {
      const k = loadImaPublicKey(d);
      if (k === undefined) throw new Error('no key');
      return k;
    }
  });

  it('is not a key: plain text, garbage DER; unsupported key type throws', () => {
    expect(loadImaPublicKey(Buffer.from('5.14.0'))).toBeUndefined();
    expect(loadImaPublicKey(Buffer.from([0x30, 0x03, 1, 2, 3]))).toBeUndefined();
    const ed = crypto.generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' });
    expect(() => loadImaPublicKey(ed)).toThrow(/Unsupported key type ed25519/);
  });

  it('parses and re-serialises the keyring JSON of upstream tests', () => {
    const r = parseImaKeyring(KEYRING_JSON);
    expect(r?.size).toBe(2);
    expect(r?.toText()).toBe(KEYRING_JSON);
    expect(parseImaKeyring(JSON.stringify(KEYRING_JSON))?.size).toBe(2);
    expect(() => parseImaKeyring('{"pubkeys": []}')).toThrow(/keyids/);
    expect(() => parseImaKeyring('{"pubkeys": ["AAAA"], "keyids": []}', { strict: true })).toThrow(/pubkeys\[0\]/);
    expect(parseImaKeyring('')).toBeUndefined();
  });

  it('shares one frozen empty learned-keyrings map; learning a key copies it', () => {
    // The verifier keeps an IMA state per agent: no Map per agent that never learned a key.
    expect(initialImaState().learnedKeyrings).toBe(initialImaState().learnedKeyrings);
    expect(initialImaState().learnedKeyrings).toBe(NO_LEARNED_KEYRINGS);
    expect(initialImaState().pcr10).toBe(initialImaState().pcr10);
    expect(Object.isFrozen(initialImaState().pcr10)).toBe(true);
    for (const text of ['', 'null', '{}', '"{}"', '[]', '{"x": 1}']) expect(learnedKeyringsFromJson(text)).toBe(NO_LEARNED_KEYRINGS);
    const asMap = NO_LEARNED_KEYRINGS as Map<string, ImaKeyring>;
    expect(() => asMap.set('.ima', ring('rsa2048pub.pem'))).toThrow(TypeError);
    expect(() => asMap.delete('.ima')).toThrow(TypeError);
    expect(() => asMap.clear()).toThrow(TypeError);
    const learned = learnKey(NO_LEARNED_KEYRINGS, '.ima', key('rsa2048pub.pem'));
    expect(learned).not.toBe(NO_LEARNED_KEYRINGS);
    expect(learned.get('.ima')?.size).toBe(1);
    expect(NO_LEARNED_KEYRINGS.size).toBe(0);
    expect(learnedKeyringsToJson(NO_LEARNED_KEYRINGS)).toBe('{}');
  });

  it('round-trips learned keyrings', () => {
    const learned = new Map([['.ima', ring('rsa2048pub.pem')]]);
    const back = learnedKeyringsFromJson(learnedKeyringsToJson(learned));
    expect(back.get('.ima')?.get(0xf3452d23)).toBeDefined();
  });
});

describe('verifyImaSignature', () => {
  const entries = SIGNATURES.map((l) => {
    const e = parseImaEntry(l);
    if ('error' in e || e.signature === undefined) throw new Error('bad vector');
    return e;
  });
  const dig = (i: number) => Buffer.from(entries[i]?.digestHex as string, 'hex');

  it('verifies the RSA and the secp256k1 ECDSA vectors with the right keys only', () => {
    const both = [ring('rsa2048pub.pem', 'secp256k1.pem')];
    expect(verifyImaSignature(both, entries[0]!.signature!, dig(0), 'sha256')).toBe(true);
    expect(verifyImaSignature(both, entries[1]!.signature!, dig(1), 'sha256')).toBe(true);
    expect(verifyImaSignature([ring('rsa2048pub.pem')], entries[1]!.signature!, dig(1), 'sha256')).toBe(false);
    expect(verifyImaSignature(both, entries[0]!.signature!, dig(1), 'sha256')).toBe(false);
    expect(verifyImaSignature(both, entries[0]!.signature!, dig(0), 'sha1')).toBe(false);
  });

  it('verifies prehashed ECDSA on every supported curve against Node signatures', () => {
    for (const [curve, crv, hash] of [
      ['prime256v1', 'P-256', 'sha256'],
      ['secp384r1', 'P-384', 'sha384'],
      ['secp521r1', 'P-521', 'sha512'],
      ['secp256k1', 'secp256k1', 'sha256'],
      ['prime256v1', 'P-256', 'sha512'],
    ] as const) {
      const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
      const jwk = publicKey.export({ format: 'jwk' });
      const x = BigInt(`0x${Buffer.from(jwk.x as string, 'base64url').toString('hex')}`);
      const y = BigInt(`0x${Buffer.from(jwk.y as string, 'base64url').toString('hex')}`);
      const msg = Buffer.from(`message for ${curve}`);
      const sig = crypto.sign(hash, msg, privateKey);
      const d = crypto.createHash(hash).update(msg).digest();
      expect(verifyEcdsaPrehashed(crv, x, y, d, sig)).toBe(true);
      d[0] = (d[0] as number) ^ 1;
      expect(verifyEcdsaPrehashed(crv, x, y, d, sig)).toBe(false);
      expect(ecCurve(crv)).toBeDefined();
    }
    expect(verifyEcdsaPrehashed('P-192', 1n, 1n, Buffer.alloc(32), Buffer.alloc(8))).toBe(false);
  });
});

describe('signatures and keyrings in evaluation (upstream test_ima_verification.py)', () => {
  const text = (lines: readonly string[]) => lines.join('\n');

  it('fails with an empty keyring and no policy, passes once the keys are known', () => {
    const base = { startEntry: 0, bank: 'sha1' as const };
    expect(ids(evaluateImaList(initialImaState(), { ...base, measurementList: text(SIGNATURES) }))).toEqual([
      'ima.validator.ima-sig.invalid_signature',
      'ima.validator.ima-sig.invalid_signature',
    ]);
    const rsa = ring('rsa2048pub.pem');
    expect(ids(evaluateImaList(initialImaState(), { ...base, measurementList: text(SIGNATURES.slice(0, 1)), tenantKeyring: rsa }))).toEqual([]);
    expect(ids(evaluateImaList(initialImaState(), { ...base, measurementList: text(SIGNATURES.slice(1)), tenantKeyring: rsa }))).toHaveLength(1);
    const both = ring('rsa2048pub.pem', 'secp256k1.pem');
    expect(ids(evaluateImaList(initialImaState(), { ...base, measurementList: text(SIGNATURES), tenantKeyring: both }))).toEqual([]);
  });

  it('uses the policy verification-keys and falls back to digests when a signature does not verify', () => {
    const withKeys = compileRuntimePolicy({ ...runtimePolicyTest(), 'verification-keys': KEYRING_JSON, digests: {} });
    const m = text(SIGNATURES);
    expect(ids(evaluateImaList(initialImaState(), { measurementList: m, startEntry: 0, bank: 'sha1', policy: withKeys }))).toEqual([]);
    const digestsOnly = compileRuntimePolicy(runtimePolicyTest());
    expect(ids(evaluateImaList(initialImaState(), { measurementList: text([...MEASUREMENTS, ...SIGNATURES]), startEntry: 0, bank: 'sha1', policy: digestsOnly }))).toEqual([]);
    const wrong = compileRuntimePolicy({ ...runtimePolicyTest(), digests: { '/usr/bin/dd': ['bad05d13792292e202dbf69a6f1b07bc8a02f01424db8489ba7bb7d43c0290ef'] } });
    const r = evaluateImaList(initialImaState(), { measurementList: m, startEntry: 0, bank: 'sha1', policy: wrong });
    expect(ids(r)).toEqual(['ima.validation.ima-ng.runtime_policy_hash', 'ima.validation.ima-ng.not_in_allowlist']);
    expect(r.ok ? undefined : r.failure.events[0]?.context).toEqual({
      message: 'Hash not found in runtime policy',
      got: 'd33d5d13792292e202dbf69a6f1b07bc8a02f01424db8489ba7bb7d43c0290ef',
      expected: ['bad05d13792292e202dbf69a6f1b07bc8a02f01424db8489ba7bb7d43c0290ef'],
    });
  });

  it('checks and learns a key measured into .ima (§11.6), unless the keyring is ignored', () => {
    const policy = compileRuntimePolicy(runtimePolicyTest());
    const r = evaluateImaList(initialImaState(), { measurementList: KEYRING_ENTRY, startEntry: 0, bank: 'sha1', policy });
    expect(ids(r)).toEqual([]);
    expect(r.value.state.learnedKeyrings.get('.ima')?.size).toBe(1);
    expect(NO_LEARNED_KEYRINGS.size).toBe(0);
    const noKey = compileRuntimePolicy({ ...runtimePolicyTest(), keyrings: {} });
    expect(ids(evaluateImaList(initialImaState(), { measurementList: KEYRING_ENTRY, startEntry: 0, bank: 'sha1', policy: noKey }))).toEqual([
      'ima.validation.ima-ng.not_in_allowlist',
    ]);
    const ignored = compileRuntimePolicy({ ...runtimePolicyTest(), keyrings: {}, ima: { ignored_keyrings: ['*'], log_hash_alg: 'sha1', dm_policy: null } });
    const ri = evaluateImaList(initialImaState(), { measurementList: KEYRING_ENTRY, startEntry: 0, bank: 'sha1', policy: ignored });
    expect(ids(ri)).toEqual([]);
    expect(ri.value.state.learnedKeyrings.size).toBe(0);
  });

  it('checks non-key ima-buf entries against ima-buf digests', () => {
    const hex = Buffer.from('5.14.0').toString('hex');
    const d = crypto.createHash('sha256').update('5.14.0').digest('hex');
    const data = Buffer.concat([
      Buffer.from([40, 0, 0, 0]), Buffer.from('sha256:\0'), Buffer.from(d, 'hex'),
      Buffer.from([15, 0, 0, 0]), Buffer.from('kernel_version\0'),
      Buffer.from([6, 0, 0, 0]), Buffer.from('5.14.0'),
    ]);
    const th = crypto.createHash('sha1').update(data).digest('hex');
    const line = `10 ${th} ima-buf sha256:${d} kernel_version ${hex}`;
    const ok = compileRuntimePolicy({ ...runtimePolicyTest(), 'ima-buf': { kernel_version: [d] } });
    expect(ids(evaluateImaList(initialImaState(), { measurementList: line, startEntry: 0, bank: 'sha1', policy: ok }))).toEqual([]);
    const missing = compileRuntimePolicy(runtimePolicyTest());
    expect(ids(evaluateImaList(initialImaState(), { measurementList: line, startEntry: 0, bank: 'sha1', policy: missing }))).toEqual([
      'ima.validation.ima-ng.not_in_allowlist',
    ]);
  });
});
