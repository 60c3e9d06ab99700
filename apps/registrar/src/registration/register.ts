/**
 * @module register: registration of an agent (spec §3.3) — decode and check the identity, refuse
 * identity changes of a known id, make the AK challenge, store the pending record.
 */
import { bytesEqual, fromBase64, toBase64 } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { ekCertificateMatches } from '@keylime/tpm';
import { HttpError } from '@keylime/server';
import type { AgentRecord, AgentStore } from '../store/agent-store';
import { DuplicateAgentError } from '../store/agent-store';
import { chainsToStore, parseCertificateField } from './certificates';
import type { CaStore, CertificateInput } from './certificates';
import { makeAkChallenge } from './challenge';
import { parseRegistrationBody } from './request';
import type { RegistrationBody } from './request';
import { akProblem, decodeTpmKey, ekProblem } from './tpm-keys';
import type { TpmKey } from './tpm-keys';

export interface RegistrationPolicy {
  /** EK certificates must chain to a certificate in this store. */
  readonly caStore: CaStore;
  /** Refuse agents that send no EK certificate. */
  readonly requireEkCert: boolean;
  /** Refuse an EK that is already registered under another agent id. */
  readonly singleAgentPerEk: boolean;
}

export interface RegistrationDeps {
  readonly store: AgentStore;
  readonly policy: RegistrationPolicy;
  readonly logger: Logger;
}

const INVALID = 'Could not register agent with invalid data';
const IDENTITY_CHANGED =
  'Agent re-registration with different TPM identity is forbidden for security reasons';

function invalid(reason: string): HttpError {
  return new HttpError(400, `${INVALID}: ${reason}`);
}

/** The checked identity of a registration request. */
interface CheckedRegistration {
  readonly body: RegistrationBody;
  readonly ek: TpmKey;
  readonly ak: TpmKey;
  /** undefined = field absent; null = sent as null/empty. */
  readonly ekcert: CertificateInput | null | undefined;
  /** Value to store: base64 DER, "disabled", null; undefined = absent. */
  readonly mtlsCert: string | null | undefined;
}

function certField(
  value: string | null | undefined,
  field: string,
): CertificateInput | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || value.trim() === '') return null;
  return parseCertificateField(value, field);
}

/** Stateless checks, in the order a reader would expect; throws 400 with the reason. */
function checkRequest(
  agentId: string,
  rawBody: unknown,
  policy: RegistrationPolicy,
  logger: Logger,
): CheckedRegistration {
  try {
    const body = parseRegistrationBody(rawBody);
    if (!body.ek_tpm)
      throw new Error('ek_tpm is required (IAK/IDevID-only registration is not supported)');
    const ek = decodeTpmKey(body.ek_tpm, 'ek_tpm');
    const ak = decodeTpmKey(body.aik_tpm, 'aik_tpm');
    logger.info(`EK received for agent '${agentId}'`);
    if (body.iak_tpm || body.idevid_tpm) {
      logger.info(`IDevID and IAK received for agent '${agentId}', ignoring`);
    }
    const problem = ekProblem(ek) ?? akProblem(ak);
    if (problem) throw new Error(problem);

    const ekcert = certField(body.ekcert, 'ekcert');
    if (ekcert) {
      if (!ekCertificateMatches(ekcert.cert, ek.public.value)) {
        throw new Error('ek_tpm must contain the same public key found in ekcert');
      }
      if (!chainsToStore(ekcert.cert, ekcert.chain, policy.caStore)) {
        throw new Error(
          `ekcert is not issued by a CA in the TPM certificate store (issuer: ${ekcert.cert.issuer.replace(/\n/g, ', ')})`,
        );
      }
    } else if (policy.requireEkCert) {
      throw new Error('ekcert is required by configuration (require_ek_cert)');
    }

    let mtlsCert: string | null | undefined;
    if (body.mtls_cert === undefined) mtlsCert = undefined;
    else if (body.mtls_cert === null || body.mtls_cert === '') mtlsCert = null;
    else if (body.mtls_cert === 'disabled') mtlsCert = 'disabled';
    else mtlsCert = toBase64(parseCertificateField(body.mtls_cert, 'mtls_cert').der);
    if (mtlsCert === null || mtlsCert === 'disabled') {
      logger.warn(
        `Agent ${agentId} did not send a mTLS certificate. Most operations will not work!`,
      );
    }
    return { body, ek, ak, ekcert, mtlsCert };
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const reason = (e as Error).message;
    logger.warn(`Data received was not valid for agent '${agentId}': ${reason}`);
    throw invalid(reason);
  }
}

function storedBytesDiffer(stored: string | null, wire: Uint8Array | null): boolean {
  if (stored === null) return false; // filling a field that was empty is allowed
  if (wire === null) return true;
  try {
    return !bytesEqual(fromBase64(stored, 'stored value'), wire);
  } catch {
    return true;
  }
}

/** Fields of the stored identity that this request would change (spec §3.3 step 2). */
function changedIdentityFields(existing: AgentRecord, req: CheckedRegistration): string[] {
  const changed: string[] = [];
  if (storedBytesDiffer(existing.ekTpm, req.ek.wire)) changed.push('ek_tpm');
  if (req.ekcert !== undefined && storedBytesDiffer(existing.ekcert, req.ekcert?.der ?? null)) {
    changed.push('ekcert');
  }
  if (storedBytesDiffer(existing.aikTpm, req.ak.wire)) changed.push('aik_tpm');
  return changed;
}

function emptyRecord(agentId: string): AgentRecord {
  return {
    agentId,
    key: null,
    aikTpm: null,
    ekTpm: null,
    ekcert: null,
    iakTpm: null,
    iakCert: null,
    idevidTpm: null,
    idevidCert: null,
    ip: null,
    port: null,
    mtlsCert: null,
    active: false,
    virtual: false,
    providerKeys: '{}',
    regcount: 0,
  };
}

/** Registers (or re-registers) `agentId`; resolves to the base64 credential blob. */
export async function registerAgent(
  agentId: string,
  rawBody: unknown,
  deps: RegistrationDeps,
): Promise<string> {
  const { store, policy, logger } = deps;
  const req = checkRequest(agentId, rawBody, policy, logger);
  const ekTpm = toBase64(req.ek.wire);

  return store.withLock(agentId, async () => {
    const existing = await store.get(agentId);
    if (existing) {
      const changed = changedIdentityFields(existing, req);
      if (changed.length > 0) {
        logger.warn(
          `SECURITY: Rejected attempt to re-register agent '${agentId}' with different TPM identity. ` +
            `Changed fields: ${changed.join(', ')}. This indicates a potential UUID spoofing attack. ` +
            'The existing agent must be deleted before registering with a new TPM. ' +
            'If this is unexpected, investigate for compromise.',
        );
        throw new HttpError(403, IDENTITY_CHANGED);
      }
    }
    if (policy.singleAgentPerEk && (await store.idsWithEk(ekTpm, agentId)).length > 0) {
      logger.warn(
        `SECURITY: Rejected registration of agent '${agentId}': its EK is already registered under another agent ID`,
      );
      throw new HttpError(403, 'This EK is already registered under another agent ID');
    }

    logger.info(`Encrypting AIK with EK for UUID ${agentId}`);
    const challenge = makeAkChallenge(req.ek, req.ak);
    const base = existing ?? emptyRecord(agentId);
    const b = req.body;
    const record: AgentRecord = {
      ...base,
      ekTpm,
      aikTpm: toBase64(req.ak.wire),
      ekcert: req.ekcert === undefined ? base.ekcert : req.ekcert ? toBase64(req.ekcert.der) : null,
      ip: b.ip === undefined ? base.ip : b.ip,
      port: b.port === undefined ? base.port : b.port,
      mtlsCert: req.mtlsCert === undefined ? base.mtlsCert : req.mtlsCert,
      key: challenge.key,
      active: false,
      regcount: (base.regcount ?? 0) + 1,
    };
    try {
      await store.save(record, existing === undefined);
    } catch (e) {
      if (!(e instanceof DuplicateAgentError)) throw e;
      logger.warn(
        `SECURITY: Agent registration failed due to database constraint violation for agent_id '${agentId}'`,
      );
      throw new HttpError(
        403,
        `Agent with UUID '${agentId}' cannot be registered. This UUID is already in use or a concurrent registration is in progress.`,
      );
    }
    logger.info(`POST returning key blob for agent_id: ${agentId}`);
    return challenge.blob;
  });
}
