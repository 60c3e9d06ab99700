/** @module fixtures: loads this lib's test-data (test-only; reads files, so never imported by src). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecodeError } from '@keylime/core';

const DIR = join(__dirname, '..', 'test-data');

export function dataFile(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DIR, name)));
}

export function textFile(name: string): string {
  return readFileSync(join(DIR, name), 'utf8');
}

export function hex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function toHexStr(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

interface UpstreamVectors {
  akName: { tpm2bPublic: string; name: string; attributes: number };
  ekLowRsa: { certDer: string; tpm2bPublic: string; symKeyBits: number };
  ekLowEcc: { certDer: string; tpm2bPublic: string };
  rsaWithoutEncryption: { tpm2bPublic: string; n: string };
  rsaNullScheme: { tpm2bPublic: string };
  eccWithoutEncryption: { tpm2bPublic: string; x: string; y: string };
  checkquote: {
    akPem: string;
    nonce: string;
    sigblob: string;
    quoteblob: string;
    pcrblob: string;
    clockInfo: { clock: string; resetCount: number; restartCount: number; safe: number };
    pcrDigest: string;
    pcrs: Record<string, string>;
  };
  makecredentialRsa: {
    ekTpm: string;
    challenge: string;
    akName: string;
    seedByte: string;
    expectedPrefix: string;
  };
  makecredentialEcc: {
    ekTpm: string;
    challenge: string;
    akName: string;
    ephemeralPrivate: string;
    ephemeralX: string;
    ephemeralY: string;
    expected: string;
  };
}

interface SpecVectors {
  pcr16Binding: { pem: string; expected: string };
  quoteOut: {
    pcrs: Record<string, string>;
    clock: string;
    resetCount: number;
    restartCount: number;
  };
}

export const upstream = JSON.parse(textFile('upstream-vectors.json')) as UpstreamVectors;
export const specVectors = JSON.parse(textFile('spec-vectors.json')) as SpecVectors;

/** Asserts that decoding every strict prefix of `bytes` throws a DecodeError (never RangeError/TypeError). */
export function expectEveryTruncationFails(
  bytes: Uint8Array,
  decode: (b: Uint8Array) => unknown,
): void {
  for (let n = 0; n < bytes.length; n++) {
    let caught: unknown;
    try {
      decode(bytes.subarray(0, n));
    } catch (e) {
      caught = e;
    }
    if (!(caught instanceof DecodeError)) {
      throw new Error(`prefix of ${n} bytes: expected DecodeError, got ${String(caught)}`);
    }
  }
}
