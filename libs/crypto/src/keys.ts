/** @module keys: strict import/export of public and private keys (PEM, DER, KeyObject) and RSA key generation. */
import { createPrivateKey, createPublicKey, generateKeyPair, KeyObject } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';

/** A public key as callers hold it: a KeyObject, PEM text, or SPKI DER bytes. */
export type PublicKeyInput = KeyObject | string | Uint8Array;
/** A private key: a KeyObject, PEM text (PKCS#8, PKCS#1 or SEC1), or PKCS#8 DER bytes. */
export type PrivateKeyInput = KeyObject | string | Uint8Array;

/** An RSA key pair as KeyObjects. */
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

/** Generates an RSA key pair (e = 65537) on libuv's thread pool, so the event loop keeps running. */
export function generateRsaKeyPair(bits = 2048): Promise<KeyPair> {
  if (!Number.isInteger(bits) || bits < 2048 || bits > 8192) {
    return Promise.reject(
      cryptoError(CryptoErrorCode.BadArgument, 'RSA key size must be an integer in 2048..8192', {
        details: { bits },
      }),
    );
  }
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: bits, publicExponent: 65537 },
      (err, publicKey, privateKey) => {
        if (err)
          reject(
            cryptoError(CryptoErrorCode.BadArgument, 'RSA key generation failed', { cause: err }),
          );
        else resolve({ publicKey, privateKey });
      },
    );
  });
}
