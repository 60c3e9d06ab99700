/**
 * @module soft-tpm: a software "TPM" for HTTP-level tests that need many identities quickly —
 * RSA EK and AK made with Node crypto, ActivateCredential done with the EK private key. The
 * tpm2-tools suite covers the real TPM; this only feeds the API tests.
 */
import { constants, createDecipheriv, createHash, createHmac, privateDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generateRsaKeyPairSync, kdfa } from '@keylime/crypto';
import {
  EK_LOW_TEMPLATE,
  TpmAlg,
  decodeCredentialBlob,
  decodeIdObject,
  decodeTpm2bPublic,
  encodeTpm2bPublic,
  tpmPublicFromKeyObject,
  tpmaObjectFromWord,
} from '@keylime/tpm';
import type { TpmaObject } from '@keylime/tpm';

export interface SoftTpm {
  readonly ekPrivate: KeyObject;
  readonly ekPublic: KeyObject;
  /** TPM2B_PUBLIC bytes of the EK and the AK. */
  readonly ekTpm: Uint8Array;
  readonly akTpm: Uint8Array;
  /** Recovers the credential from a registrar blob (base64). */
  activate(blobB64: string): Uint8Array;
}

const AK_ATTRIBUTES = 0x00050072;

/** An AK public area with the given TPMA_OBJECT word. */
export function softAk(attributes = AK_ATTRIBUTES): Uint8Array {
  const { publicKey } = generateRsaKeyPairSync(2048);
  return encodeTpm2bPublic(
    tpmPublicFromKeyObject(publicKey, {
      nameAlg: TpmAlg.Sha256,
      objectAttributes: tpmaObjectFromWord(attributes) as TpmaObject,
      authPolicy: new Uint8Array(0),
      symmetric: { algorithm: TpmAlg.Null },
      scheme: { scheme: TpmAlg.RsaSsa, hashAlg: TpmAlg.Sha256 },
    }),
  );
}

function akName(akTpm: Uint8Array): Uint8Array {
  const pub = decodeTpm2bPublic(akTpm);
  const h = createHash('sha256').update(pub.bytes).digest();
  return Buffer.concat([Buffer.from([0x00, 0x0b]), h]);
}

export function createSoftTpm(akTpm: Uint8Array = softAk()): SoftTpm {
  const { publicKey, privateKey } = generateRsaKeyPairSync(2048);
  const ekTpm = encodeTpm2bPublic(tpmPublicFromKeyObject(publicKey, EK_LOW_TEMPLATE));
  return {
    ekPrivate: privateKey,
    ekPublic: publicKey,
    ekTpm,
    akTpm,
    activate(blobB64) {
      const blob = decodeCredentialBlob(Buffer.from(blobB64, 'base64'));
      const seed = privateDecrypt(
        {
          key: privateKey,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
          oaepLabel: Buffer.from('IDENTITY\0'),
        },
        blob.encryptedSecret,
      );
      const name = akName(akTpm);
      const id = decodeIdObject(blob.idObject);
      const hmacKey = kdfa('sha256', seed, 'INTEGRITY', new Uint8Array(0), new Uint8Array(0), 256);
      const expected = createHmac('sha256', hmacKey).update(id.encIdentity).update(name).digest();
      if (!expected.equals(Buffer.from(id.integrityHmac)))
        throw new Error('integrity HMAC mismatch');
      const symKey = kdfa('sha256', seed, 'STORAGE', name, new Uint8Array(0), 128);
      const d = createDecipheriv('aes-128-cfb', symKey, Buffer.alloc(16));
      const plain = Buffer.concat([d.update(id.encIdentity), d.final()]);
      const len = plain.readUInt16BE(0);
      return new Uint8Array(plain.subarray(2, 2 + len));
    },
  };
}

/** hex(HMAC-SHA384(key = base64(credential) text, msg = agent id)), computed independently. */
export function authTagFor(credential: Uint8Array, agentId: string): string {
  const key = Buffer.from(Buffer.from(credential).toString('base64'), 'utf8');
  return createHmac('sha384', key).update(agentId, 'utf8').digest('hex');
}
