/**
 * @module credential: software TPM2_MakeCredential for RSA and ECC EKs and the tpm2-tools credential
 * blob the registrar returns (agent-registrar-tenant §3.4; TPM Part 1 §24 "Protected storage",
 * upstream tpm_util.makecredential). Randomness comes from node:crypto unless a test pins it.
 */
import {
  constants as cryptoConstants,
  createCipheriv,
  createPublicKey,
  createHmac,
  diffieHellman,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Writer, decodeAll } from '@keylime/core';
import type { Reader } from '@keylime/core';
import { generateEcKeyPairSync, kdfa, kdfe } from '@keylime/crypto';
import { CREDENTIAL_BLOB_MAGIC, CREDENTIAL_BLOB_VERSION, TpmAlg } from './constants';
import { TpmErrorCode, tpmError } from './errors';
import { hashAlgName, tpmDigestSize } from './hash';
import { eccCurveInfo, tpmPublicFromKeyObject, tpmPublicToKeyObject } from './keys';
import { objectName as nameOf, writeEccPoint } from './public';
import type { TpmtPublic } from './public';
import type { Tpm2b } from './tpm2b';

/** The credential blob: TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET contents (without their size prefixes). */
export interface CredentialBlob {
  readonly idObject: Uint8Array;
  readonly encryptedSecret: Uint8Array;
}

/** TPMS_ID_OBJECT (Part 2 §12.4.2): the outer HMAC and the CFB-encrypted TPM2B_DIGEST credential. */
export interface TpmsIdObject {
  readonly integrityHmac: Uint8Array;
  readonly encIdentity: Uint8Array;
}

/** Reads `magic ‖ version ‖ TPM2B_ID_OBJECT ‖ TPM2B_ENCRYPTED_SECRET` (tpm2-tools makecredential output). */
export function readCredentialBlob(r: Reader): CredentialBlob {
  return r.field('credentialBlob', () => {
    r.field('magic', () => {
      const m = r.u32();
      if (m !== CREDENTIAL_BLOB_MAGIC)
        r.fail(`magic 0x${m.toString(16)} is not 0xbadcc0de`, TpmErrorCode.BadMagic);
    });
    r.field('version', () => {
      const v = r.u32();
      if (v !== CREDENTIAL_BLOB_VERSION) r.fail(`version ${v} is not 1`, TpmErrorCode.BadValue);
    });
    const idObject = r.field('TPM2B_ID_OBJECT', () => r.sized16());
    const encryptedSecret = r.field('TPM2B_ENCRYPTED_SECRET', () => r.sized16());
    return { idObject, encryptedSecret };
  });
}

/** Decodes a complete credential blob. */
export function decodeCredentialBlob(bytes: Uint8Array): CredentialBlob {
  return decodeAll(bytes, readCredentialBlob);
}

/** Encodes a credential blob. */
export function encodeCredentialBlob(blob: CredentialBlob): Uint8Array {
  const w = new Writer(12 + blob.idObject.length + blob.encryptedSecret.length);
  w.u32(CREDENTIAL_BLOB_MAGIC)
    .u32(CREDENTIAL_BLOB_VERSION)
    .sized16(blob.idObject)
    .sized16(blob.encryptedSecret);
  return w.finish();
}

/** Splits TPM2B_ID_OBJECT contents into TPMS_ID_OBJECT (integrityHMAC TPM2B ‖ encIdentity). */
export function decodeIdObject(bytes: Uint8Array): TpmsIdObject {
  return decodeAll(bytes, (r) => {
    const integrityHmac = r.field('integrityHMAC', () => r.sized16(64));
    const encIdentity = r.field('encIdentity', () => r.bytesN(r.remaining));
    return { integrityHmac, encIdentity };
  });
}

/** Test hooks: pin the random parts to reproduce known-answer vectors. */
export interface MakeCredentialOptions {
  /** RSA EK: the seed (digest-size bytes) instead of random. */
  readonly seed?: Uint8Array;
  /** ECC EK: the ephemeral private key instead of a fresh one. */
  readonly ephemeralKey?: KeyObject;
}

/**
 * TPM2_MakeCredential in software: protects `credential` for the EK so only the TPM holding the EK and
 * the object named `objectName` (the AK) can recover it with TPM2_ActivateCredential.
 */
export function makeCredential(
  ekPublic: TpmtPublic,
  credential: Uint8Array,
  objectName: Uint8Array,
  options: MakeCredentialOptions = {},
): CredentialBlob {
  const hash = hashAlgName(ekPublic.nameAlg);
  const digestSize = tpmDigestSize(ekPublic.nameAlg);
  if (hash === undefined || digestSize === undefined)
    throw tpmError(TpmErrorCode.Unsupported, 'unsupported EK nameAlg');
  const sym = ekPublic.parameters.symmetric;
  if (sym.algorithm !== TpmAlg.Aes || sym.mode !== TpmAlg.Cfb || sym.keyBits === undefined) {
    throw tpmError(TpmErrorCode.Unsupported, 'EK must use AES-CFB as its symmetric algorithm');
  }
  if (credential.length > digestSize) {
    throw tpmError(
      TpmErrorCode.BadValue,
      `credential of ${credential.length} bytes exceeds the EK digest size`,
    );
  }
  const ekKey = tpmPublicToKeyObject(ekPublic);
  let seed: Uint8Array;
  let encryptedSecret: Uint8Array;
  if (ekPublic.type === TpmAlg.Rsa) {
    seed = options.seed ?? randomBytes(digestSize);
    // Part 1 §24.4 / B.10.3: OAEP with the EK nameAlg, label "IDENTITY\0".
    encryptedSecret = publicEncrypt(
      {
        key: ekKey,
        padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: hash,
        oaepLabel: Buffer.from('IDENTITY\0'),
      },
      seed,
    );
  } else {
    const curve = eccCurveInfo(ekPublic.parameters.curveId);
    if (curve === undefined) throw tpmError(TpmErrorCode.Unsupported, 'unsupported EK curve');
    const priv = options.ephemeralKey ?? generateEcKeyPairSync(curve.nodeName).privateKey;
    const eph = tpmPublicFromKeyObject(createPublicKey(priv), {
      nameAlg: ekPublic.nameAlg,
      objectAttributes: ekPublic.objectAttributes,
      authPolicy: new Uint8Array(0),
      symmetric: sym,
      scheme: { scheme: TpmAlg.Null },
    });
    if (eph.type !== TpmAlg.Ecc) throw tpmError(TpmErrorCode.BadKey, 'ephemeral key is not ECC');
    // Part 1 §C.6.4: Z = x(ECDH), seed = KDFe(h, Z, "IDENTITY", x(ephemeral), x(EK)).
    const z = diffieHellman({ privateKey: priv, publicKey: ekKey });
    const ekX = new Uint8Array(curve.coordinateSize);
    ekX.set(ekPublic.unique.x, curve.coordinateSize - ekPublic.unique.x.length);
    seed = kdfe(hash, z, 'IDENTITY', eph.unique.x, ekX, digestSize * 8);
    const w = new Writer(4 + 2 * curve.coordinateSize);
    writeEccPoint(w, eph.unique);
    encryptedSecret = w.finish();
  }
  // Part 1 §24.4-24.5: symKey = KDFa(h, seed, "STORAGE", name), HMAC key = KDFa(h, seed, "INTEGRITY").
  const symKey = kdfa(hash, seed, 'STORAGE', objectName, new Uint8Array(0), sym.keyBits);
  const plain = new Writer(2 + credential.length).sized16(credential).finish();
  const cipher = createCipheriv(`aes-${sym.keyBits}-cfb`, symKey, Buffer.alloc(16));
  const encIdentity = Buffer.concat([cipher.update(plain), cipher.final()]);
  const hmacKey = kdfa(
    hash,
    seed,
    'INTEGRITY',
    new Uint8Array(0),
    new Uint8Array(0),
    digestSize * 8,
  );
  const integrityHmac = createHmac(hash, hmacKey).update(encIdentity).update(objectName).digest();
  const idObject = new Writer(2 + integrityHmac.length + encIdentity.length)
    .sized16(integrityHmac)
    .bytes(encIdentity)
    .finish();
  return { idObject, encryptedSecret };
}

const CHALLENGE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A registrar challenge (agent-registrar-tenant §3.4 step 1, upstream random_password(32)): 32 random
 * bytes mapped onto [A-Z0-9a-z]; `key` is its base64 text, which the registrar stores.
 */
export function randomCredential(length = 32): {
  readonly credential: Uint8Array;
  readonly key: string;
} {
  const rand = randomBytes(length);
  const credential = new Uint8Array(length);
  for (let i = 0; i < length; i++)
    credential[i] = CHALLENGE_ALPHABET.charCodeAt((rand[i] as number) % 62);
  return { credential, key: Buffer.from(credential).toString('base64') };
}

/** The registrar's blob for an agent: MakeCredential(EK, credential, Name(AK)) in tpm2-tools format. */
export function makeCredentialBlob(
  ekPublic: Tpm2b<TpmtPublic>,
  akPublic: Tpm2b<TpmtPublic>,
  credential: Uint8Array,
  options: MakeCredentialOptions = {},
): Uint8Array {
  return encodeCredentialBlob(
    makeCredential(ekPublic.value, credential, nameOf(akPublic), options),
  );
}
