import { execFile } from 'node:child_process';
import { sign, verify } from 'node:crypto';
import path from 'node:path';
import { KeylimeError } from '@keylime/core';
import { generateEcKeyPairSync, generateRsaKeyPair, generateRsaKeyPairSync } from './keys';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof KeylimeError ? e.code : 'not a KeylimeError';
  }
  return 'no error';
}

describe('key generation', () => {
  it.each(['P-256', 'P-384', 'P-521'])('makes a working EC pair on %s', (curve) => {
    const { privateKey, publicKey } = generateEcKeyPairSync(curve);
    expect(privateKey.type).toBe('private');
    expect(publicKey.type).toBe('public');
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe(
      { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' }[curve],
    );
    const data = Buffer.from('keylime');
    const sig = sign('sha256', data, privateKey);
    expect(verify('sha256', data, publicKey, sig)).toBe(true);
    expect(verify('sha256', Buffer.from('keylimf'), publicKey, sig)).toBe(false);
    // Two calls give two different keys.
    expect(generateEcKeyPairSync(curve).publicKey.equals(publicKey)).toBe(false);
  });

  it('refuses an unknown curve with a KeylimeError', () => {
    expect(codeOf(() => generateEcKeyPairSync('P-255'))).toBe('KL_CRYPTO_BAD_ARGUMENT');
  });

  it('makes RSA pairs with e = 65537, on the thread or the pool, and checks the size', async () => {
    const sync = generateRsaKeyPairSync(2048);
    const pooled = await generateRsaKeyPair(2048);
    for (const { publicKey, privateKey } of [sync, pooled]) {
      expect(publicKey.asymmetricKeyDetails).toMatchObject({
        modulusLength: 2048,
        publicExponent: 65537n,
      });
      const sig = sign('sha256', Buffer.from('x'), privateKey);
      expect(verify('sha256', Buffer.from('x'), publicKey, sig)).toBe(true);
    }
    expect(codeOf(() => generateRsaKeyPairSync(1024))).toBe('KL_CRYPTO_BAD_ARGUMENT');
    await expect(generateRsaKeyPair(2047)).rejects.toMatchObject({
      code: 'KL_CRYPTO_BAD_ARGUMENT',
    });
  });

  // Node 20 deadlocks when the GC destroys a key generation job while a JWK export or
  // asymmetricKeyDetails of that job's key holds the key's mutex (see keys.ts). With raw
  // generateKeyPairSync keys this loop hangs within a few hundred iterations (one GC per MiB
  // allocated); it runs in a child so that a hang fails the test instead of freezing Jest.
  it('gives keys whose JWK export and details survive a GC at any moment', async () => {
    const script = [
      `const { generateEcKeyPairSync } = require(${JSON.stringify(path.join(__dirname, 'keys.ts'))});`,
      'let junk = [];',
      'for (let i = 0; i < 8000; i++) {',
      "  const { publicKey } = generateEcKeyPairSync('P-256');",
      '  for (let j = 0; j < 10; j++)',
      "    if (typeof publicKey.export({ format: 'jwk' }).x !== 'string') throw new Error('no x');",
      "  if (publicKey.asymmetricKeyDetails.namedCurve !== 'prime256v1') throw new Error('curve');",
      '  junk.push(new Array(20).fill(i));',
      '  if (junk.length > 1000) junk = [];',
      '}',
      "process.stdout.write('done');",
    ].join('\n');
    const out = await new Promise<{
      code: number | null;
      stdout: string;
      stderr: string;
      killed: boolean;
    }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--max-semi-space-size=1', '-r', '@swc-node/register', '-e', script],
        // From the repository root, where @swc-node/register finds tsconfig.base.json's paths.
        { timeout: 45_000, killSignal: 'SIGKILL', cwd: path.resolve(__dirname, '../../..') },
        (err, stdout, stderr) =>
          resolve({
            code: child.exitCode,
            stdout: String(stdout),
            stderr: String(stderr).slice(0, 2000),
            killed: err?.killed ?? false,
          }),
      );
    });
    expect(out).toEqual({ code: 0, stdout: 'done', stderr: '', killed: false });
  }, 55_000);
});
