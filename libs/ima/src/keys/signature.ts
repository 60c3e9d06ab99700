/**
 * @module keys/signature: IMA file signature check (signature_v2_hdr, spec verifier.md §4.7;
 * upstream `ImaKeyrings.integrity_digsig_verify`), over the file digest as a prehashed value.
 */
import * as crypto from 'node:crypto';
import { verifyEcdsaPrehashed } from './ecdsa';
import type { ImaKeyring, ImaPublicKey } from './keyring';

/** Kernel `HASH_ALGO_*` ids → algorithm names as the `d-ng` field spells them. */
const KERNEL_HASH_ALGO: Readonly<Record<number, string>> = {
  1: 'md5',
  2: 'sha1',
  4: 'sha256',
  5: 'sha384',
  6: 'sha512',
  7: 'sha224',
  18: 'streebog256',
  19: 'streebog512',
};

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1) for PKCS#1 v1.5 over a prehashed value. */
const DIGEST_INFO: Readonly<Record<string, { prefix: Buffer; size: number }>> = {
  md5: { prefix: Buffer.from('3020300c06082a864886f70d020505000410', 'hex'), size: 16 },
  sha1: { prefix: Buffer.from('3021300906052b0e03021a05000414', 'hex'), size: 20 },
  sha224: { prefix: Buffer.from('302d300d06096086480165030402040500041c', 'hex'), size: 28 },
  sha256: { prefix: Buffer.from('3031300d060960864801650304020105000420', 'hex'), size: 32 },
  sha384: { prefix: Buffer.from('3041300d060960864801650304020205000430', 'hex'), size: 48 },
  sha512: { prefix: Buffer.from('3051300d060960864801650304020305000440', 'hex'), size: 64 },
};

const EVM_IMA_XATTR_DIGSIG = 3;
const EVM_XATTR_PORTABLE_DIGSIG = 5;
const HEADER_LEN = 9;

/**
 * True iff `signature` (signature_v2_hdr + body) verifies `fileDigest` with a key found by its
 * key id in `keyrings` (searched in order). Never throws.
 */
export function verifyImaSignature(
  keyrings: readonly ImaKeyring[],
  signature: Uint8Array,
  fileDigest: Uint8Array,
  digestAlg: string,
): boolean {
  if (signature.length < HEADER_LEN) return false;
  const sig = Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
  const type = sig[0];
  if (type !== EVM_IMA_XATTR_DIGSIG && type !== EVM_XATTR_PORTABLE_DIGSIG) return false;
  if (sig[1] !== 2) return false;
  const hashName = KERNEL_HASH_ALGO[sig[2] as number];
  const keyId = sig.readUInt32BE(3);
  const size = sig.readUInt16BE(7);
  if (HEADER_LEN + size !== sig.length) return false;
  if (hashName === undefined || hashName !== digestAlg) return false;
  let key: ImaPublicKey | undefined;
  for (const ring of keyrings) {
    key = ring.get(keyId);
    if (key !== undefined) break;
  }
  if (key === undefined) return false;
  return verifyWithKey(key, sig.subarray(HEADER_LEN), fileDigest, hashName);
}

function verifyWithKey(key: ImaPublicKey, body: Buffer, fileDigest: Uint8Array, hashName: string): boolean {
  const info = DIGEST_INFO[hashName];
  if (key.type === 'rsa') {
    // Streebog has no DigestInfo here; upstream cannot verify it either.
    if (info === undefined || fileDigest.length !== info.size) return false;
    try {
      const recovered = crypto.publicDecrypt({ key: key.key, padding: crypto.constants.RSA_PKCS1_PADDING }, body);
      return recovered.equals(Buffer.concat([info.prefix, fileDigest]));
    } catch {
      return false;
    }
  }
  if (key.ec === undefined) return false;
  if (info !== undefined && fileDigest.length !== info.size) return false;
  return verifyEcdsaPrehashed(key.ec.crv, key.ec.x, key.ec.y, fileDigest, body);
}
