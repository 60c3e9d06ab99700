import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrorCode } from '@keylime/core';
import { compileRuntimePolicy } from './compile';
import { dsseDecode, dssePae, dssePayloadText, ecdsaKeyId, ecdsaSigner, isDsseEnvelope, signDsse, verifyDsseEnvelope } from './dsse';
import { checkExclude, compileExcludes, translatePythonRegex } from './excludes';
import { convertLegacyAllowlist, parseExcludeList, parseFlatAllowlist, upgradeRuntimePolicy } from './legacy';
import { toPythonJson } from './python-json';
import { emptyRuntimePolicy } from './types';
import { validateRuntimePolicy } from './validate';

const DATA = join(__dirname, '..', '..', 'test-data');
const read = (p: string): string => readFileSync(join(DATA, p), 'utf8');

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return `${(e as { code?: string }).code ?? ''}: ${(e as Error).message}`;
  }
  return 'no error';
}

describe('validateRuntimePolicy', () => {
  it('accepts the empty policy and upstream generated policies', () => {
    expect(validateRuntimePolicy(emptyRuntimePolicy())).toBeDefined();
    for (const alg of ['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256']) {
      expect(validateRuntimePolicy(JSON.parse(read(`create-runtime-policy/policy-${alg}`)))).toBeDefined();
    }
  });

  it.each([
    [{ ...emptyRuntimePolicy(), 'ima-buf': undefined }, "runtime policy is missing required key 'ima-buf'"],
    [{ ...emptyRuntimePolicy(), digests: { '/usr/bin/dd': ['sha256:abcd'] } }, "digests['/usr/bin/dd'][0] must be a lower-case hex digest"],
    [{ ...emptyRuntimePolicy(), digests: { '/x': [] } }, "digests['/x'] must list at least one digest"],
    [{ ...emptyRuntimePolicy(), meta: { version: 1, generator: 9 } }, 'meta.generator must be <= 3'],
    [{ ...emptyRuntimePolicy(), ima: { ignored_keyrings: [], log_hash_alg: 'md5', dm_policy: null } }, 'ima.log_hash_alg must be one of sha1, sha256, sha384, sha512'],
    [{ ...emptyRuntimePolicy(), ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: {} } }, 'ima.dm_policy must be null'],
    [{ ...emptyRuntimePolicy(), release: -1 }, 'release must be >= 0'],
    [{ ...emptyRuntimePolicy(), excludes: ['(a+)+'] }, "KL_IMA_INVALID_EXCLUDE: excludes[0] '(a+)+' is rejected: nested quantifiers"],
    [{ ...emptyRuntimePolicy(), excludes: ['/ok', '[a-'] }, "excludes[1] '[a-' is rejected: unterminated character set"],
    [{ ...emptyRuntimePolicy(), 'verification-keys': '{"keyids": [1]}' }, "verification-keys: keyring must have an array 'pubkeys'"],
    [[], 'runtime policy must be object'],
  ])('rejects %j', (policy, message) => {
    expect(reason(() => validateRuntimePolicy(policy))).toContain(message);
  });

  it('rejects the upstream sample whose boot_aggregate carries a sha256: prefix', () => {
    expect(reason(() => validateRuntimePolicy(JSON.parse(dssePayloadText(read('runtime-policy-test-signed.json')))))).toMatch(
      /KL_IMA_INVALID_POLICY|KL_IMA_INVALID_EXCLUDE/,
    );
  });
});

describe('excludes', () => {
  it.each([
    ['/usr/bin/.*', '/usr/bin/dd', true],
    ['/usr/bin/dd', '/usr/bin/ddx', true], // prefix match, like re.match
    ['/usr/bin/dd$', '/usr/bin/ddx', false],
    ['bin', '/usr/bin', false], // anchored at the start
    ['/tmp/\\d+\\Z', '/tmp/123', true],
    ['/var/\\w+/x', '/var/lóg/x', true], // Unicode \\w as in Python str patterns
    ['(?P<d>/data)/.*', '/data/a', true],
    ['/x\\-y', '/x-y', true],
    ['[]a]+', ']a', true],
    ['/a{,2}b', '/aab', true],
    ['/a{b', '/a{b', true], // not a quantifier: literal
    ['/p(?#comment)q', '/pq', true],
  ])('%s on %s → %s', (pattern, path, expected) => {
    expect(compileExcludes([pattern])?.test(path)).toBe(expected);
  });

  it.each([
    ['(?i)/tmp', 'inline flags'],
    ['(a*)*', 'nested quantifiers'],
    ['(?>a)', 'atomic groups'],
    ['a*+', 'possessive'],
    ['(a)\\1', 'backreferences'],
    ['\\q', 'bad escape \\q'],
    ['(', 'unterminated subpattern'],
    [')', 'unbalanced parenthesis'],
    ['.*a.*b.*c.*d', 'unbounded quantifiers'],
    ['*a', 'Nothing to repeat'],
  ])('rejects %s', (pattern, why) => {
    expect(checkExclude(pattern)).toContain(why);
  });

  it('combines patterns like upstream: (p1)|(p2)', () => {
    expect(translatePythonRegex('a|b')).toBe('a|b');
    const re = compileExcludes(['/usr/a', 'boot_aggregate']);
    expect(re?.source).toBe('^(?:(\\/usr\\/a)|(boot_aggregate))');
    expect(compileExcludes([])).toBeUndefined();
  });
});

describe('compileRuntimePolicy', () => {
  it('builds lookups; large digest lists become sets', () => {
    const many = Array.from({ length: 20 }, (_, i) => i.toString(16).padStart(64, '0'));
    const c = compileRuntimePolicy({ ...emptyRuntimePolicy(), digests: { '/a': many }, ima: { ignored_keyrings: ['*'], log_hash_alg: 'sha256', dm_policy: null } });
    expect(c.digests.get('/a')?.set?.size).toBe(20);
    expect(c.ignoreAllKeyrings).toBe(true);
    expect(c.logHashAlg).toBe('sha256');
    expect(hasErrorCode((() => { try { compileRuntimePolicy({}); } catch (e) { return e; } return undefined; })(), 'KL_IMA_INVALID_POLICY')).toBe(true);
  });
});

describe('DSSE (§4.8)', () => {
  const pub = read('runtime-policy-pubkey.pub');

  it('verifies the upstream signed policy and rejects the corrupted one', () => {
    const ok = verifyDsseEnvelope(read('runtime-policy-test-signed.json'), { publicKey: pub });
    expect(ok.recognizedSigners).toEqual(['user_provided_key']);
    expect(JSON.parse(ok.payload.toString())).toEqual(JSON.parse(read('runtime-policy-test.json')));
    expect(reason(() => verifyDsseEnvelope(read('runtime-policy-test-signed-bad.json'), { publicKey: pub }))).toContain(
      'KL_IMA_INVALID_ENVELOPE: Runtime policy failed DSSE signature verification!',
    );
  });

  it('derives the upstream ECDSA keyid (SHA-256 of the PEM)', () => {
    const keyid = ecdsaKeyId(crypto.createPublicKey(pub));
    expect(keyid).toBe(crypto.createHash('sha256').update(pub).digest('hex'));
    expect(keyid.startsWith('8114198d')).toBe(true);
    expect((JSON.parse(read('runtime-policy-test-signed.json')) as { signatures: { keyid: string }[] }).signatures[0]?.keyid).toBe(keyid);
  });

  it('signs and verifies (ECDSA backend), in upstream JSON layout', () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const payload = Buffer.from(toPythonJson(emptyRuntimePolicy()));
    const env = signDsse(payload, ecdsaSigner(privateKey));
    expect(env.startsWith('{"payload": "')).toBe(true);
    expect(isDsseEnvelope(env)).toBe(true);
    expect(verifyDsseEnvelope(env, { publicKey }).payload.equals(payload)).toBe(true);
    expect(() => ecdsaSigner(crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey)).toThrow(/elliptic curve/);
  });

  it('encodes PAE and decodes payloads hex-first like upstream', () => {
    expect(dssePae('t', Buffer.from('ab')).toString()).toBe('DSSEv1 1 t 2 ab');
    expect(dsseDecode('6869').toString()).toBe('hi');
    expect(dsseDecode('aGk=').toString()).toBe('hi');
    expect(dsseDecode('-_8=')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(isDsseEnvelope('{}')).toBe(false);
    expect(reason(() => verifyDsseEnvelope('{"payload": 1}'))).toContain('KL_IMA_INVALID_ENVELOPE');
  });
});

describe('legacy formats', () => {
  it('converts a flat allowlist, keyring lines included', () => {
    const text = `${'a'.repeat(64)}  /usr/bin/x\n${'b'.repeat(64)} %keyring:.ima\nbroken\n`;
    const notes: string[] = [];
    const p = convertLegacyAllowlist(text, notes);
    expect(p.digests).toEqual({ '/usr/bin/x': ['a'.repeat(64)] });
    expect(p.keyrings).toEqual({ '.ima': ['b'.repeat(64)] });
    expect(p.meta.generator).toBe(3);
    expect(notes[0]).toContain('Line #2');
    expect(validateRuntimePolicy(p)).toBeDefined();
  });

  it('converts the upstream short allowlist', () => {
    const { digests } = parseFlatAllowlist(read('ima-allowlist-short.txt'));
    expect(Object.keys(digests).length).toBeGreaterThan(5);
  });

  it('converts a JSON allowlist with hashes and rejects a policy', () => {
    const p = convertLegacyAllowlist(JSON.stringify({ hashes: { '/a': ['c'.repeat(40)] }, excludes: ['/tmp/.*'] }));
    expect(p.digests).toEqual({ '/a': ['c'.repeat(40)] });
    expect(p.excludes).toEqual(['/tmp/.*']);
    expect(reason(() => convertLegacyAllowlist(JSON.stringify(emptyRuntimePolicy())))).toContain('KL_IMA_INVALID_ALLOWLIST');
  });

  it('reads exclude lists and upgrades old policies', () => {
    expect(parseExcludeList('# c\n\n/tmp/.*\n boot_aggregate \n')).toEqual(['/tmp/.*', 'boot_aggregate']);
    expect(reason(() => parseExcludeList('(a+)+'))).toContain("Bad IMA exclude list rule '(a+)+'");
    const up = upgradeRuntimePolicy({ meta: { version: 0 }, digests: { '/a': ['d'.repeat(40)] } });
    expect(up['meta']).toEqual({ version: 1, generator: 2 });
    expect(up['digests']).toEqual({ '/a': ['d'.repeat(40)] });
  });

  it('prints JSON like Python json.dumps', () => {
    expect(toPythonJson({ a: [1, 'é'], b: null, c: { d: true } })).toBe('{"a": [1, "\\u00e9"], "b": null, "c": {"d": true}}');
  });
});
