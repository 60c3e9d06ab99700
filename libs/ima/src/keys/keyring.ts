/**
 * @module keys/keyring: IMA keys and keyrings (spec verifier.md §4.7; upstream
 * `keylime/ima/file_signatures.py`): loading key material, key ids, the keyring JSON text.
 */
import * as crypto from 'node:crypto';
import { ImaErrorCode, imaError } from '../errors';
import { toPythonJson } from '../policy/python-json';
import { certificateSkid } from './der';
import { toBigInt } from './ecdsa';

/** A public key usable for IMA signatures: RSA or EC. */
export interface ImaPublicKey {
  readonly type: 'rsa' | 'ec';
  readonly key: crypto.KeyObject;
  /** keyidv2: low 32 bits of SHA-1 over PKCS#1 (RSA) or the uncompressed point (EC). */
  readonly keyId: number;
  /** EC only: JWK curve name and affine coordinates, for prehashed verification. */
  readonly ec?: { readonly crv: string; readonly x: bigint; readonly y: bigint };
}

function fromKeyObject(key: crypto.KeyObject, keyIdOverride?: number): ImaPublicKey {
  const kind = key.asymmetricKeyType;
  if (kind === 'rsa') {
    const pkcs1 = key.export({ type: 'pkcs1', format: 'der' });
    return { type: 'rsa', key, keyId: keyIdOverride || keyIdFromBytes(pkcs1) };
  }
  if (kind === 'ec') {
    const jwk = key.export({ format: 'jwk' });
    if (jwk.crv === undefined || jwk.x === undefined || jwk.y === undefined) {
      throw imaError(ImaErrorCode.InvalidKey, 'EC key without curve coordinates');
    }
    const x = Buffer.from(jwk.x, 'base64url');
    const y = Buffer.from(jwk.y, 'base64url');
    const point = Buffer.concat([Buffer.from([4]), x, y]);
    return {
      type: 'ec',
      key,
      keyId: keyIdOverride || keyIdFromBytes(point),
      ec: { crv: jwk.crv, x: toBigInt(x), y: toBigInt(y) },
    };
  }
  throw imaError(ImaErrorCode.InvalidKey, `Unsupported key type ${kind ?? 'unknown'}`);
}

function keyIdFromBytes(bytes: Uint8Array): number {
  return crypto.createHash('sha1').update(bytes).digest().readUInt32BE(16);
}

function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

function fromCertificate(data: Buffer): ImaPublicKey | undefined {
  const cert = attempt(() => new crypto.X509Certificate(data));
  if (cert === undefined) return undefined;
  const skid = certificateSkid(cert.raw);
  const keyId = skid !== undefined && skid.length >= 4 ? Buffer.from(skid).readUInt32BE(skid.length - 4) : undefined;
  return fromKeyObject(cert.publicKey, keyId);
}

/**
 * Interprets bytes as key material in upstream's order: certificate (DER, PEM), public key
 * (DER SPKI, PEM), private key (DER, PEM). Returns undefined when the bytes are not a key;
 * throws KL_IMA_INVALID_KEY when they are a key of an unsupported type (upstream: ValueError).
 */
export function loadImaPublicKey(data: Uint8Array): ImaPublicKey | undefined {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const isDer = buf[0] === 0x30;
  const isPem = !isDer && buf.includes('-----BEGIN');
  // Cheap pre-filter: most ima-buf payloads (kernel_version, selinux) are neither.
  if (!isDer && !isPem) return undefined;
  const fromCert = fromCertificate(buf);
  if (fromCert !== undefined) return fromCert;
  const key = isDer
    ? (attempt(() => crypto.createPublicKey({ key: buf, format: 'der', type: 'spki' })) ??
      attempt(() => crypto.createPublicKey({ key: buf, format: 'der', type: 'pkcs1' })) ??
      privateToPublic(buf, 'pkcs8') ??
      privateToPublic(buf, 'pkcs1') ??
      privateToPublic(buf, 'sec1'))
    : attempt(() => crypto.createPublicKey(buf.toString('latin1')));
  return key === undefined ? undefined : fromKeyObject(key);
}

function privateToPublic(buf: Buffer, type: 'pkcs8' | 'pkcs1' | 'sec1'): crypto.KeyObject | undefined {
  const priv = attempt(() => crypto.createPrivateKey({ key: buf, format: 'der', type }));
  return priv === undefined ? undefined : crypto.createPublicKey(priv);
}

/** Keys indexed by keyidv2 (upstream `ImaKeyring`). */
export class ImaKeyring {
  private readonly ring = new Map<number, ImaPublicKey>();

  /** Adds a key under its own key id, or `keyId` when given and non-zero (upstream: `if not keyidv2`). */
  add(key: ImaPublicKey, keyId?: number): void {
    this.ring.set(keyId || key.keyId, key);
  }

  get(keyId: number): ImaPublicKey | undefined {
    return this.ring.get(keyId);
  }

  get size(): number {
    return this.ring.size;
  }

  /** A copy, so learned keyrings can be extended without touching a persisted state. */
  clone(): ImaKeyring {
    const copy = new ImaKeyring();
    for (const [id, key] of this.ring) copy.ring.set(id, key);
    return copy;
  }

  /** Upstream's JSON object: `{"pubkeys": [base64 SPKI DER…], "keyids": […]}`. */
  toJson(): { pubkeys: string[]; keyids: number[] } {
    const pubkeys: string[] = [];
    const keyids: number[] = [];
    for (const [id, key] of this.ring) {
      pubkeys.push(key.key.export({ type: 'spki', format: 'der' }).toString('base64'));
      keyids.push(id);
    }
    return { pubkeys, keyids };
  }

  /** The text form stored in policies (`verification-keys`) and in `learned_ima_keyrings`. */
  toText(): string {
    return toPythonJson(this.toJson());
  }
}

/** Base64 as Python's non-validating `b64decode`: characters outside the alphabet are dropped. */
function lenientBase64(text: string): Buffer {
  return Buffer.from(text.replace(/[^A-Za-z0-9+/]/g, ''), 'base64');
}

/**
 * Parses the keyring JSON text (`{"meta":{"version":1}?, "keyids":[…], "pubkeys":[…]}`; a JSON
 * string holding that text is decoded twice, as upstream does). An empty text gives undefined.
 * With `strict`, a key that cannot be loaded is an error instead of being skipped.
 */
export function parseImaKeyring(text: string, options: { strict?: boolean } = {}): ImaKeyring | undefined {
  if (text === '') return undefined;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
    if (typeof obj === 'string') obj = JSON.parse(obj);
  } catch (e) {
    throw imaError(ImaErrorCode.InvalidKeyring, 'keyring is not valid JSON', { cause: e });
  }
  const reason = keyringShapeError(obj);
  if (reason !== undefined) throw imaError(ImaErrorCode.InvalidKeyring, `keyring ${reason}`);
  const { pubkeys, keyids } = obj as { pubkeys: string[]; keyids: number[] };
  const ring = new ImaKeyring();
  pubkeys.forEach((b64, i) => {
    try {
      const key = fromKeyObject(crypto.createPublicKey({ key: lenientBase64(b64), format: 'der', type: 'spki' }));
      ring.add(key, keyids[i]);
    } catch (e) {
      if (options.strict) {
        throw imaError(ImaErrorCode.InvalidKeyring, `keyring pubkeys[${i}] is not a usable RSA or EC public key`, {
          cause: e,
        });
      }
    }
  });
  return ring;
}

/** The constraints of upstream's IMA_KEYRING_JSON_SCHEMA, in our words. */
function keyringShapeError(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return 'must be a JSON object';
  const o = obj as Record<string, unknown>;
  if (!Array.isArray(o['keyids'])) return "must have an array 'keyids'";
  if (!Array.isArray(o['pubkeys'])) return "must have an array 'pubkeys'";
  if (!o['keyids'].every((k) => typeof k === 'number' && Number.isInteger(k))) return "'keyids' must hold integers";
  if (!o['pubkeys'].every((k) => typeof k === 'string')) return "'pubkeys' must hold strings";
  const meta = o['meta'];
  if (meta !== undefined) {
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return "'meta' must be an object";
    const v = (meta as Record<string, unknown>)['version'];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return "'meta.version' must be an integer >= 1";
  }
  return undefined;
}
