/**
 * @module tls13/key-schedule: the TLS 1.3 key schedule (RFC 8446 §7.1–7.3) over node:crypto's
 * HMAC, for the cipher suites the client offers. Pure functions of their inputs; known-answer
 * tests against RFC 8448 sit beside it.
 */
import { createHash, createHmac } from 'node:crypto';

export type TlsHash = 'sha256' | 'sha384';

export const TLS_HASH_BYTES: Readonly<Record<TlsHash, number>> = { sha256: 32, sha384: 48 };

/** A TLS 1.3 cipher suite: its code point, transcript hash and AEAD. */
export interface CipherSuite {
  readonly code: number;
  readonly name: string;
  readonly hash: TlsHash;
  /** node:crypto cipher name. */
  readonly aead: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  readonly keyBytes: number;
}

/** The suites offered, in preference order (AES-GCM first: AES-NI makes it the cheapest here). */
export const CIPHER_SUITES: readonly CipherSuite[] = [
  {
    code: 0x1301,
    name: 'TLS_AES_128_GCM_SHA256',
    hash: 'sha256',
    aead: 'aes-128-gcm',
    keyBytes: 16,
  },
  {
    code: 0x1302,
    name: 'TLS_AES_256_GCM_SHA384',
    hash: 'sha384',
    aead: 'aes-256-gcm',
    keyBytes: 32,
  },
  {
    code: 0x1303,
    name: 'TLS_CHACHA20_POLY1305_SHA256',
    hash: 'sha256',
    aead: 'chacha20-poly1305',
    keyBytes: 32,
  },
];

export function cipherSuite(code: number): CipherSuite | undefined {
  return CIPHER_SUITES.find((s) => s.code === code);
}

/** HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM) (RFC 5869 §2.2). */
export function hkdfExtract(hash: TlsHash, salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac(hash, salt).update(ikm).digest();
}

/** HKDF-Expand(PRK, info, L) (RFC 5869 §2.3). */
export function hkdfExpand(
  hash: TlsHash,
  prk: Uint8Array,
  info: Uint8Array,
  length: number,
): Buffer {
  const hashBytes = TLS_HASH_BYTES[hash];
  if (!Number.isInteger(length) || length < 1 || length > 255 * hashBytes) {
    throw new RangeError(`HKDF-Expand length ${length} out of range`);
  }
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1, have = 0; have < length; i++) {
    previous = createHmac(hash, prk).update(previous).update(info).update(Buffer.of(i)).digest();
    blocks.push(previous);
    have += previous.length;
  }
  const out = blocks.length === 1 ? previous : Buffer.concat(blocks);
  return out.length === length ? out : out.subarray(0, length);
}

/** HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix (§7.1). */
export function hkdfExpandLabel(
  hash: TlsHash,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Buffer {
  const fullLabel = Buffer.from(`tls13 ${label}`, 'latin1');
  if (fullLabel.length > 255 || context.length > 255) throw new RangeError('HkdfLabel too long');
  const info = Buffer.alloc(4 + fullLabel.length + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  fullLabel.copy(info, 3);
  info[3 + fullLabel.length] = context.length;
  info.set(context, 4 + fullLabel.length);
  return hkdfExpand(hash, secret, info, length);
}

/** Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages). */
export function deriveSecret(
  hash: TlsHash,
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array,
): Buffer {
  return hkdfExpandLabel(hash, secret, label, transcriptHash, TLS_HASH_BYTES[hash]);
}

/** Hash of the empty string, the context of every "derived" step. */
export function emptyHash(hash: TlsHash): Buffer {
  return createHash(hash).digest();
}

/** Handshake Secret from the (EC)DHE shared secret, with no PSK (§7.1). */
export function handshakeSecret(hash: TlsHash, sharedSecret: Uint8Array): Buffer {
  const zeros = Buffer.alloc(TLS_HASH_BYTES[hash]);
  const early = hkdfExtract(hash, zeros, zeros);
  return hkdfExtract(hash, deriveSecret(hash, early, 'derived', emptyHash(hash)), sharedSecret);
}

/** Master Secret from the Handshake Secret (§7.1). */
export function masterSecret(hash: TlsHash, handshake: Uint8Array): Buffer {
  const zeros = Buffer.alloc(TLS_HASH_BYTES[hash]);
  return hkdfExtract(hash, deriveSecret(hash, handshake, 'derived', emptyHash(hash)), zeros);
}

/** The write key and IV of one direction under one traffic secret (§7.3). */
export interface TrafficKey {
  readonly key: Buffer;
  readonly iv: Buffer;
}

export function trafficKey(suite: CipherSuite, secret: Uint8Array): TrafficKey {
  const empty = Buffer.alloc(0);
  return {
    key: hkdfExpandLabel(suite.hash, secret, 'key', empty, suite.keyBytes),
    iv: hkdfExpandLabel(suite.hash, secret, 'iv', empty, 12),
  };
}

/** Finished.verify_data = HMAC(finished_key, Transcript-Hash) (§4.4.4). */
export function finishedVerifyData(
  hash: TlsHash,
  baseKey: Uint8Array,
  transcriptHash: Uint8Array,
): Buffer {
  const finishedKey = hkdfExpandLabel(
    hash,
    baseKey,
    'finished',
    Buffer.alloc(0),
    TLS_HASH_BYTES[hash],
  );
  return createHmac(hash, finishedKey).update(transcriptHash).digest();
}

/** application_traffic_secret_N+1 after a KeyUpdate (§7.2). */
export function nextTrafficSecret(hash: TlsHash, secret: Uint8Array): Buffer {
  return hkdfExpandLabel(hash, secret, 'traffic upd', Buffer.alloc(0), TLS_HASH_BYTES[hash]);
}
