import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decryptPayload, xorBytes } from '@keylime/crypto';
import { caConfigFrom, loadComponentConfig } from '@keylime/config';
import { buildKeyMaterial, readKeyFile } from './payload';
import { readRuntimePolicy } from './policies';

const dir = mkdtempSync(path.join(os.tmpdir(), 'kl-tenant-payload-'));
const caConfig = caConfigFrom(
  loadComponentConfig('ca', { env: { KEYLIME_CA_CONFIG: '/dev/null', KEYLIME_DIR: dir } }),
);
const noCa = {
  defaultDir: path.join(dir, 'ca'),
  config: () => caConfig,
  password: () => Promise.resolve('secret'),
  log: { info: () => undefined, warn: () => undefined },
};
const none = {
  file: undefined,
  keyfile: undefined,
  payload: undefined,
  caDir: undefined,
  inclDir: undefined,
  verify: false,
};

describe('payload packaging', () => {
  it('-f: K = U xor V, payload decrypts with K', async () => {
    const file = path.join(dir, 'secret.txt');
    writeFileSync(file, 'hello keylime\n');
    const m = await buildKeyMaterial('agent', { ...none, file }, 1 << 20, noCa);
    expect(Buffer.from(xorBytes(m.u, m.v)).equals(Buffer.from(m.k))).toBe(true);
    expect(Buffer.from(decryptPayload(m.k, m.payload ?? '')).toString()).toBe('hello keylime\n');
    expect(m.metadata).toEqual({});
  });

  it('no payload: empty keys; --verify without payload and mode conflicts are errors', async () => {
    const m = await buildKeyMaterial('agent', none, 1 << 20, noCa);
    expect(m.k.length + m.u.length + m.v.length).toBe(0);
    await expect(buildKeyMaterial('agent', { ...none, verify: true }, 1, noCa)).rejects.toThrow(
      '--verify only works when a payload is provided to the agent via -k, -f, or --cert',
    );
    await expect(
      buildKeyMaterial('agent', { ...none, file: 'a', keyfile: 'b' }, 1, noCa),
    ).rejects.toThrow('You must specify one of -k, -f, or --cert');
    await expect(buildKeyMaterial('agent', { ...none, inclDir: 'x' }, 1, noCa)).rejects.toThrow(
      '--include option is only valid when used with --cert',
    );
    await expect(
      buildKeyMaterial('agent', { ...none, file: path.join(dir, 'missing') }, 1, noCa),
    ).rejects.toThrow('no such file');
  });

  it('max_payload_size and -k key files (spec §9 item 4)', async () => {
    const file = path.join(dir, 'big');
    writeFileSync(file, 'x'.repeat(100));
    await expect(buildKeyMaterial('agent', { ...none, file }, 50, noCa)).rejects.toThrow(
      /Payload size \d+ exceeds max size 50/,
    );
    const keyfile = path.join(dir, 'keys');
    writeFileSync(
      keyfile,
      'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICA=\nICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=\n',
    );
    const keys = readKeyFile(keyfile);
    expect(Buffer.from(keys.k).toString('hex')).toBe(
      Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex'),
    );
    writeFileSync(keyfile, 'not base64!\n');
    expect(() => readKeyFile(keyfile)).toThrow('is not base64');
  });

  it('--cert: builds the package zip with RevocationNotifier and --include files', async () => {
    const incl = path.join(dir, 'incl');
    mkdirSync(incl);
    writeFileSync(path.join(incl, 'autorun.sh'), 'echo hi\n');
    const m = await buildKeyMaterial(
      'agent-7',
      { ...none, caDir: path.join(dir, 'myca'), inclDir: incl },
      1 << 20,
      noCa,
    );
    const zip = Buffer.from(decryptPayload(m.k, m.payload ?? ''));
    const names: string[] = [];
    for (
      let i = zip.indexOf('PK\x01\x02', 0, 'latin1');
      i >= 0;
      i = zip.indexOf('PK\x01\x02', i + 4, 'latin1')
    ) {
      const len = zip.readUInt16LE(i + 28);
      names.push(zip.subarray(i + 46, i + 46 + len).toString('utf8'));
    }
    expect(names).toEqual([
      'agent-7-public.pem',
      'agent-7-cert.crt',
      'agent-7-private.pem',
      'cacert.crt',
      'cacrl.der',
      'cacrl.pem',
      'RevocationNotifier-cert.crt',
      'autorun.sh',
    ]);
    expect(m.metadata['cert_serial']).toBe(2);
    expect(m.metadata['subject']).toBe('OU=53,O=Keylime,L=Lexington,ST=MA,CN=agent-7,C=US');
    expect(m.revocationKey).toContain('BEGIN PRIVATE KEY');
  }, 30_000);
});

describe('runtime policy files', () => {
  it('reads a valid policy and checks its checksum; invalid ones fail with one line', () => {
    const good = path.join(dir, 'policy.json');
    writeFileSync(
      good,
      JSON.stringify({
        meta: { version: 1, generator: 0 },
        release: 0,
        digests: {},
        excludes: [],
        keyrings: {},
        ima: { ignored_keyrings: [], log_hash_alg: 'sha1', dm_policy: null },
        'ima-buf': {},
        'verification-keys': '',
      }),
    );
    expect(readRuntimePolicy(good, undefined, undefined).policy.length).toBeGreaterThan(10);
    expect(() => readRuntimePolicy(good, 'ab', undefined)).toThrow(
      'Checksum of runtime policy does not match! Expected ab',
    );
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"meta": 1');
    expect(() => readRuntimePolicy(bad, undefined, undefined)).toThrow(
      `Validation for runtime policy ${bad} failed! Error: Runtime policy is not valid JSON!`,
    );
    writeFileSync(bad, '{"meta": {"version": 1}}');
    expect(() => readRuntimePolicy(bad, undefined, undefined)).toThrow(
      /Validation for runtime policy .* failed/,
    );
    expect(() => readRuntimePolicy(path.join(dir, 'nope.json'), undefined, undefined)).toThrow(
      'Cannot read runtime policy',
    );
  });
});
