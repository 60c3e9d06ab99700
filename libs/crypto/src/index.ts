/** @module @keylime/crypto: Hashes, HMAC, KDFa/KDFe, AES-GCM payloads, RSA-OAEP, X.509 and the Keylime CA (pure: produces PEM, writes nothing). */

// errors
export { CryptoErrorCode } from './errors';
export type { CryptoErrorCodeValue } from './errors';

// hashes
export {
  HASH_ALGS,
  DIGEST_SIZES,
  isHashAlg,
  assertHashAlg,
  digestSize,
  hash,
  sha256,
  sha384,
  hashHex,
} from './hash';
export type { HashAlg } from './hash';

// TPM key derivation (Part 1 §11.4.10)
export { kdfa, kdfe, KDF_MAX_BITS } from './kdf';

// HMAC and constant-time comparison
export { hmac, hmacSha384, hmacSha384Hex, timingSafeEqualBytes, timingSafeEqualHex } from './hmac';

// bootstrap key K/U/V and auth tags (spec §3.5, §5)
export {
  BOOTSTRAP_KEY_BYTES,
  xorBytes,
  splitBootstrapKey,
  generateBootstrapKey,
  combineBootstrapKey,
  tryCombineBootstrapKey,
  ukeyAuthTag,
  keysVerifyHmac,
  checkKeysVerifyHmac,
  activationKeyFromCredential,
  activationAuthTag,
  checkActivationAuthTag,
} from './bootstrap';
export type { BootstrapKeyParts } from './bootstrap';

// AES-GCM payloads base64(IV16 ‖ ct ‖ tag16) (spec §5.1, §5.6)
export {
  PAYLOAD_IV_BYTES,
  PAYLOAD_TAG_BYTES,
  encryptPayload,
  decryptPayload,
  encryptPayloadBytes,
  decryptPayloadBytes,
} from './payload';

// keys: import/export, generation
export {
  importPublicKey,
  importPrivateKey,
  exportPublicKeyPem,
  exportPublicKeyDer,
  exportPrivateKeyPem,
  publicKeysEqual,
  generateRsaKeyPair,
  generateRsaKeyPairSync,
  generateEcKeyPairSync,
} from './keys';
export type { PublicKeyInput, PrivateKeyInput, KeyPair } from './keys';

// RSA-OAEP (U/V transport, MakeCredential) and RSA-PSS (revocation messages, spec §5.8)
export {
  rsaOaepEncrypt,
  rsaOaepDecrypt,
  rsaPssSign,
  rsaPssVerify,
  signRevocationMessage,
  verifyRevocationMessage,
} from './rsa';
export type { OaepOptions } from './rsa';

// X.509: strict parsing, direct-issuer check (EK certs, spec §7.3), key match
export {
  pemBlocks,
  toPem,
  parseCertificate,
  parseCertificateDer,
  parseCertificates,
  certificateToPem,
  certificateToBase64Der,
  isSignatureFrom,
  findDirectIssuer,
  isDirectlySignedByAny,
  certificateHasPublicKey,
} from './x509';
export type { PemBlock } from './x509';

// Keylime CA as upstream's tls_dir = generate makes it (spec §6.1)
export {
  KEYLIME_CA_DEFAULTS,
  KEYLIME_LEAF_LIFETIME_DAYS,
  caProfile,
  createKeylimeCa,
  issueCertificate,
  revokeCertificate,
  generateCrl,
  crlToPem,
  caCertificate,
  serverSubjectAltNames,
  isIpAddress,
} from './ca';
export type {
  CaProfile,
  KeylimeCa,
  KeylimeCaOptions,
  IssueCertificateOptions,
  IssuedCertificate,
  SubjectAltNames,
  ServerSanInput,
} from './ca';

// cv_ca file set and private.yml key store
export {
  DEFAULT_CA_PASSWORD,
  PRIVATE_YML_PBKDF2_ITERATIONS,
  generateCvCaFiles,
  openKeylimeCa,
  encodePrivateYml,
  decodePrivateYml,
  keyStoreToYaml,
} from './ca-store';
export type { CaKeyStore, CvCaFilesOptions, CvCaResult } from './ca-store';

// TLS 1.3 client (sans-I/O) for the verifier's connections to agents
export { Tls13Client, TlsError, TlsAlert } from './tls13/client';
export type { Tls13ClientOptions, TlsEvents, ServerCheck } from './tls13/client';
