/** @module keys: strict import/export of public and private keys (PEM, DER, KeyObject) and key generation. */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  KeyObject,
} from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';

/** A public key as callers hold it: a KeyObject, PEM text, or SPKI DER bytes. */
export type PublicKeyInput = KeyObject | string | Uint8Array;
/** A private key: a KeyObject, PEM text (PKCS#8, PKCS#1 or SEC1), or PKCS#8 DER bytes. */
export type PrivateKeyInput = KeyObject | string | Uint8Array;

/** A key pair as KeyObjects. */
export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/**
 * Parses a public key. PEM may be SPKI ("PUBLIC KEY"), PKCS#1 ("RSA PUBLIC KEY") or a certificate;
 * bytes are SPKI DER. A private key passed here yields its public half.
 */
export function importPublicKey(input: PublicKeyInput): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type === 'public') return input;
    if (input.type === 'private') return createPublicKey(input);
    throw cryptoError(CryptoErrorCode.BadKeyEncoding, 'a secret key is not a public key');
  }
  try {
    if (typeof input === 'string') return createPublicKey({ key: input, format: 'pem' });
    return createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
  } catch (cause) {
    throw cryptoError(CryptoErrorCode.BadKeyEncoding, 'public key does not parse', { cause });
  }
}

/** Parses a private key (PEM of any OpenSSL form, optionally encrypted, or PKCS#8 DER). */
export function importPrivateKey(input: PrivateKeyInput, passphrase?: string): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type === 'private') return input;
    throw cryptoError(CryptoErrorCode.BadKeyEncoding, 'expected a private key');
  }
  try {
    if (typeof input === 'string') {
      return createPrivateKey({
        key: input,
        format: 'pem',
        ...(passphrase === undefined ? {} : { passphrase }),
      });
    }
    return createPrivateKey({
      key: Buffer.from(input),
      format: 'der',
      type: 'pkcs8',
      ...(passphrase === undefined ? {} : { passphrase }),
    });
  } catch (cause) {
    // Never echo the input: it is key material.
    throw cryptoError(
      CryptoErrorCode.BadKeyEncoding,
      'private key does not parse (or wrong passphrase)',
      { cause },
    );
  }
}

/** SPKI PEM ("BEGIN PUBLIC KEY"), the form upstream writes for *-public.pem. */
export function exportPublicKeyPem(key: PublicKeyInput): string {
  return importPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** SPKI DER bytes. */
export function exportPublicKeyDer(key: PublicKeyInput): Uint8Array {
  return new Uint8Array(importPublicKey(key).export({ type: 'spki', format: 'der' }));
}

/**
 * PKCS#8 PEM ("BEGIN PRIVATE KEY"), as upstream's ca_util writes keys; with a passphrase it is
 * encrypted PKCS#8 (PBES2, AES-256-CBC), like python-cryptography's BestAvailableEncryption.
 */
export function exportPrivateKeyPem(key: KeyObject, passphrase?: string): string {
  if (key.type !== 'private')
    throw cryptoError(CryptoErrorCode.BadKeyEncoding, 'expected a private key');
  if (passphrase === undefined || passphrase === '') {
    return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
  return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
}

/** True if both keys are the same public key (a private key compares by its public half). */
export function publicKeysEqual(a: PublicKeyInput, b: PublicKeyInput): boolean {
  return importPublicKey(a).equals(importPublicKey(b));
}

/*
 * Why keys are generated as DER and decoded again (Node 20): the KeyObjects that
 * generateKeyPair[Sync] returns share one mutex with the native generation job, and the job's
 * destructor, which the GC runs whenever it collects the job, takes that mutex. A JWK export or
 * `asymmetricKeyDetails` holds the same mutex while it allocates on the JS heap. When that
 * allocation runs the GC and the GC destroys the job, the thread waits for a lock it holds itself,
 * forever (found as a hung registration in tools/bench fleet; keys.spec.ts reproduces it). DER
 * output is built without the lock held, and keys decoded from it share nothing with the job.
 */
function decodeGeneratedPair(privateDer: Buffer): KeyPair {
  const privateKey = createPrivateKey({ key: privateDer, format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/**
 * Generates an EC key pair on a named curve ('P-256', 'P-384', 'P-521', …) whose KeyObjects are
 * safe for every later use (see above).
 */
export function generateEcKeyPairSync(namedCurve: string): KeyPair {
  try {
    return decodeGeneratedPair(
      generateKeyPairSync('ec', {
        namedCurve,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      }).privateKey,
    );
  } catch (cause) {
    throw cryptoError(CryptoErrorCode.BadArgument, `EC key generation on ${namedCurve} failed`, {
      cause,
    });
  }
}

function checkRsaBits(bits: number): void {
  if (!Number.isInteger(bits) || bits < 2048 || bits > 8192) {
    throw cryptoError(
      CryptoErrorCode.BadArgument,
      'RSA key size must be an integer in 2048..8192',
      {
        details: { bits },
      },
    );
  }
}

/** Generates an RSA key pair (e = 65537) on the calling thread, safe for every later use. */
export function generateRsaKeyPairSync(bits = 2048): KeyPair {
  checkRsaBits(bits);
  return decodeGeneratedPair(
    generateKeyPairSync('rsa', {
      modulusLength: bits,
      publicExponent: 65537,
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'der' },
    }).privateKey,
  );
}

/** Generates an RSA key pair (e = 65537) on libuv's thread pool, so the event loop keeps running. */
export function generateRsaKeyPair(bits = 2048): Promise<KeyPair> {
  return new Promise((resolve, reject) => {
    checkRsaBits(bits); // a throw here rejects the promise
    generateKeyPair(
      'rsa',
      {
        modulusLength: bits,
        publicExponent: 65537,
        publicKeyEncoding: { type: 'spki', format: 'der' },
        privateKeyEncoding: { type: 'pkcs8', format: 'der' },
      },
      (err, _publicDer, privateDer) => {
        if (err)
          reject(
            cryptoError(CryptoErrorCode.BadArgument, 'RSA key generation failed', { cause: err }),
          );
        else resolve(decodeGeneratedPair(privateDer));
      },
    );
  });
}
