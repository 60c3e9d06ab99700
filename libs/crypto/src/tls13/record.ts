/**
 * @module tls13/record: TLS 1.3 record protection (RFC 8446 §5.2–5.3): AEAD with the per-record
 * nonce (IV XOR sequence number) and the record header as additional data.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { trafficKey } from './key-schedule';
import type { CipherSuite } from './key-schedule';

export const ContentType = {
  ChangeCipherSpec: 20,
  Alert: 21,
  Handshake: 22,
  ApplicationData: 23,
} as const;

/** Largest TLSPlaintext.fragment (§5.1). */
export const MAX_PLAINTEXT = 1 << 14;
/** Largest TLSCiphertext.encrypted_record (§5.2). */
export const MAX_CIPHERTEXT = MAX_PLAINTEXT + 256;
/** AEAD tag length of every TLS 1.3 suite. */
export const AEAD_TAG_BYTES = 16;
const TAG_BYTES = AEAD_TAG_BYTES;
const IV_BYTES = 12;

const AEAD_OPTIONS = { authTagLength: TAG_BYTES };

// One branch per AEAD family: node:crypto's typings pick the AEAD overload from the literal name.
function cipherFor(suite: CipherSuite, key: Buffer, nonce: Buffer) {
  return suite.aead === 'chacha20-poly1305'
    ? createCipheriv(suite.aead, key, nonce, AEAD_OPTIONS)
    : createCipheriv(suite.aead, key, nonce, AEAD_OPTIONS);
}

function decipherFor(suite: CipherSuite, key: Buffer, nonce: Buffer) {
  return suite.aead === 'chacha20-poly1305'
    ? createDecipheriv(suite.aead, key, nonce, AEAD_OPTIONS)
    : createDecipheriv(suite.aead, key, nonce, AEAD_OPTIONS);
}

/** Raised when a record does not authenticate: the connection must end with bad_record_mac. */
export class RecordAuthError extends Error {}

/** One direction's record protection; counts its own sequence numbers. */
export class RecordProtection {
  /** Records protected so far under this key (the next record's sequence number). */
  seq = 0;
  /**
   * write_key ‖ write_iv ‖ traffic secret in one allocation: a kept-alive connection holds two of
   * these, and every separate Buffer would cost its own ArrayBuffer and backing store.
   */
  private readonly material: Buffer;

  constructor(
    private readonly suite: CipherSuite,
    secret: Uint8Array,
  ) {
    const { key, iv } = trafficKey(suite, secret);
    this.material = Buffer.allocUnsafeSlow(key.length + iv.length + secret.length);
    key.copy(this.material, 0);
    iv.copy(this.material, key.length);
    this.material.set(secret, key.length + iv.length);
  }

  /** The traffic secret these keys came from (the input of the next KeyUpdate). */
  get secret(): Buffer {
    return this.material.subarray(this.suite.keyBytes + IV_BYTES);
  }

  private key(): Buffer {
    return this.material.subarray(0, this.suite.keyBytes);
  }

  private nonce(): Buffer {
    const at = this.suite.keyBytes;
    const nonce = Buffer.from(this.material.subarray(at, at + IV_BYTES));
    const seq = this.seq++;
    // 64-bit big-endian sequence number XORed into the IV's last 8 bytes; seq stays below 2^53.
    const hi = Math.floor(seq / 0x1_0000_0000);
    const lo = seq >>> 0;
    nonce.writeUInt32BE((nonce.readUInt32BE(4) ^ hi) >>> 0, 4);
    nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ lo) >>> 0, 8);
    return nonce;
  }

  /** One protected record: header ‖ AEAD(content ‖ type). `content` is at most 2^14 bytes. */
  seal(type: number, content: Uint8Array): Buffer {
    const length = content.length + 1 + TAG_BYTES;
    const record = Buffer.allocUnsafe(5 + length);
    record[0] = ContentType.ApplicationData;
    record[1] = 3;
    record[2] = 3;
    record.writeUInt16BE(length, 3);
    const cipher = cipherFor(this.suite, this.key(), this.nonce());
    cipher.setAAD(record.subarray(0, 5));
    // TLSInnerPlaintext (content ‖ type, no padding) is built in place, then encrypted once.
    record.set(content, 5);
    record[5 + content.length] = type;
    const inner = record.subarray(5, 6 + content.length);
    let at = 5 + cipher.update(inner).copy(record, 5);
    at += cipher.final().copy(record, at);
    cipher.getAuthTag().copy(record, at);
    return record;
  }

  /**
   * Opens one protected record given its 5-byte header and body; returns the inner content type
   * and content. Throws RecordAuthError when it does not authenticate.
   */
  open(header: Buffer, body: Buffer): { type: number; content: Buffer } {
    if (body.length < 1 + TAG_BYTES) throw new RecordAuthError('record too short');
    const decipher = decipherFor(this.suite, this.key(), this.nonce());
    decipher.setAAD(header);
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const update = decipher.update(body.subarray(0, body.length - TAG_BYTES));
    let final: Buffer;
    try {
      final = decipher.final();
    } catch {
      throw new RecordAuthError('record authentication failed');
    }
    const inner = final.length === 0 ? update : Buffer.concat([update, final]);
    // Strip zero padding; the last non-zero byte is the real content type (§5.4).
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    return { type: end < 0 ? 0 : (inner[end] ?? 0), content: inner.subarray(0, Math.max(end, 0)) };
  }
}
