/**
 * @module tls13/client: a sans-I/O TLS 1.3 client (RFC 8446) for the verifier's kept-alive
 * connections to agents.
 *
 * Why it exists: Node's TLS keeps ≈ 50 KiB of native buffers and OpenSSL state per idle
 * connection (docs/performance.md, "Memory"), which at 10 000 agents is most of the verifier's
 * memory. This client keeps only two traffic keys and their secrets once the handshake is done,
 * and buffers nothing between responses.
 *
 * What it does, and nothing more: a full (EC)DHE handshake (x25519 offered first, P-256/P-384 on
 * a HelloRetryRequest), the three standard AEAD suites, certificate-based client authentication
 * when the server asks for it, KeyUpdate in both directions, close_notify. No PSK/resumption, no
 * 0-RTT, no TLS 1.2: a server that answers with TLS 1.2 (or refuses a 1.3-only hello) makes the
 * handshake fail with `fallback` set, so the caller can use Node's TLS for that peer.
 *
 * The server's certificate chain is handed to the caller's `checkServer` (the verifier pins the
 * agent's enrolled certificate); the leaf's key must then verify CertificateVerify and the
 * server's Finished must match, compared in constant time. Every length is checked against the
 * bytes present; a violation throws TlsError carrying the alert to send.
 */
import {
  constants,
  createECDH,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
  X509Certificate,
} from 'node:crypto';
import type { ECDH, Hash, KeyObject } from 'node:crypto';
import {
  CIPHER_SUITES,
  TLS_HASH_BYTES,
  cipherSuite,
  deriveSecret,
  finishedVerifyData,
  handshakeSecret,
  masterSecret,
  nextTrafficSecret,
} from './key-schedule';
import type { CipherSuite } from './key-schedule';
import {
  AEAD_TAG_BYTES,
  ContentType,
  MAX_CIPHERTEXT,
  MAX_PLAINTEXT,
  RecordAuthError,
  RecordProtection,
} from './record';

/** Alert descriptions used here (RFC 8446 §6). */
export const TlsAlert = {
  CloseNotify: 0,
  UnexpectedMessage: 10,
  BadRecordMac: 20,
  RecordOverflow: 22,
  HandshakeFailure: 40,
  BadCertificate: 42,
  IllegalParameter: 47,
  DecodeError: 50,
  DecryptError: 51,
  ProtocolVersion: 70,
  InternalError: 80,
  UserCanceled: 90,
  MissingExtension: 109,
  UnsupportedExtension: 110,
} as const;

const ALERT_NAMES: Readonly<Record<number, string>> = {
  0: 'close_notify',
  10: 'unexpected_message',
  20: 'bad_record_mac',
  22: 'record_overflow',
  40: 'handshake_failure',
  42: 'bad_certificate',
  43: 'unsupported_certificate',
  44: 'certificate_revoked',
  45: 'certificate_expired',
  46: 'certificate_unknown',
  47: 'illegal_parameter',
  48: 'unknown_ca',
  49: 'access_denied',
  50: 'decode_error',
  51: 'decrypt_error',
  70: 'protocol_version',
  71: 'insufficient_security',
  80: 'internal_error',
  86: 'inappropriate_fallback',
  90: 'user_canceled',
  109: 'missing_extension',
  110: 'unsupported_extension',
  112: 'unrecognized_name',
  116: 'certificate_required',
  120: 'no_application_protocol',
};

/** A failed connection. `alert` is what to send the peer (absent when the peer sent one). */
export class TlsError extends Error {
  constructor(
    message: string,
    readonly alert: number | undefined,
    /** The peer wants something this client does not do (TLS 1.2, a CA chain to validate). */
    readonly fallback = false,
  ) {
    super(message);
    this.name = 'TlsError';
  }
}

/** The caller's decision on the server's certificate chain (DER, leaf first). */
export type ServerCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string; readonly fallback?: boolean };

export interface Tls13ClientOptions {
  /** Client certificate chain (DER, leaf first), sent when the server asks for one. */
  readonly certificateChain: readonly Buffer[];
  /** The key of the first certificate; without it an empty Certificate is sent. */
  readonly privateKey: KeyObject | undefined;
  /** SNI host name; only for DNS names, never for IP addresses. */
  readonly serverName?: string;
  /** Decides on the server's chain (DER, leaf first; the leaf also parsed) before its signature. */
  readonly checkServer: (chain: readonly Buffer[], leaf: X509Certificate) => ServerCheck;
}

/** What one `receive` produced. */
export interface TlsEvents {
  /** Records to write to the transport, in order. */
  readonly send: Buffer[];
  /** Application data, in order. */
  readonly data: Buffer[];
  /** The handshake completed in this call: requests may be written now. */
  established: boolean;
  /** The server sent close_notify: no more data will come. */
  closed: boolean;
}

/** A handshake message may be large (a certificate chain), never this large. */
const MAX_HANDSHAKE_MESSAGE = 128 * 1024;
const MAX_CERTIFICATES = 16;
/** AES-GCM's safe margin is 2^24.5 full records per key (§5.5); rekey well before. */
const RECORDS_PER_KEY = 1 << 24;

const HandshakeType = {
  ClientHello: 1,
  ServerHello: 2,
  NewSessionTicket: 4,
  EncryptedExtensions: 8,
  Certificate: 11,
  CertificateRequest: 13,
  CertificateVerify: 15,
  Finished: 20,
  KeyUpdate: 24,
  MessageHash: 254,
} as const;

const Ext = {
  ServerName: 0,
  SupportedGroups: 10,
  SignatureAlgorithms: 13,
  Alpn: 16,
  PreSharedKey: 41,
  EarlyData: 42,
  SupportedVersions: 43,
  Cookie: 44,
  PskKeyExchangeModes: 45,
  CertificateAuthorities: 47,
  OidFilters: 48,
  PostHandshakeAuth: 49,
  SignatureAlgorithmsCert: 50,
  KeyShare: 51,
} as const;

/** Extensions a server must never put in EncryptedExtensions (§4.2 table). */
const FORBIDDEN_IN_EE = new Set<number>([
  Ext.SignatureAlgorithms,
  Ext.PreSharedKey,
  Ext.SupportedVersions,
  Ext.Cookie,
  Ext.PskKeyExchangeModes,
  Ext.CertificateAuthorities,
  Ext.OidFilters,
  Ext.PostHandshakeAuth,
  Ext.SignatureAlgorithmsCert,
  Ext.KeyShare,
]);

const TLS13 = 0x0304;
const LEGACY_VERSION = 0x0303;

/** ServerHello.random of a HelloRetryRequest (§4.1.3). */
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c',
  'hex',
);

/** Last 8 bytes of ServerHello.random when a 1.3-capable server negotiates 1.2 or below. */
const DOWNGRADE_SENTINELS = [
  Buffer.from('444f574e47524401', 'hex'),
  Buffer.from('444f574e47524400', 'hex'),
];

const Group = { X25519: 0x001d, Secp256r1: 0x0017, Secp384r1: 0x0018 } as const;
const GROUPS: readonly number[] = [Group.X25519, Group.Secp256r1, Group.Secp384r1];
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

interface SignatureScheme {
  readonly code: number;
  /** node:crypto digest, null for EdDSA. */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  readonly keyType: 'ec' | 'rsa' | 'rsa-pss' | 'ed25519' | 'ed448';
  readonly curve?: string;
}

/** Offered for CertificateVerify, in preference order (§4.2.3; no PKCS#1 v1.5, no SHA-1). */
const SIGNATURE_SCHEMES: readonly SignatureScheme[] = [
  { code: 0x0403, hash: 'sha256', keyType: 'ec', curve: 'prime256v1' },
  { code: 0x0503, hash: 'sha384', keyType: 'ec', curve: 'secp384r1' },
  { code: 0x0603, hash: 'sha512', keyType: 'ec', curve: 'secp521r1' },
  { code: 0x0807, hash: null, keyType: 'ed25519' },
  { code: 0x0808, hash: null, keyType: 'ed448' },
  { code: 0x0804, hash: 'sha256', keyType: 'rsa' },
  { code: 0x0805, hash: 'sha384', keyType: 'rsa' },
  { code: 0x0806, hash: 'sha512', keyType: 'rsa' },
  { code: 0x0809, hash: 'sha256', keyType: 'rsa-pss' },
  { code: 0x080a, hash: 'sha384', keyType: 'rsa-pss' },
  { code: 0x080b, hash: 'sha512', keyType: 'rsa-pss' },
];

const DIGEST_BYTES = { sha256: 32, sha384: 48, sha512: 64 } as const;

function schemeMatchesKey(s: SignatureScheme, key: KeyObject): boolean {
  if (key.asymmetricKeyType !== s.keyType) return false;
  return s.curve === undefined || key.asymmetricKeyDetails?.namedCurve === s.curve;
}

function signatureInput(s: SignatureScheme, key: KeyObject) {
  if (s.keyType === 'ec') return { key, dsaEncoding: 'der' as const };
  if (s.keyType === 'rsa' || s.keyType === 'rsa-pss') {
    return {
      key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: s.hash === null ? 0 : DIGEST_BYTES[s.hash],
    };
  }
  return key;
}

/** The signed content of a CertificateVerify (§4.4.3). */
function certificateVerifyContent(side: 'server' | 'client', transcriptHash: Buffer): Buffer {
  return Buffer.concat([
    Buffer.alloc(64, 0x20),
    Buffer.from(`TLS 1.3, ${side} CertificateVerify\0`, 'latin1'),
    transcriptHash,
  ]);
}

/** Bounds-checked reading of one message; every shortfall is a decode_error. */
class Cursor {
  private off = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  private need(n: number): number {
    const at = this.off;
    if (this.buf.length - at < n) throw decodeError(`${this.what} is truncated`);
    this.off += n;
    return at;
  }

  get left(): number {
    return this.buf.length - this.off;
  }

  u8(): number {
    return this.buf[this.need(1)] ?? 0;
  }

  u16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  u32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  vec8(): Buffer {
    return this.bytes(this.u8());
  }

  vec16(): Buffer {
    return this.bytes(this.u16());
  }

  vec24(): Buffer {
    const at = this.need(3);
    return this.bytes(this.buf.readUIntBE(at, 3));
  }

  end(): void {
    if (this.off !== this.buf.length) throw decodeError(`${this.what} has trailing bytes`);
  }
}

function decodeError(message: string): TlsError {
  return new TlsError(message, TlsAlert.DecodeError);
}

function illegal(message: string): TlsError {
  return new TlsError(message, TlsAlert.IllegalParameter);
}

function unexpected(message: string): TlsError {
  return new TlsError(message, TlsAlert.UnexpectedMessage);
}

/** An extension block as type → body; a repeated type is illegal (§4.2). */
function parseExtensions(block: Buffer, what: string): Map<number, Buffer> {
  const c = new Cursor(block, `${what} extensions`);
  const out = new Map<number, Buffer>();
  while (c.left > 0) {
    const type = c.u16();
    const body = c.vec16();
    if (out.has(type)) throw illegal(`${what} repeats extension ${type}`);
    out.set(type, body);
  }
  return out;
}

function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v, 0);
  return b;
}

function u24(v: number): Buffer {
  const b = Buffer.allocUnsafe(3);
  b.writeUIntBE(v, 0, 3);
  return b;
}

function vec8(body: Buffer): Buffer {
  return Buffer.concat([Buffer.of(body.length), body]);
}

function vec16(body: Buffer): Buffer {
  return Buffer.concat([u16(body.length), body]);
}

function vec24(body: Buffer): Buffer {
  return Buffer.concat([u24(body.length), body]);
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(body)]);
}

function handshakeMessage(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.of(type), u24(body.length), body]);
}

function u16List(values: readonly number[]): Buffer {
  return Buffer.concat(values.map(u16));
}

/** An ephemeral key share for one group. */
interface KeyShare {
  readonly group: number;
  readonly publicKey: Buffer;
  readonly agree: (peer: Buffer) => Buffer;
}

function newKeyShare(group: number): KeyShare {
  if (group === Group.X25519) {
    const { privateKey, publicKey } = generateKeyPairSync('x25519');
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    return {
      group,
      publicKey: spki.subarray(spki.length - 32),
      agree: (peer) => {
        if (peer.length !== 32) throw illegal('x25519 key share is not 32 bytes');
        const peerKey = createPublicKey({
          key: Buffer.concat([X25519_SPKI_PREFIX, peer]),
          format: 'der',
          type: 'spki',
        });
        return diffieHellman({ privateKey, publicKey: peerKey });
      },
    };
  }
  const curve = group === Group.Secp256r1 ? 'prime256v1' : 'secp384r1';
  const pointBytes = group === Group.Secp256r1 ? 65 : 97;
  const ecdh: ECDH = createECDH(curve);
  const publicKey = ecdh.generateKeys();
  return {
    group,
    publicKey,
    agree: (peer) => {
      // Uncompressed points only (§4.2.8.2); computeSecret rejects points off the curve.
      if (peer.length !== pointBytes || peer[0] !== 4)
        throw illegal(`${curve} key share is malformed`);
      return ecdh.computeSecret(peer);
    },
  };
}

/** State that lives only until the handshake completes. */
interface HandshakeState {
  readonly sessionId: Buffer;
  readonly random: Buffer;
  shares: KeyShare[];
  /** The first ClientHello, until the transcript hash is known. */
  clientHello: Buffer | undefined;
  transcript: Hash | undefined;
  /** The suite a HelloRetryRequest chose; the ServerHello must repeat it. */
  retrySuite: CipherSuite | undefined;
  sentChangeCipherSpec: boolean;
  handshakeSecret: Buffer | undefined;
  clientSecret: Buffer | undefined;
  serverSecret: Buffer | undefined;
  /** The server's CertificateRequest: its signature schemes. */
  requestedSchemes: readonly number[] | undefined;
  serverKey: KeyObject | undefined;
}

type State =
  | 'start'
  | 'wait-server-hello'
  | 'wait-encrypted-extensions'
  | 'wait-certificate-or-request'
  | 'wait-certificate'
  | 'wait-certificate-verify'
  | 'wait-finished'
  | 'connected'
  | 'closed'
  | 'failed';

const CHANGE_CIPHER_SPEC_RECORD = Buffer.from([ContentType.ChangeCipherSpec, 3, 3, 0, 1, 1]);

/** One client connection's TLS 1.3 state machine; the caller moves the bytes. */
export class Tls13Client {
  private state: State = 'start';
  private hs: HandshakeState | undefined;
  private suite: CipherSuite | undefined;
  private read: RecordProtection | undefined;
  private write: RecordProtection | undefined;
  /** Bytes of an incomplete record. */
  private partialRecord: Buffer | undefined;
  /** Bytes of an incomplete handshake message. */
  private partialHandshake: Buffer | undefined;
  private options: Tls13ClientOptions | undefined;

  constructor(options: Tls13ClientOptions) {
    this.options = options;
  }

  /** Handshake done and not closed: `seal` may be called. */
  get established(): boolean {
    return this.state === 'connected';
  }

  /** A method, not a comparison, so TypeScript does not narrow `state` across calls that change it. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** The negotiated suite's name, once the ServerHello is in. */
  get cipherSuite(): string | undefined {
    return this.suite?.name;
  }

  /** The first flight: a ClientHello record. */
  start(): Buffer {
    if (this.state !== 'start') throw new Error('TLS client already started');
    const hs: HandshakeState = {
      sessionId: randomBytes(32),
      random: randomBytes(32),
      shares: [newKeyShare(Group.X25519)],
      clientHello: undefined,
      transcript: undefined,
      retrySuite: undefined,
      sentChangeCipherSpec: false,
      handshakeSecret: undefined,
      clientSecret: undefined,
      serverSecret: undefined,
      requestedSchemes: undefined,
      serverKey: undefined,
    };
    this.hs = hs;
    const hello = this.clientHello(hs, undefined);
    hs.clientHello = hello;
    this.state = 'wait-server-hello';
    return plaintextRecords(ContentType.Handshake, hello);
  }

  /**
   * Feeds bytes from the transport. Returns records to send, application data and state changes.
   * Throws TlsError on any violation; the connection is then dead (send `alertFor(error)`).
   */
  receive(chunk: Buffer): TlsEvents {
    const events: TlsEvents = { send: [], data: [], established: false, closed: false };
    if (this.state === 'closed' || this.state === 'failed') return events;
    if (this.state === 'start') throw new Error('TLS client not started');
    let buf = chunk;
    if (this.partialRecord !== undefined) {
      buf = Buffer.concat([this.partialRecord, chunk]);
      this.partialRecord = undefined;
    }
    let off = 0;
    try {
      while (buf.length - off >= 5) {
        const type = buf[off] ?? 0;
        if (buf[off + 1] !== 3) {
          throw decodeError(
            this.state === 'wait-server-hello'
              ? 'the peer did not answer with TLS (is it serving plain HTTP?)'
              : 'not a TLS record',
          );
        }
        if (type < ContentType.ChangeCipherSpec || type > ContentType.ApplicationData) {
          throw unexpected(`record of content type ${type}`);
        }
        const length = buf.readUInt16BE(off + 3);
        if (length > MAX_CIPHERTEXT) {
          throw new TlsError(`record of ${length} bytes is too long`, TlsAlert.RecordOverflow);
        }
        if (buf.length - off - 5 < length) break;
        const header = buf.subarray(off, off + 5);
        const body = buf.subarray(off + 5, off + 5 + length);
        off += 5 + length;
        this.onRecord(type, header, body, events);
        if (this.isClosed()) return events;
      }
    } catch (e) {
      this.fail();
      throw e;
    }
    // Keep only the incomplete record, in its own memory (the chunk may be a large read buffer).
    if (off < buf.length) this.partialRecord = Buffer.from(buf.subarray(off));
    return events;
  }

  /** Application data as protected records (split at 2^14 bytes, rekeyed when due). */
  seal(data: Uint8Array): Buffer {
    if (this.state !== 'connected') throw new Error('TLS connection is not established');
    const records: Buffer[] = [];
    let at = 0;
    do {
      if (this.writeProtection().seq >= RECORDS_PER_KEY) records.push(this.updateWriteKey(false));
      const fragment = data.subarray(at, at + MAX_PLAINTEXT);
      records.push(this.writeProtection().seal(ContentType.ApplicationData, fragment));
      at += MAX_PLAINTEXT;
    } while (at < data.length);
    return records.length === 1 ? (records[0] ?? Buffer.alloc(0)) : Buffer.concat(records);
  }

  /** The current write keys (a KeyUpdate replaces them between two records of one `seal`). */
  private writeProtection(): RecordProtection {
    if (this.write === undefined) throw new TlsError('no traffic keys', TlsAlert.InternalError);
    return this.write;
  }

  /** close_notify, protected when keys exist; the client is closed afterwards. */
  close(): Buffer | undefined {
    if (this.state === 'closed' || this.state === 'failed' || this.state === 'start')
      return undefined;
    const alert = this.alertRecord(TlsAlert.CloseNotify);
    this.state = 'closed';
    this.dropSecrets();
    return alert;
  }

  /** The alert record to send after `receive` threw `error` (none when the peer sent an alert). */
  alertFor(error: unknown): Buffer | undefined {
    const alert = error instanceof TlsError ? error.alert : TlsAlert.InternalError;
    return alert === undefined ? undefined : this.alertRecord(alert);
  }

  private alertRecord(description: number): Buffer {
    const body = Buffer.of(
      description === TlsAlert.CloseNotify || description === TlsAlert.UserCanceled ? 1 : 2,
      description,
    );
    return this.write === undefined
      ? plaintextRecords(ContentType.Alert, body)
      : this.write.seal(ContentType.Alert, body);
  }

  private fail(): void {
    this.state = 'failed';
    this.hs = undefined;
    this.partialRecord = undefined;
    this.partialHandshake = undefined;
    this.options = undefined;
  }

  private dropSecrets(): void {
    this.hs = undefined;
    this.read = undefined;
    this.partialRecord = undefined;
    this.partialHandshake = undefined;
    this.options = undefined;
  }

  private onRecord(type: number, header: Buffer, body: Buffer, events: TlsEvents): void {
    if (type !== ContentType.ApplicationData) this.checkNotInterleaved(type);
    if (type === ContentType.ChangeCipherSpec) {
      // Middlebox compatibility (§5): one byte 0x01, dropped, only while the handshake runs.
      if (this.state === 'connected' || body.length !== 1 || body[0] !== 1) {
        throw unexpected('unexpected change_cipher_spec record');
      }
      return;
    }
    const read = this.read;
    if (read === undefined) {
      if (type === ContentType.ApplicationData)
        throw unexpected('protected record before ServerHello');
      if (body.length > MAX_PLAINTEXT) {
        throw new TlsError('plaintext record too long', TlsAlert.RecordOverflow);
      }
      this.onContent(type, body, events);
      return;
    }
    if (type !== ContentType.ApplicationData)
      throw unexpected('unprotected record after ServerHello');
    // TLSInnerPlaintext, padding included, is at most 2^14 + 1 bytes (§5.4).
    if (body.length - AEAD_TAG_BYTES > MAX_PLAINTEXT + 1) {
      throw new TlsError('record plaintext too long', TlsAlert.RecordOverflow);
    }
    let inner: { type: number; content: Buffer };
    try {
      inner = read.open(header, body);
    } catch (e) {
      if (e instanceof RecordAuthError) throw new TlsError(e.message, TlsAlert.BadRecordMac);
      throw e;
    }
    this.checkNotInterleaved(inner.type);
    if (inner.type === ContentType.ApplicationData) {
      if (this.state !== 'connected')
        throw unexpected('application data before the handshake completed');
      if (inner.content.length > 0) events.data.push(inner.content);
      return;
    }
    if (inner.type !== ContentType.Handshake && inner.type !== ContentType.Alert) {
      throw unexpected(`record of content type ${inner.type}`);
    }
    this.onContent(inner.type, inner.content, events);
  }

  /** Other records must not split a handshake message (§5.1). */
  private checkNotInterleaved(type: number): void {
    if (type !== ContentType.Handshake && this.partialHandshake !== undefined) {
      throw unexpected('record interleaved with a fragmented handshake message');
    }
  }

  private onContent(type: number, content: Buffer, events: TlsEvents): void {
    if (type === ContentType.Alert) {
      this.onAlert(content, events);
      return;
    }
    if (content.length === 0) throw unexpected('empty handshake record');
    let buf = content;
    if (this.partialHandshake !== undefined) {
      buf = Buffer.concat([this.partialHandshake, content]);
      this.partialHandshake = undefined;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const length = buf.readUIntBE(off + 1, 3);
      if (length > MAX_HANDSHAKE_MESSAGE) {
        throw decodeError(`handshake message of ${length} bytes exceeds ${MAX_HANDSHAKE_MESSAGE}`);
      }
      if (buf.length - off - 4 < length) break;
      const raw = buf.subarray(off, off + 4 + length);
      off += 4 + length;
      const keysChange = this.onHandshake(raw[0] ?? 0, raw.subarray(4), raw, events);
      // A message after which the read keys change must end its record (§5.1).
      if (keysChange && off < buf.length) throw unexpected('handshake message spans a key change');
      if (this.isClosed()) return;
    }
    if (off < buf.length) this.partialHandshake = Buffer.from(buf.subarray(off));
  }

  private onAlert(content: Buffer, events: TlsEvents): void {
    if (content.length !== 2) throw decodeError('alert is not two bytes');
    const description = content[1] ?? 0;
    if (description === TlsAlert.CloseNotify) {
      if (this.state !== 'connected') {
        throw new TlsError('the peer closed the connection during the TLS handshake', undefined);
      }
      this.state = 'closed';
      this.dropSecrets();
      events.closed = true;
      return;
    }
    if (description === TlsAlert.UserCanceled) return;
    const name = ALERT_NAMES[description] ?? `alert ${description}`;
    // A 1.2-only server refuses a 1.3-only hello with one of these.
    const fallback =
      this.state === 'wait-server-hello' &&
      (description === TlsAlert.ProtocolVersion || description === TlsAlert.HandshakeFailure);
    throw new TlsError(`the peer sent TLS alert ${name}`, undefined, fallback);
  }

  /** One handshake message; returns whether the read keys changed after it. */
  private onHandshake(type: number, body: Buffer, raw: Buffer, events: TlsEvents): boolean {
    switch (this.state) {
      case 'wait-server-hello':
        if (type !== HandshakeType.ServerHello)
          throw unexpected(`handshake message ${type} instead of ServerHello`);
        return this.onServerHello(body, raw, events);
      case 'wait-encrypted-extensions':
        if (type !== HandshakeType.EncryptedExtensions) {
          throw unexpected(`handshake message ${type} instead of EncryptedExtensions`);
        }
        this.onEncryptedExtensions(body, raw);
        return false;
      case 'wait-certificate-or-request':
        if (type === HandshakeType.CertificateRequest) {
          this.onCertificateRequest(body, raw);
          return false;
        }
        if (type === HandshakeType.Certificate) {
          this.onCertificate(body, raw);
          return false;
        }
        // No PSK was offered, so the server must authenticate with a certificate.
        throw unexpected(`handshake message ${type} instead of Certificate`);
      case 'wait-certificate':
        if (type !== HandshakeType.Certificate)
          throw unexpected(`handshake message ${type} instead of Certificate`);
        this.onCertificate(body, raw);
        return false;
      case 'wait-certificate-verify':
        if (type !== HandshakeType.CertificateVerify) {
          throw unexpected(`handshake message ${type} instead of CertificateVerify`);
        }
        this.onCertificateVerify(body, raw);
        return false;
      case 'wait-finished':
        if (type !== HandshakeType.Finished)
          throw unexpected(`handshake message ${type} instead of Finished`);
        this.onFinished(body, raw, events);
        return true;
      case 'connected':
        if (type === HandshakeType.NewSessionTicket) {
          checkNewSessionTicket(body);
          return false;
        }
        if (type === HandshakeType.KeyUpdate) {
          this.onKeyUpdate(body, events);
          return true;
        }
        throw unexpected(`post-handshake message ${type}`);
      default:
        throw unexpected(`handshake message ${type} in state ${this.state}`);
    }
  }

  private handshake(): HandshakeState {
    if (this.hs === undefined)
      throw new TlsError('no handshake in progress', TlsAlert.InternalError);
    return this.hs;
  }

  private transcriptHash(): Buffer {
    const t = this.handshake().transcript;
    if (t === undefined) throw new TlsError('no transcript', TlsAlert.InternalError);
    return t.copy().digest();
  }

  private clientHello(hs: HandshakeState, cookie: Buffer | undefined): Buffer {
    const serverName = this.options?.serverName;
    const extensions = [
      ...(serverName === undefined || serverName === ''
        ? []
        : [
            extension(
              Ext.ServerName,
              vec16(Buffer.concat([Buffer.of(0), vec16(Buffer.from(serverName, 'ascii'))])),
            ),
          ]),
      extension(Ext.SupportedVersions, vec8(u16(TLS13))),
      extension(Ext.SupportedGroups, vec16(u16List(GROUPS))),
      extension(Ext.SignatureAlgorithms, vec16(u16List(SIGNATURE_SCHEMES.map((s) => s.code)))),
      extension(
        Ext.KeyShare,
        vec16(
          Buffer.concat(hs.shares.map((s) => Buffer.concat([u16(s.group), vec16(s.publicKey)]))),
        ),
      ),
      ...(cookie === undefined ? [] : [extension(Ext.Cookie, vec16(cookie))]),
    ];
    const body = Buffer.concat([
      u16(LEGACY_VERSION),
      hs.random,
      vec8(hs.sessionId),
      vec16(u16List(CIPHER_SUITES.map((s) => s.code))),
      vec8(Buffer.of(0)),
      vec16(Buffer.concat(extensions)),
    ]);
    return handshakeMessage(HandshakeType.ClientHello, body);
  }

  private onServerHello(body: Buffer, raw: Buffer, events: TlsEvents): boolean {
    const hs = this.handshake();
    const c = new Cursor(body, 'ServerHello');
    const legacyVersion = c.u16();
    const random = c.bytes(32);
    const sessionEcho = c.vec8();
    const suiteCode = c.u16();
    const compression = c.u8();
    const extensions =
      c.left > 0 ? parseExtensions(c.vec16(), 'ServerHello') : new Map<number, Buffer>();
    c.end();
    const version = extensions.get(Ext.SupportedVersions);
    if (version === undefined && DOWNGRADE_SENTINELS.some((d) => random.subarray(24).equals(d))) {
      // A TLS 1.3 server marks a downgrade it was forced into (§4.1.3): an attack, never a fallback.
      throw illegal('the ServerHello carries the TLS 1.3 downgrade sentinel');
    }
    if (version === undefined) {
      throw new TlsError(
        `the peer chose TLS ${legacyVersion === 0x0303 ? '1.2' : 'before 1.2'}, not TLS 1.3`,
        TlsAlert.ProtocolVersion,
        true,
      );
    }
    if (version.length !== 2 || version.readUInt16BE(0) !== TLS13) {
      throw illegal('ServerHello selected a version that was not offered');
    }
    if (legacyVersion !== LEGACY_VERSION) throw illegal('ServerHello legacy_version is not 0x0303');
    if (!sessionEcho.equals(hs.sessionId))
      throw illegal('ServerHello does not echo the session id');
    const suite = cipherSuite(suiteCode);
    if (suite === undefined)
      throw illegal(`ServerHello selected cipher suite 0x${suiteCode.toString(16)}`);
    if (compression !== 0) throw illegal('ServerHello selected compression');
    if (random.equals(HRR_RANDOM))
      return this.onHelloRetryRequest(hs, suite, extensions, raw, events);

    if (hs.retrySuite !== undefined && hs.retrySuite !== suite) {
      throw illegal('ServerHello cipher suite differs from the HelloRetryRequest');
    }
    for (const type of extensions.keys()) {
      if (type !== Ext.SupportedVersions && type !== Ext.KeyShare) {
        throw new TlsError(
          `ServerHello carries extension ${type} that was not offered`,
          TlsAlert.UnsupportedExtension,
        );
      }
    }
    const keyShare = extensions.get(Ext.KeyShare);
    if (keyShare === undefined)
      throw new TlsError('ServerHello has no key_share', TlsAlert.MissingExtension);
    const k = new Cursor(keyShare, 'ServerHello key_share');
    const group = k.u16();
    const peerKey = k.vec16();
    k.end();
    const share = hs.shares.find((s) => s.group === group);
    if (share === undefined)
      throw illegal(`ServerHello key_share uses group ${group} that was not sent`);
    let shared: Buffer;
    try {
      shared = share.agree(peerKey);
    } catch (e) {
      if (e instanceof TlsError) throw e;
      throw illegal('the server key share is not a valid public key');
    }
    if (shared.every((b) => b === 0)) throw illegal('key exchange produced an all-zero secret');

    this.suite = suite;
    if (hs.transcript === undefined) {
      hs.transcript = createHash(suite.hash);
      if (hs.clientHello !== undefined) hs.transcript.update(hs.clientHello);
    }
    hs.transcript.update(raw);
    hs.clientHello = undefined;
    hs.shares = [];
    const secret = handshakeSecret(suite.hash, shared);
    const th = this.transcriptHash();
    hs.handshakeSecret = secret;
    hs.clientSecret = deriveSecret(suite.hash, secret, 'c hs traffic', th);
    hs.serverSecret = deriveSecret(suite.hash, secret, 's hs traffic', th);
    this.read = new RecordProtection(suite, hs.serverSecret);
    this.write = new RecordProtection(suite, hs.clientSecret);
    this.state = 'wait-encrypted-extensions';
    return true;
  }

  private onHelloRetryRequest(
    hs: HandshakeState,
    suite: CipherSuite,
    extensions: Map<number, Buffer>,
    raw: Buffer,
    events: TlsEvents,
  ): boolean {
    if (hs.retrySuite !== undefined) throw unexpected('a second HelloRetryRequest');
    for (const type of extensions.keys()) {
      if (type !== Ext.SupportedVersions && type !== Ext.KeyShare && type !== Ext.Cookie) {
        throw new TlsError(
          `HelloRetryRequest carries extension ${type}`,
          TlsAlert.UnsupportedExtension,
        );
      }
    }
    const keyShare = extensions.get(Ext.KeyShare);
    const cookieExt = extensions.get(Ext.Cookie);
    let group: number | undefined;
    if (keyShare !== undefined) {
      const k = new Cursor(keyShare, 'HelloRetryRequest key_share');
      group = k.u16();
      k.end();
      if (!GROUPS.includes(group) || hs.shares.some((s) => s.group === group)) {
        throw illegal(`HelloRetryRequest asks for group ${group}`);
      }
    }
    let cookie: Buffer | undefined;
    if (cookieExt !== undefined) {
      const k = new Cursor(cookieExt, 'HelloRetryRequest cookie');
      cookie = k.vec16();
      k.end();
      if (cookie.length === 0) throw decodeError('HelloRetryRequest cookie is empty');
    }
    if (group === undefined && cookie === undefined) {
      throw illegal('HelloRetryRequest would not change the ClientHello');
    }
    const first = hs.clientHello;
    if (first === undefined) throw new TlsError('no ClientHello to retry', TlsAlert.InternalError);
    // The transcript restarts from message_hash(ClientHello1) (§4.4.1).
    const transcript = createHash(suite.hash);
    transcript.update(
      handshakeMessage(HandshakeType.MessageHash, createHash(suite.hash).update(first).digest()),
    );
    transcript.update(raw);
    if (group !== undefined) hs.shares = [newKeyShare(group)];
    const second = this.clientHello(hs, cookie);
    transcript.update(second);
    hs.transcript = transcript;
    hs.clientHello = undefined;
    hs.retrySuite = suite;
    hs.sentChangeCipherSpec = true;
    events.send.push(CHANGE_CIPHER_SPEC_RECORD, plaintextRecords(ContentType.Handshake, second));
    return true;
  }

  private onEncryptedExtensions(body: Buffer, raw: Buffer): void {
    const c = new Cursor(body, 'EncryptedExtensions');
    const extensions = parseExtensions(c.vec16(), 'EncryptedExtensions');
    c.end();
    for (const [type, ext] of extensions) {
      if (type === Ext.SupportedGroups) continue;
      if (type === Ext.ServerName && ext.length === 0 && this.options?.serverName) continue;
      if (FORBIDDEN_IN_EE.has(type)) throw illegal(`EncryptedExtensions carries extension ${type}`);
      throw new TlsError(
        `EncryptedExtensions carries extension ${type} that was not offered`,
        TlsAlert.UnsupportedExtension,
      );
    }
    this.handshake().transcript?.update(raw);
    this.state = 'wait-certificate-or-request';
  }

  private onCertificateRequest(body: Buffer, raw: Buffer): void {
    const c = new Cursor(body, 'CertificateRequest');
    const context = c.vec8();
    const extensions = parseExtensions(c.vec16(), 'CertificateRequest');
    c.end();
    if (context.length !== 0)
      throw illegal('CertificateRequest context must be empty in the handshake');
    const algorithms = extensions.get(Ext.SignatureAlgorithms);
    if (algorithms === undefined) {
      throw new TlsError(
        'CertificateRequest has no signature_algorithms',
        TlsAlert.MissingExtension,
      );
    }
    const a = new Cursor(algorithms, 'CertificateRequest signature_algorithms');
    const list = a.vec16();
    a.end();
    if (list.length === 0 || list.length % 2 !== 0)
      throw decodeError('signature_algorithms list is malformed');
    const schemes: number[] = [];
    for (let i = 0; i < list.length; i += 2) schemes.push(list.readUInt16BE(i));
    const hs = this.handshake();
    hs.requestedSchemes = schemes;
    hs.transcript?.update(raw);
    this.state = 'wait-certificate';
  }

  private onCertificate(body: Buffer, raw: Buffer): void {
    const c = new Cursor(body, 'Certificate');
    const context = c.vec8();
    const list = new Cursor(c.vec24(), 'certificate_list');
    c.end();
    if (context.length !== 0) throw illegal('server Certificate has a request context');
    const chain: Buffer[] = [];
    while (list.left > 0) {
      const der = list.vec24();
      const extensions = list.vec16();
      if (der.length === 0) throw decodeError('empty certificate in the chain');
      if (extensions.length !== 0) {
        throw new TlsError(
          'certificate entry carries extensions that were not requested',
          TlsAlert.UnsupportedExtension,
        );
      }
      if (chain.length === MAX_CERTIFICATES) throw decodeError('certificate chain is too long');
      chain.push(der);
    }
    const leaf = chain[0];
    if (leaf === undefined) throw decodeError('the peer sent no certificate');
    const options = this.options;
    if (options === undefined) throw new TlsError('no options', TlsAlert.InternalError);
    let leafCert: X509Certificate;
    try {
      leafCert = new X509Certificate(leaf);
    } catch {
      throw new TlsError('the peer certificate does not parse', TlsAlert.BadCertificate);
    }
    const check = options.checkServer(chain, leafCert);
    if (!check.ok)
      throw new TlsError(check.reason, TlsAlert.BadCertificate, check.fallback === true);
    const key = leafCert.publicKey;
    const hs = this.handshake();
    hs.serverKey = key;
    hs.transcript?.update(raw);
    this.state = 'wait-certificate-verify';
  }

  private onCertificateVerify(body: Buffer, raw: Buffer): void {
    const c = new Cursor(body, 'CertificateVerify');
    const code = c.u16();
    const signature = c.vec16();
    c.end();
    const hs = this.handshake();
    const key = hs.serverKey;
    const scheme = SIGNATURE_SCHEMES.find((s) => s.code === code);
    if (scheme === undefined || key === undefined) {
      throw illegal(
        `CertificateVerify uses signature scheme 0x${code.toString(16)} that was not offered`,
      );
    }
    if (!schemeMatchesKey(scheme, key)) {
      throw illegal(`signature scheme 0x${code.toString(16)} does not match the certificate key`);
    }
    const content = certificateVerifyContent('server', this.transcriptHash());
    let ok = false;
    try {
      ok = verify(scheme.hash, content, signatureInput(scheme, key), signature);
    } catch {
      ok = false;
    }
    if (!ok)
      throw new TlsError(
        'the peer CertificateVerify signature does not verify',
        TlsAlert.DecryptError,
      );
    hs.transcript?.update(raw);
    hs.serverKey = undefined;
    this.state = 'wait-finished';
  }

  private onFinished(body: Buffer, raw: Buffer, events: TlsEvents): void {
    const hs = this.handshake();
    const suite = this.suite;
    const secret = hs.handshakeSecret;
    const serverSecret = hs.serverSecret;
    const clientSecret = hs.clientSecret;
    const handshakeWrite = this.write;
    if (
      suite === undefined ||
      secret === undefined ||
      serverSecret === undefined ||
      clientSecret === undefined ||
      handshakeWrite === undefined
    ) {
      throw new TlsError('handshake keys missing', TlsAlert.InternalError);
    }
    if (body.length !== TLS_HASH_BYTES[suite.hash])
      throw decodeError('Finished has the wrong length');
    const expected = finishedVerifyData(suite.hash, serverSecret, this.transcriptHash());
    if (!timingSafeEqual(expected, body))
      throw new TlsError('the peer Finished does not verify', TlsAlert.DecryptError);
    hs.transcript?.update(raw);
    const serverFinishedHash = this.transcriptHash();
    const master = masterSecret(suite.hash, secret);
    const clientApp = deriveSecret(suite.hash, master, 'c ap traffic', serverFinishedHash);
    const serverApp = deriveSecret(suite.hash, master, 's ap traffic', serverFinishedHash);

    // The client's second flight, under the client handshake key.
    if (!hs.sentChangeCipherSpec) events.send.push(CHANGE_CIPHER_SPEC_RECORD);
    if (hs.requestedSchemes !== undefined) {
      const flight = this.clientCertificate(hs.requestedSchemes);
      for (const message of flight) {
        events.send.push(protectedRecords(handshakeWrite, ContentType.Handshake, message));
        hs.transcript?.update(message);
      }
    }
    const finished = handshakeMessage(
      HandshakeType.Finished,
      finishedVerifyData(suite.hash, clientSecret, this.transcriptHash()),
    );
    events.send.push(protectedRecords(handshakeWrite, ContentType.Handshake, finished));

    this.read = new RecordProtection(suite, serverApp);
    this.write = new RecordProtection(suite, clientApp);
    this.hs = undefined;
    this.options = undefined;
    this.state = 'connected';
    events.established = true;
  }

  /** Certificate (and CertificateVerify when there is a certificate) for the server's request. */
  private clientCertificate(requested: readonly number[]): Buffer[] {
    const options = this.options;
    const key = options?.privateKey;
    const chain = key === undefined ? [] : (options?.certificateChain ?? []);
    const entries = Buffer.concat(chain.map((der) => Buffer.concat([vec24(der), u16(0)])));
    const certificate = handshakeMessage(
      HandshakeType.Certificate,
      Buffer.concat([vec8(Buffer.alloc(0)), vec24(entries)]),
    );
    if (key === undefined || chain.length === 0) return [certificate];
    const scheme = SIGNATURE_SCHEMES.find(
      (s) => requested.includes(s.code) && schemeMatchesKey(s, key),
    );
    if (scheme === undefined) {
      throw new TlsError(
        "the peer accepts no signature scheme that the verifier's client key can make",
        TlsAlert.HandshakeFailure,
      );
    }
    const transcript = this.handshake().transcript;
    if (transcript === undefined) throw new TlsError('no transcript', TlsAlert.InternalError);
    const th = transcript.copy().update(certificate).digest();
    const signature = sign(
      scheme.hash,
      certificateVerifyContent('client', th),
      signatureInput(scheme, key),
    );
    const verifyMessage = handshakeMessage(
      HandshakeType.CertificateVerify,
      Buffer.concat([u16(scheme.code), vec16(signature)]),
    );
    return [certificate, verifyMessage];
  }

  private onKeyUpdate(body: Buffer, events: TlsEvents): void {
    const suite = this.suite;
    const read = this.read;
    if (suite === undefined || read === undefined)
      throw new TlsError('no traffic keys', TlsAlert.InternalError);
    if (body.length !== 1 || (body[0] !== 0 && body[0] !== 1))
      throw illegal('KeyUpdate request is not 0 or 1');
    this.read = new RecordProtection(suite, nextTrafficSecret(suite.hash, read.secret));
    if (body[0] === 1) events.send.push(this.updateWriteKey(false));
  }

  /** A KeyUpdate record under the current write key, after which the write key moves on. */
  private updateWriteKey(requestUpdate: boolean): Buffer {
    const suite = this.suite;
    const write = this.write;
    if (suite === undefined || write === undefined) {
      throw new TlsError('no traffic keys', TlsAlert.InternalError);
    }
    const record = write.seal(
      ContentType.Handshake,
      handshakeMessage(HandshakeType.KeyUpdate, Buffer.of(requestUpdate ? 1 : 0)),
    );
    this.write = new RecordProtection(suite, nextTrafficSecret(suite.hash, write.secret));
    return record;
  }
}

function checkNewSessionTicket(body: Buffer): void {
  // Resumption is not used; the ticket is parsed (so a malformed one is caught) and dropped.
  const c = new Cursor(body, 'NewSessionTicket');
  c.u32();
  c.u32();
  c.vec8();
  if (c.vec16().length === 0) throw decodeError('NewSessionTicket has an empty ticket');
  parseExtensions(c.vec16(), 'NewSessionTicket');
  c.end();
}

function plaintextRecords(type: number, data: Buffer): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_PLAINTEXT) {
    const fragment = data.subarray(at, at + MAX_PLAINTEXT);
    const header = Buffer.of(type, 3, 3, 0, 0);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

function protectedRecords(write: RecordProtection, type: number, data: Buffer): Buffer {
  const records: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_PLAINTEXT) {
    records.push(write.seal(type, data.subarray(at, at + MAX_PLAINTEXT)));
  }
  return records.length === 1 ? (records[0] ?? Buffer.alloc(0)) : Buffer.concat(records);
}
