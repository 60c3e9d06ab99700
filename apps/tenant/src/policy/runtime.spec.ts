import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { verifyDsseEnvelope, validateRuntimePolicy } from '@keylime/ima';
import { convertRuntimePolicy } from './runtime-convert';
import { createRuntimePolicy, EMPTY_IMA_MEASUREMENT_LIST } from './runtime-create';
import type { CreateRuntimeOptions } from './runtime-create';
import { signRuntimePolicy } from './runtime-sign';

const ROOT = resolve(__dirname, '../../../..');
const DATA = join(ROOT, 'libs/ima/test-data');
const CRP = join(DATA, 'create-runtime-policy');
const tmp = mkdtempSync(join(tmpdir(), 'kl-policy-'));

function create(extra: Partial<CreateRuntimeOptions>): ReturnType<typeof createRuntimePolicy> {
  return createRuntimePolicy({
    output: join(tmp, 'out.json'),
    keyrings: false,
    imaBuf: false,
    imaMeasurementList: EMPTY_IMA_MEASUREMENT_LIST,
    ignoredKeyrings: [],
    addImaSignatureVerificationKey: [],
    showLegacyAllowlist: false,
    verbose: false,
    ...extra,
  });
}

beforeAll(() => {
  jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterAll(() => jest.restoreAllMocks());

describe('create runtime', () => {
  it.each(['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256'])('takes digests and the algorithm from ima-log-%s', (alg) => {
    const p = create({ imaMeasurementList: join(CRP, `ima-log-${alg}`) });
    const log = readFileSync(join(CRP, `ima-log-${alg}`), 'utf8').split('\n');
    expect(p.digests['/data']).toEqual([(log[1] as string).split(' ')[3]?.split(':')[1]]);
    expect(p.meta.generator).toBe(3);
    const written = readFileSync(join(tmp, 'out.json'), 'utf8');
    expect(written.startsWith('{"meta": {"version": 1, "generator": 3, "timestamp": "')).toBe(true);
    expect(validateRuntimePolicy(JSON.parse(written))).toBeDefined();
  });

  it('aborts on a log whose boot_aggregate algorithm is unknown', () => {
    expect(() => create({ imaMeasurementList: join(CRP, 'ima-log-unknown') })).toThrow(/Aborting/);
  });

  it('hashes a rootfs with the algorithm of the sm3_256 inputs, as upstream policy-sm3_256', () => {
    const p = create({ rootfs: join(CRP, 'rootfs'), allowlist: join(CRP, 'allowlist-sm3_256'), imaMeasurementList: join(CRP, 'ima-log-sm3_256') });
    const expected = JSON.parse(readFileSync(join(CRP, 'policy-sm3_256'), 'utf8')) as { digests: Record<string, string[]> };
    expect(p.digests['/rootfs_data']).toEqual(expected.digests['/rootfs_data']);
  });

  it('follows upstream algorithm priority: --algo > base policy > allowlist > list', () => {
    const p = create({ algo: 'sha384', rootfs: join(CRP, 'rootfs'), basePolicy: join(CRP, 'policy-sha384') });
    expect(p.digests['/rootfs_data']?.[0]).toHaveLength(96);
    expect(p.digests['/base_policy_data']).toBeDefined();
    expect(() => create({ basePolicy: join(CRP, 'policy-sha1'), allowlist: join(CRP, 'allowlist-sha384') })).toThrow(/Aborting/);
    const q = create({ basePolicy: join(CRP, 'policy-sha1'), allowlist: join(CRP, 'allowlist-sha1'), rootfs: join(CRP, 'rootfs') });
    expect(q.digests['/rootfs_data']?.[0]).toHaveLength(40);
    expect(q.digests['data']).toEqual(['009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509']);
  });

  it('adds exclude lists (rejecting bad rules), keyrings, verification keys; prints the legacy allowlist', () => {
    const excl = join(tmp, 'excl');
    writeFileSync(excl, '/tmp/.*\n\nboot_aggregate\n');
    const p = create({
      excludelist: excl,
      ignoredKeyrings: ['.builtin_trusted_keys'],
      addImaSignatureVerificationKey: [join(DATA, 'ima_keys/rsa2048pub.pem')],
    });
    expect(p.excludes).toEqual(['/tmp/.*', 'boot_aggregate']);
    expect(p.ima.ignored_keyrings).toEqual(['.builtin_trusted_keys']);
    expect(JSON.parse(p['verification-keys'])).toMatchObject({ keyids: [4081397027] });
    writeFileSync(excl, '(a+)+\n');
    expect(() => create({ excludelist: excl })).toThrow(/Bad IMA exclude list rule '\(a\+\)\+': nested quantifiers/);
    create({ imaMeasurementList: join(CRP, 'ima-log-sha256'), showLegacyAllowlist: true });
    expect(readFileSync(join(tmp, 'out.json'), 'utf8')).toBe(
      'f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3  boot_aggregate\n' +
        '96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754  /data\n',
    );
  });
});

describe('sign runtime', () => {
  const policy = join(DATA, 'sign-runtime-policy/runtime-policy.json');

  it('signs with a new ECDSA key and the envelope verifies with it', async () => {
    const keypath = join(tmp, 'new-key.pem');
    const env = await signRuntimePolicy({ output: join(tmp, 'signed.json'), runtimePolicy: policy, keypath, backend: 'ecdsa' });
    const key = crypto.createPublicKey(readFileSync(keypath, 'utf8'));
    expect(readFileSync(keypath, 'utf8')).toContain('BEGIN EC PRIVATE KEY');
    const verified = verifyDsseEnvelope(env, { publicKey: key });
    expect(JSON.parse(verified.payload.toString())).toEqual(JSON.parse(readFileSync(policy, 'utf8')));
  });

  it('signs with the x509 backend; the certificate in keyid verifies it', async () => {
    const cert = join(tmp, 'cert.pem');
    const env = await signRuntimePolicy({ output: join(tmp, 'x.json'), runtimePolicy: policy, keyfile: join(DATA, 'sign-runtime-policy/ec-p521-private.pem'), backend: 'X509', certOutfile: cert });
    expect(existsSync(cert)).toBe(true);
    expect(verifyDsseEnvelope(env).recognizedSigners).toHaveLength(1);
  });

  it.each([
    [{ keyfile: 'a', keypath: 'b' }, 'Only one of keyfile or keypath'],
    [{ backend: 'x509' }, 'no cerficate output file'],
    [{ keyfile: join(DATA, 'sign-runtime-policy/rsa-4096-private.pem') }, 'Only elliptic curve keys are supported'],
    [{ keyfile: join(DATA, 'sign-runtime-policy/ec-p521-private.pem'), runtimePolicy: join(DATA, 'sign-runtime-policy/runtime-policy-bogus.json') }, 'Unable to validate the runtime policy'],
  ])('fails clearly: %j', async (opts, message) => {
    await expect(signRuntimePolicy({ output: join(tmp, 'y.json'), runtimePolicy: policy, backend: 'ecdsa', keypath: undefined, ...opts })).rejects.toThrow(message);
  });
});

describe('convert', () => {
  it('converts a flat allowlist plus exclude list', () => {
    const excl = join(tmp, 'excl2');
    writeFileSync(excl, '# comment\n/var/log/.*\n');
    const out = join(tmp, 'conv.json');
    const p = convertRuntimePolicy({ allowlist: join(CRP, 'allowlist-sha256'), excludelist: excl, verificationKeys: [], outputFile: out });
    expect(p['digests']).toEqual({ data: ['96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754'] });
    expect(JSON.parse(readFileSync(out, 'utf8'))).toMatchObject({ excludes: ['/var/log/.*'], meta: { generator: 3 } });
    expect(() => convertRuntimePolicy({ verificationKeys: [], outputFile: out })).toThrow('Either --allowlist or --runtime_policy is required!');
  });
});

describe('keylime-policy process', () => {
  function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/tenant/src/policy.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('writes the policy to stdout without a trailing newline, as upstream', () => {
    const r = run(['create', 'runtime', '-m', join(CRP, 'ima-log-sha1')]);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('"verification-keys": ""}')).toBe(true);
  });

  it('reports failures on one line, with a non-zero exit and no stack trace', () => {
    const r = run(['create', 'runtime', '-m', '/nonexistent/list']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe("keylime-policy: The IMA measurement list file '/nonexistent/list' does not seem to exist");
  });
});
