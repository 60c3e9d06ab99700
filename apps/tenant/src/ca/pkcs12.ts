/**
 * @module ca/pkcs12: a minimal PKCS#12 (RFC 7292) writer for `keylime_ca -c pkcs12`: the leaf and CA
 * certificates in a certBag, the key as a PBES2/AES-256-CBC shrouded key bag (Node's encrypted
 * PKCS#8), and an HMAC-SHA256 integrity MAC, as OpenSSL 3 writes by default.
 */
import {
  createHash,
  createHmac,
  createPrivateKey,
  randomBytes,
  X509Certificate,
} from 'node:crypto';

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

const MAC_ITERATIONS = 2048;

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const octets = (b: Uint8Array): Buffer => tlv(0x04, Buffer.from(b));
const explicit0 = (b: Buffer): Buffer => tlv(0xa0, b);
const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);

function integer(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

function oid(text: string): Buffer {
  const parts = text.split('.').map(Number);
  const out: number[] = [40 * (parts[0] ?? 0) + (parts[1] ?? 0)];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** BMPString bytes (UTF-16BE) of the text. */
function bmp(text: string): Buffer {
  const le = Buffer.from(text, 'utf16le');
  const be = Buffer.alloc(le.length);
  for (let i = 0; i < le.length; i += 2) {
    be[i] = le[i + 1] ?? 0;
    be[i + 1] = le[i] ?? 0;
  }
  return be;
}

/** RFC 7292 appendix B.2 key derivation with SHA-256 (u = 32, v = 64). */
export function pkcs12Kdf(
  password: string,
  salt: Uint8Array,
  id: number,
  iterations: number,
  n: number,
): Buffer {
  const u = 32;
  const v = 64;
  const pass = password === '' ? Buffer.alloc(0) : Buffer.concat([bmp(password), Buffer.alloc(2)]);
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const len = v * Math.ceil(src.length / v);
    const out = Buffer.alloc(len);
    for (let i = 0; i < len; i++) out[i] = src[i % src.length] ?? 0;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(Buffer.from(salt)), fill(pass)]);
  const chunks: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash('sha256').update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash('sha256').update(A).digest();
    chunks.push(A);
    const B = fill(A);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (I[j + k] ?? 0) + (B[k] ?? 0) + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(chunks).subarray(0, n);
}

export interface Pkcs12Input {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly caCertificatePem?: string;
  readonly friendlyName: string;
  readonly password: string;
}

function certBag(der: Buffer, attributes?: Buffer): Buffer {
  const value = seq(oid(OID.x509Certificate), explicit0(octets(der)));
  return seq(oid(OID.certBag), explicit0(value), ...(attributes ? [attributes] : []));
}

function dataContent(der: Buffer): Buffer {
  return seq(oid(OID.data), explicit0(octets(der)));
}

/** Builds the .p12 bytes. */
export function buildPkcs12(input: Pkcs12Input): Uint8Array {
  const leaf = new X509Certificate(input.certificatePem);
  const keyId = createHash('sha1').update(leaf.raw).digest();
  const attributes = set(
    seq(oid(OID.friendlyName), set(tlv(0x1e, bmp(input.friendlyName)))),
    seq(oid(OID.localKeyId), set(octets(keyId))),
  );
  const certs = [certBag(leaf.raw, attributes)];
  if (input.caCertificatePem) certs.push(certBag(new X509Certificate(input.caCertificatePem).raw));
  const encryptedKey = createPrivateKey(input.privateKeyPem).export({
    type: 'pkcs8',
    format: 'der',
    cipher: 'aes-256-cbc',
    passphrase: input.password,
  });
  const keyBag = seq(oid(OID.shroudedKeyBag), explicit0(Buffer.from(encryptedKey)), attributes);
  const authSafe = seq(dataContent(seq(...certs)), dataContent(seq(keyBag)));
  const salt = randomBytes(16);
  const macKey = pkcs12Kdf(input.password, salt, 3, MAC_ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafe).digest();
  const macData = seq(
    seq(seq(oid(OID.sha256), nullValue()), octets(mac)),
    octets(salt),
    integer(MAC_ITERATIONS),
  );
  return new Uint8Array(seq(integer(3), dataContent(authSafe), macData));
}
