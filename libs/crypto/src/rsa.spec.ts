/** @module rsa.spec: OAEP round trips and upstream RSA-PSS signatures (rust-keylime test data). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, createPublicKey, verify } from 'node:crypto';
import { KeylimeError } from '@keylime/core';
import {
  exportPrivateKeyPem,
  exportPublicKeyDer,
  exportPublicKeyPem,
  importPrivateKey,
  importPublicKey,
  publicKeysEqual,
} from './keys';
import {
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaPssSign,
  rsaPssVerify,
  signRevocationMessage,
  verifyRevocationMessage,
} from './rsa';

const data = (name: string): string => readFileSync(join(__dirname, 'test-data', name), 'utf8');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof KeylimeError ? e.code : 'not a KeylimeError';
  }
  return 'no error';
}

// One fixed upstream key pair for the whole file: no key generation needed.
const privatePem = data('rk-test-rsa.pem');
const priv = importPrivateKey(privatePem);
const certPem = data('rk-test-cert.pem');
const pub = importPublicKey(certPem);

describe('upstream RSA-PSS signatures', () => {
  it('verifies rust-keylime test-rsa.sig over "Hello World!"', () => {
    expect(verifyRevocationMessage(pub, 'Hello World!', data('rk-test-rsa.sig'))).toBe(true);
    expect(verifyRevocationMessage(pub, 'Hello World?', data('rk-test-rsa.sig'))).toBe(false);
  });

  it('verifies the revocation signature over test_ok.json (exact text, trailing newline kept)', () => {
    const msg = data('rk-test_ok.json');
    expect(verifyRevocationMessage(pub, msg, data('rk-revocation.sig'))).toBe(true);
    expect(verifyRevocationMessage(pub, msg.trimEnd(), data('rk-revocation.sig'))).toBe(false);
  });

  it('signs with maximum salt so that a fixed-max-salt verifier accepts it', () => {
    const sig = signRevocationMessage(priv, '{"type":"revocation"}');
    expect(verifyRevocationMessage(pub, '{"type":"revocation"}', sig)).toBe(true);
    const raw = rsaPssSign(priv, 'm');
    expect(raw.length).toBe(256);
    // 2048-bit key, SHA-256: max salt = 256 - 32 - 2 = 222 bytes.
    expect(
      verify(
        'sha256',
        Buffer.from('m'),
        { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 222 },
        raw,
      ),
    ).toBe(true);
    expect(rsaPssVerify(pub, 'm', raw)).toBe(true);
  });

  it('rejects junk signatures without throwing', () => {
    expect(verifyRevocationMessage(pub, 'x', '')).toBe(false);
    expect(verifyRevocationMessage(pub, 'x', 'not base64!')).toBe(false);
    expect(rsaPssVerify(pub, 'x', new Uint8Array(3))).toBe(false);
  });
});

describe('RSA-OAEP', () => {
  it('round-trips a 32-byte key half with SHA-1 defaults', () => {
    const u = new Uint8Array(32).fill(0x20);
    const ct = rsaOaepEncrypt(pub, u);
    expect(ct.length).toBe(256);
    expect(Buffer.from(rsaOaepDecrypt(priv, ct)).equals(Buffer.from(u))).toBe(true);
    // Each encryption is randomised.
    expect(Buffer.from(rsaOaepEncrypt(pub, u)).equals(Buffer.from(ct))).toBe(false);
  });

  it('supports MakeCredential parameters (SHA-256, label IDENTITY\\0)', () => {
    const label = new Uint8Array([...Buffer.from('IDENTITY'), 0]);
    const seed = new Uint8Array(32).fill(7);
    const ct = rsaOaepEncrypt(pub, seed, { hash: 'sha256', label });
    expect(
      Buffer.from(rsaOaepDecrypt(priv, ct, { hash: 'sha256', label })).equals(Buffer.from(seed)),
    ).toBe(true);
    expect(codeOf(() => rsaOaepDecrypt(priv, ct))).toBe('KL_CRYPTO_DECRYPT_FAILED');
    expect(codeOf(() => rsaOaepDecrypt(priv, ct, { hash: 'sha256' }))).toBe(
      'KL_CRYPTO_DECRYPT_FAILED',
    );
  });

  it('rejects garbage ciphertext and oversize plaintext', () => {
    expect(codeOf(() => rsaOaepDecrypt(priv, new Uint8Array(256)))).toBe(
      'KL_CRYPTO_DECRYPT_FAILED',
    );
    expect(codeOf(() => rsaOaepDecrypt(priv, new Uint8Array(5)))).toBe('KL_CRYPTO_DECRYPT_FAILED');
    expect(codeOf(() => rsaOaepEncrypt(pub, new Uint8Array(300)))).toBe('KL_CRYPTO_BAD_ARGUMENT');
  });
});

describe('key import/export', () => {
  it('reads PKCS#1 PEM, exports PKCS#8 and SPKI PEM that read back', () => {
    expect(privatePem.startsWith('-----BEGIN RSA PRIVATE KEY-----')).toBe(true);
    const pkcs8 = exportPrivateKeyPem(priv);
    expect(pkcs8.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(publicKeysEqual(importPrivateKey(pkcs8), pub)).toBe(true);
    const spki = exportPublicKeyPem(priv);
    expect(spki.startsWith('-----BEGIN PUBLIC KEY-----\n')).toBe(true);
    expect(publicKeysEqual(spki, exportPublicKeyDer(pub))).toBe(true);
  });

  it('exports encrypted PKCS#8 with a passphrase', () => {
    const enc = exportPrivateKeyPem(priv, 'pw');
    expect(enc.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----\n')).toBe(true);
    expect(publicKeysEqual(importPrivateKey(enc, 'pw'), pub)).toBe(true);
    expect(codeOf(() => importPrivateKey(enc, 'wrong'))).toBe('KL_CRYPTO_BAD_KEY_ENCODING');
  });

  it('rejects junk without echoing it', () => {
    let message = '';
    try {
      importPrivateKey('-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----\n');
    } catch (e) {
      message = e instanceof Error ? e.message : '';
    }
    expect(message).not.toContain('SECRETSTUFF');
    expect(codeOf(() => importPublicKey(new Uint8Array([1, 2, 3])))).toBe(
      'KL_CRYPTO_BAD_KEY_ENCODING',
    );
    expect(codeOf(() => importPublicKey('nope'))).toBe('KL_CRYPTO_BAD_KEY_ENCODING');
    expect(publicKeysEqual(createPublicKey(certPem), priv)).toBe(true);
  });
});
