/**
 * @module enrolment: strict parsing of the tenant's `POST /v2.x/agents/{id}` body (verifier §1.3,
 * agent-registrar-tenant §7.4) into a typed value. Every field is checked once, here; a malformed
 * enrolment is a 400 before anything is stored.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { errorMessage, isBase64 } from '@keylime/core';
import { AGENT_SUPPORTED_VERSIONS, SERVER_CURRENT_VERSION } from '@keylime/protocol';
import { HttpError } from '@keylime/server';
import { prepareQuoteKey } from '@keylime/tpm';
import { parseTpmPolicy } from '../attestation/tpm-policy';
import type { TpmPolicy } from '../attestation/tpm-policy';

const optionalString = z.string().nullish();
const port = z.union([z.number().int(), z.string().regex(/^\d{1,5}$/)]).nullish();
const stringList = z.array(z.string().max(32)).max(32);

/** Field presence and types as upstream reads them; keys upstream requires are required here. */
const EnrolmentBody = z.object({
  v: optionalString,
  cloudagent_ip: optionalString,
  cloudagent_port: port,
  verifier_ip: optionalString,
  verifier_port: port,
  tpm_policy: z.string(),
  runtime_policy: z.string(),
  runtime_policy_name: optionalString,
  runtime_policy_key: optionalString,
  mb_policy: z.string().nullable().optional(),
  mb_refstate: z.string().nullable().optional(),
  mb_policy_name: optionalString,
  ima_sign_verification_keys: z.string(),
  metadata: z.string(),
  revocation_key: z.string(),
  accept_tpm_hash_algs: stringList,
  accept_tpm_encryption_algs: stringList,
  accept_tpm_signing_algs: stringList,
  ak_tpm: z.string().min(1),
  mtls_cert: optionalString,
  supported_version: optionalString,
});

export interface Enrolment {
  readonly v: string | null;
  readonly ip: string | null;
  readonly port: number | null;
  readonly verifierIp: string | null;
  readonly verifierPort: number | null;
  readonly tpmPolicyText: string;
  readonly tpmPolicy: TpmPolicy;
  /** Base64 of the policy bytes; "" = none. */
  readonly runtimePolicyB64: string;
  readonly runtimePolicyName: string;
  readonly runtimePolicyKeyB64: string;
  /** Refstate JSON text, or null. */
  readonly mbPolicy: string | null;
  readonly mbPolicyName: string;
  readonly imaSignVerificationKeys: string;
  readonly metadata: string;
  readonly revocationKey: string;
  readonly acceptTpmHashAlgs: readonly string[];
  readonly acceptTpmEncryptionAlgs: readonly string[];
  readonly acceptTpmSigningAlgs: readonly string[];
  readonly akTpm: string;
  readonly mtlsCert: string | null;
  readonly supportedVersion: string;
}

export interface EnrolmentSettings {
  readonly pull: boolean;
  readonly enableAgentMtls: boolean;
  readonly defaultVerifierIp: string;
  readonly defaultVerifierPort: number;
}

function bad(message: string): HttpError {
  return new HttpError(400, message);
}

function toPort(value: number | string | null | undefined, field: string): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw bad(`${field} must be a TCP port`);
  return n;
}

function checkJsonText(text: string, field: string): void {
  try {
    JSON.parse(text);
  } catch {
    throw bad(`${field} is not valid JSON`);
  }
}

/** Parses and checks an enrolment body; throws HttpError(400) with a precise message. */
export function parseEnrolment(body: unknown, settings: EnrolmentSettings): Enrolment {
  const parsed = EnrolmentBody.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') ?? '';
    throw bad(
      `Invalid enrolment: ${where === '' ? '' : `${where}: `}${issue?.message ?? 'bad body'}`,
    );
  }
  const b = parsed.data;
  if (b.mb_policy === undefined && b.mb_refstate === undefined) {
    throw bad('Invalid enrolment: mb_policy is required (may be null)');
  }
  const supportedVersion =
    b.supported_version &&
    (AGENT_SUPPORTED_VERSIONS as readonly string[]).includes(b.supported_version)
      ? b.supported_version
      : SERVER_CURRENT_VERSION;

  // §1.3 step 1: pull + agent mTLS needs the agent's certificate.
  const mtls = b.mtls_cert ?? null;
  if (
    settings.pull &&
    settings.enableAgentMtls &&
    (mtls === null || mtls === 'disabled' || mtls === '')
  ) {
    throw bad('mTLS certificate for agent is required!');
  }
  if (mtls !== null && mtls !== 'disabled' && mtls !== '') {
    try {
      new X509Certificate(mtls);
    } catch {
      throw bad('mtls_cert is not a PEM certificate');
    }
  }

  let ip: string | null = null;
  let agentPort: number | null = null;
  if (settings.pull) {
    ip = b.cloudagent_ip ?? null;
    if (ip === null || !/^[\w.:[\]-]{1,255}$/.test(ip))
      throw bad('cloudagent_ip is missing or malformed');
    agentPort = toPort(b.cloudagent_port, 'cloudagent_port');
    if (agentPort === null) throw bad('cloudagent_port is missing');
  }

  const tpmPolicy = parseTpmPolicy(b.tpm_policy);
  if (!tpmPolicy.ok) throw bad(tpmPolicy.error);

  const v = b.v ?? null;
  if (v !== null && (!isBase64(v) || Buffer.from(v, 'base64').length !== 32)) {
    throw bad('v must be base64 of 32 bytes');
  }
  if (!isBase64(b.ak_tpm)) throw bad('ak_tpm is not base64');
  try {
    prepareQuoteKey(new Uint8Array(Buffer.from(b.ak_tpm, 'base64')));
  } catch (e) {
    throw bad(`ak_tpm is not a usable TPM2B_PUBLIC: ${errorMessage(e)}`);
  }
  if (b.revocation_key !== '') {
    try {
      const key = createPrivateKey(b.revocation_key);
      if (key.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
    } catch {
      throw bad('revocation_key must be a PEM RSA private key');
    }
  }
  checkJsonText(b.metadata, 'metadata');
  if (b.ima_sign_verification_keys !== '')
    checkJsonText(b.ima_sign_verification_keys, 'ima_sign_verification_keys');
  const mbPolicy = b.mb_policy !== undefined ? b.mb_policy : (b.mb_refstate ?? null);
  if (mbPolicy !== null && mbPolicy !== '') checkJsonText(mbPolicy, 'mb_policy');

  return {
    v,
    ip,
    port: agentPort,
    verifierIp: b.verifier_ip ?? settings.defaultVerifierIp,
    verifierPort: toPort(b.verifier_port, 'verifier_port') ?? settings.defaultVerifierPort,
    tpmPolicyText: b.tpm_policy,
    tpmPolicy: tpmPolicy.policy,
    runtimePolicyB64: b.runtime_policy,
    runtimePolicyName: b.runtime_policy_name ?? '',
    runtimePolicyKeyB64: b.runtime_policy_key ?? '',
    mbPolicy: mbPolicy === '' ? null : mbPolicy,
    mbPolicyName: b.mb_policy_name ?? '',
    imaSignVerificationKeys: b.ima_sign_verification_keys,
    metadata: b.metadata,
    revocationKey: b.revocation_key,
    acceptTpmHashAlgs: b.accept_tpm_hash_algs,
    acceptTpmEncryptionAlgs: b.accept_tpm_encryption_algs,
    acceptTpmSigningAlgs: b.accept_tpm_signing_algs,
    akTpm: b.ak_tpm,
    mtlsCert: mtls,
    supportedVersion,
  };
}
