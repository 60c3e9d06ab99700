/**
 * @module identity/tpm-identity: the agent's TPM identity at start-up — EK (and its certificate from
 * NV), the AK kept in agent_data.json across restarts, and the agent UUID (`generate`, `hash_ek`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import {
  TpmAlg,
  decodeTpmtPublic,
  hashAlgId,
  hashAlgName,
  objectName,
  tpmPublicToPem,
} from '@keylime/tpm';
import { createAk, createEk, loadAk, readEkCertificate } from '@keylime/tpm-device';
import type { AkKey, EkKey, Tpm } from '@keylime/tpm-device';
import type { AgentAlgorithms } from '../config';
import type { AgentData } from './agent-data';
import { readAgentData, writeAgentData } from './agent-data';

export interface TpmIdentity {
  readonly agentUuid: string;
  readonly ek: EkKey;
  /** DER, or undefined when the TPM has no EK certificate in NV. */
  readonly ekCertificate: Uint8Array | undefined;
  readonly ak: AkKey;
}

export interface TpmIdentityOptions {
  readonly tpm: Tpm;
  readonly algorithms: AgentAlgorithms;
  /** `uuid` as configured: a UUID, `generate` or `hash_ek`. */
  readonly uuid: string;
  readonly ekHandle: number | undefined;
  /** agent_data.json path. */
  readonly agentDataPath: string;
  readonly logger: Logger;
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** RK's Uuid::parse_str(..).to_string(): lower case, hyphenated. */
function canonicalUuid(text: string): string {
  const hex = text.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** hex SHA-256 of the EK public key PEM (RK hash_ek_pubkey). */
export function ekHash(ek: EkKey): string {
  return createHash('sha256').update(tpmPublicToPem(ek.publicArea)).digest('hex');
}

/** Rebuilds the AK from agent_data blobs (public area without size prefix, private contents). */
function akFromData(data: AgentData): AkKey {
  const pub = decodeTpmtPublic(data.akPublic);
  const sized = (body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(2 + body.length);
    out[0] = body.length >>> 8;
    out[1] = body.length & 0xff;
    out.set(body, 2);
    return out;
  };
  const hashAlg = pub.value.parameters.scheme.hashAlg;
  if (hashAlg === undefined) throw new Error('stored AK has no signing scheme');
  return {
    alg: pub.value.type === TpmAlg.Rsa ? 'rsa2048' : 'ecc256',
    hashAlg,
    public: sized(pub.bytes),
    publicArea: pub.value,
    private: sized(data.akPrivate),
    name: objectName(pub),
  };
}

/** The stored AK when it matches the EK and algorithms and still loads on this TPM. */
async function storedAk(
  options: TpmIdentityOptions,
  ek: EkKey,
  hash: string,
): Promise<{ ak: AkKey | undefined; storedUuid: string | undefined }> {
  const { logger, agentDataPath: file, algorithms } = options;
  const read = readAgentData(file);
  if (read === 'missing') {
    logger.info(`Agent Data not found in: ${file}`);
    return { ak: undefined, storedUuid: undefined };
  }
  if ('problem' in read) {
    logger.warn(`Could not load agent data: ${read.problem}`);
    return { ak: undefined, storedUuid: undefined };
  }
  const { data } = read;
  if (
    data.akHashAlg !== algorithms.hash ||
    data.akSignAlg !== algorithms.sign ||
    data.ekHash !== hash
  ) {
    logger.warn(`Not using old ${file} because it is not valid with current configuration`);
    return { ak: undefined, storedUuid: undefined };
  }
  try {
    const ak = akFromData(data);
    if (ak.alg !== algorithms.ak || hashAlgName(ak.hashAlg) !== algorithms.hash)
      throw new Error('key type or hash differs from the configuration');
    await loadAk(options.tpm, { ek, ak });
    logger.info(`Loaded old AK key from ${file}`);
    return { ak, storedUuid: data.agentUuid };
  } catch (e) {
    logger.warn(`Loading old AK key from ${file} failed: ${errorMessage(e)}`);
    return { ak: undefined, storedUuid: data.agentUuid };
  }
}

function resolveUuid(
  configured: string,
  hash: string,
  stored: string | undefined,
  logger: Logger,
): string {
  if (configured === 'hash_ek') {
    logger.info('Using hashed EK as UUID');
    return hash;
  }
  if (UUID_RE.test(configured)) return canonicalUuid(configured);
  if (configured !== 'generate') logger.warn(`Misformatted UUID: ${configured}`);
  // Unlike RK, a generated UUID is kept in agent_data.json so a restart keeps the registration.
  if (stored !== undefined && UUID_RE.test(stored)) {
    logger.info(`Using the UUID generated earlier: ${stored}`);
    return stored;
  }
  const fresh = randomUUID();
  logger.info(`Generated a new UUID: ${fresh}`);
  return fresh;
}

/** Creates/reads the EK, loads or creates the AK, persists agent data; nothing stays loaded. */
export async function establishTpmIdentity(options: TpmIdentityOptions): Promise<TpmIdentity> {
  const { tpm, algorithms, logger } = options;
  const ek = await createEk(
    tpm,
    algorithms.ek,
    options.ekHandle === undefined ? {} : { persistentHandle: options.ekHandle },
  );
  let ekCertificate: Uint8Array | undefined;
  try {
    ekCertificate = await readEkCertificate(tpm, algorithms.ek);
  } catch (e) {
    logger.warn(`Could not read the EK certificate from NV: ${errorMessage(e)}`);
  }
  if (ekCertificate === undefined) logger.warn('No EK certificate found in the TPM NV storage');
  const hash = ekHash(ek);
  const previous = await storedAk(options, ek, hash);
  const ak =
    previous.ak ??
    (await createAk(tpm, { ek, alg: algorithms.ak, hashAlg: hashAlgId(algorithms.hash) }));
  const agentUuid = resolveUuid(options.uuid, hash, previous.storedUuid, logger);
  const pub = ak.public.subarray(2);
  writeAgentData(options.agentDataPath, {
    akHashAlg: algorithms.hash,
    akSignAlg: algorithms.sign,
    akPublic: pub,
    akPrivate: ak.private.subarray(2),
    ekHash: hash,
    agentUuid,
  });
  logger.info(`Agent UUID: ${agentUuid}`);
  return { agentUuid, ek, ekCertificate, ak };
}
