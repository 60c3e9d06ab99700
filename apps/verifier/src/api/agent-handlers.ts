/**
 * @module agent-handlers: enrolment, status, listing, delete, stop and reactivate of agents
 * (verifier §1.2-§1.5, §7.1). HTTP-agnostic apart from HttpError: the routes module wires them.
 */
import type { Logger } from '@keylime/core';
import { errorMessage } from '@keylime/core';
import { OperationalState, isValidAgentId } from '@keylime/protocol';
import { HttpError } from '@keylime/server';
import type { AttestationControl } from '../attestation/control';
import { jsonColumn } from '../store/columns';
import type { AgentRow } from '../store/schema';
import type { VerifierStore } from '../store/verifier-store';
import { parseEnrolment } from './enrolment';
import type { Enrolment } from './enrolment';
import { decodeBase64Field, emptyPolicyRow, prepareRuntimePolicy } from './policy-input';
import { STATUS_COLUMNS, agentStatus } from './status';
import type { StatusRow } from './status';

export interface AgentHandlerDeps {
  readonly store: VerifierStore;
  readonly control: AttestationControl;
  readonly logger: Logger;
  readonly verifierId: string;
  readonly pull: boolean;
  readonly enableAgentMtls: boolean;
  readonly verifierIp: string;
  readonly verifierPort: number;
  readonly quoteIntervalSeconds: number;
  readonly requireSignatures: boolean;
  readonly signingKeysDir: string;
}

/** States in which DELETE removes the row at once (verifier §1.5). */
const DELETE_AT_ONCE = new Set<number>([
  OperationalState.Saved,
  OperationalState.Failed,
  OperationalState.TenantFailed,
  OperationalState.InvalidQuote,
]);

export function checkAgentId(id: string): void {
  if (!isValidAgentId(id)) throw new HttpError(400, 'agent id is not valid');
}

/** Policy rows this enrolment inserted, removed again when a later step refuses it (§1.3). */
interface CreatedRows {
  allowlist?: string;
  mbPolicy?: string;
}

/** §1.3 step 2: picks or creates the allowlists row; returns its id. */
async function runtimePolicyFor(
  deps: AgentHandlerDeps,
  agentId: string,
  e: Enrolment,
  created: CreatedRows,
): Promise<number> {
  const { store } = deps;
  const text = decodeBase64Field(e.runtimePolicyB64, 'runtime_policy');
  const name = e.runtimePolicyName;
  if (name !== '') {
    const existing = await store.getAllowlist(name);
    if (text !== '' && existing)
      throw new HttpError(409, `Runtime policy with name ${name} already exists`);
    if (text === '' && !existing)
      throw new HttpError(404, `Could not find runtime policy with name ${name}!`);
  }
  if (await store.getAgent(agentId))
    throw new HttpError(409, `Agent of uuid ${agentId} already exists`);
  if (name !== '' && text === '') return (await store.getAllowlist(name))?.id ?? -1;
  const rowName = name !== '' ? name : agentId;
  const existing = await store.getAllowlist(rowName);
  const prepared =
    text === ''
      ? emptyPolicyRow()
      : prepareRuntimePolicy(text, e.runtimePolicyKeyB64, {
          requireSignatures: deps.requireSignatures,
          signingKeysDir: deps.signingKeysDir,
        });
  // An existing row of that name is reused, not overwritten (upstream behaviour).
  if (existing) return existing.id;
  const row = await store.insertAllowlist({
    name: rowName,
    checksum: prepared.checksum,
    generator: prepared.generator,
    tpmPolicy: e.tpmPolicyText,
    imaPolicy: prepared.imaPolicy,
  });
  created.allowlist = rowName;
  return row.id;
}

/** §1.3 step 3: picks or creates the mbpolicies row; returns its id. */
async function mbPolicyFor(
  store: VerifierStore,
  agentId: string,
  e: Enrolment,
  created: CreatedRows,
): Promise<number> {
  const name = e.mbPolicyName !== '' ? e.mbPolicyName : agentId;
  const existing = await store.getMbPolicy(name);
  if (existing && e.mbPolicy !== null) {
    throw new HttpError(409, `Measured boot policy with name ${name} already exists`);
  }
  if (!existing && e.mbPolicy === null && e.mbPolicyName !== '') {
    throw new HttpError(404, `Could not find measured boot policy with name ${name}!`);
  }
  if (existing) return existing.id;
  const id = (await store.insertMbPolicy({ name, mbPolicy: e.mbPolicy })).id;
  created.mbPolicy = name;
  return id;
}

/**
 * Undoes the policy rows of a refused enrolment. The store refuses to delete a row another agent
 * already references ('in-use'), so a concurrent enrolment that picked the row up keeps it.
 */
async function dropCreated(deps: AgentHandlerDeps, created: CreatedRows): Promise<void> {
  try {
    if (created.mbPolicy !== undefined) await deps.store.deleteMbPolicy(created.mbPolicy);
    if (created.allowlist !== undefined) await deps.store.deleteAllowlist(created.allowlist);
  } catch (err) {
    deps.logger.warn(`Could not remove policies of a refused enrolment: ${errorMessage(err)}`);
  }
}

function newAgentRow(
  deps: AgentHandlerDeps,
  agentId: string,
  e: Enrolment,
  imaPolicyId: number,
  mbPolicyId: number,
): AgentRow {
  return {
    agentId,
    v: e.v,
    ip: e.ip,
    port: e.port,
    verifierId: deps.verifierId,
    verifierIp: e.verifierIp,
    verifierPort: e.verifierPort,
    operationalState: deps.pull ? OperationalState.Start : OperationalState.GetQuote,
    publicKey: '',
    tpmPolicy: jsonColumn(e.tpmPolicyText),
    metaData: e.metadata,
    imaPolicyId,
    mbPolicyId,
    imaSignVerificationKeys: e.imaSignVerificationKeys,
    revocationKey: e.revocationKey,
    acceptTpmHashAlgs: jsonColumn(e.acceptTpmHashAlgs),
    acceptTpmEncryptionAlgs: jsonColumn(e.acceptTpmEncryptionAlgs),
    acceptTpmSigningAlgs: jsonColumn(e.acceptTpmSigningAlgs),
    hashAlg: '',
    encAlg: '',
    signAlg: '',
    boottime: 0,
    imaPcrs: jsonColumn([]),
    pcr10: null,
    nextImaMlEntry: 0,
    severityLevel: null,
    lastEventId: null,
    learnedImaKeyrings: jsonColumn({}),
    supportedVersion: e.supportedVersion,
    akTpm: e.akTpm,
    mtlsCert: e.mtlsCert,
    attestationCount: 0,
    lastReceivedQuote: 0,
    lastSuccessfulAttestation: 0,
    tpmClockinfo: null,
    acceptAttestations: true,
    consecutiveAttestationFailures: null,
  };
}

/** POST /agents/{id}. */
export async function enrolAgent(
  deps: AgentHandlerDeps,
  agentId: string,
  body: unknown,
): Promise<void> {
  checkAgentId(agentId);
  const e = parseEnrolment(body, {
    pull: deps.pull,
    enableAgentMtls: deps.enableAgentMtls,
    defaultVerifierIp: deps.verifierIp,
    defaultVerifierPort: deps.verifierPort,
  });
  const created: CreatedRows = {};
  let row: AgentRow;
  try {
    const imaPolicyId = await runtimePolicyFor(deps, agentId, e, created);
    const mbPolicyId = await mbPolicyFor(deps.store, agentId, e, created);
    row = newAgentRow(deps, agentId, e, imaPolicyId, mbPolicyId);
    try {
      await deps.store.insertAgent(row);
    } catch (err) {
      if (await deps.store.getAgent(agentId))
        throw new HttpError(409, `Agent of uuid ${agentId} already exists`);
      throw new HttpError(400, `Exception error: ${errorMessage(err)}`);
    }
  } catch (err) {
    // Upstream leaves the runtime policy row behind here; a refused enrolment changes nothing.
    await dropCreated(deps, created);
    throw err;
  }
  deps.logger.info(`Agent ${agentId} added to the verifier`);
  if (deps.pull) deps.control.start(row);
}

/**
 * The status of each row, with its two policy flags read in one query per policy table for all
 * rows. A fleet enrolled by the tenant has a measured-boot policy row per agent: read one agent at
 * a time, the bulk listing of 10 000 agents took 10 000 round trips (over 6 s on PostgreSQL).
 */
async function statusesOf(
  deps: AgentHandlerDeps,
  rows: readonly StatusRow[],
): Promise<Record<string, unknown>[]> {
  const ids = (pick: (r: StatusRow) => number | null): number[] =>
    rows.flatMap((r) => {
      const id = pick(r);
      return id === null ? [] : [id];
    });
  const withRuntime = await deps.store.allowlistIdsWithGenerator(ids((r) => r.imaPolicyId));
  const withMb = await deps.store.mbPolicyIdsWithContent(ids((r) => r.mbPolicyId));
  return rows.map((row) =>
    agentStatus(row, {
      quoteIntervalSeconds: deps.quoteIntervalSeconds,
      hasMbRefstate: row.mbPolicyId !== null && withMb.has(row.mbPolicyId),
      hasRuntimePolicy: row.imaPolicyId !== null && withRuntime.has(row.imaPolicyId),
    }),
  );
}

/** GET /agents/{id}. */
export async function getAgentStatus(
  deps: AgentHandlerDeps,
  agentId: string,
): Promise<Record<string, unknown>> {
  checkAgentId(agentId);
  await deps.store.flush();
  const row = await deps.store.getAgent(agentId);
  if (!row) throw new HttpError(404, 'agent id not found');
  return (await statusesOf(deps, [row]))[0] ?? {};
}

/** GET /agents/ with optional `verifier` and `bulk` (verifier §1.2). */
export async function listAgents(
  deps: AgentHandlerDeps,
  verifier: string | undefined,
  bulk: boolean,
): Promise<Record<string, unknown>> {
  await deps.store.flush();
  const filter = verifier === undefined || verifier === '' ? undefined : verifier;
  if (!bulk) {
    // QUIRK kept: each id wrapped in a one-element list, as upstream serialises SQL rows.
    return { uuids: (await deps.store.listAgentIds(filter)).map((id) => [id]) };
  }
  const rows = await deps.store.listAgentColumns(STATUS_COLUMNS, filter);
  const statuses = await statusesOf(deps, rows);
  const out: Record<string, unknown> = {};
  rows.forEach((row, i) => (out[row.agentId] = statuses[i]));
  return out;
}

/** DELETE /agents/{id}: 200 when deleted, 202 when deletion completes later. */
export async function deleteAgent(deps: AgentHandlerDeps, agentId: string): Promise<200 | 202> {
  checkAgentId(agentId);
  await deps.store.flush();
  const row = await deps.store.getAgent(agentId);
  if (!row) throw new HttpError(404, 'agent id not found');
  if (row.verifierId !== deps.verifierId)
    throw new HttpError(404, 'agent id associated to this verifier');
  const state = row.operationalState ?? -1;
  if (state === OperationalState.Terminated) return 202;
  if (
    !deps.pull ||
    DELETE_AT_ONCE.has(state) ||
    (await deps.control.requestDelete(agentId)) === 'now'
  ) {
    deps.control.forget(agentId);
    await deps.store.deleteAgent(agentId);
    deps.logger.info(`Agent ${agentId} deleted from the verifier`);
    return 200;
  }
  await deps.store.updateAgent(agentId, { operationalState: OperationalState.Terminated }, false);
  return 202;
}

async function ownAgent(deps: AgentHandlerDeps, agentId: string): Promise<AgentRow> {
  checkAgentId(agentId);
  await deps.store.flush();
  const row = await deps.store.getAgent(agentId);
  // Upstream answers 400 "Exception error" here (§1.5 QUIRK); kept for status-code compatibility.
  if (!row || row.verifierId !== deps.verifierId)
    throw new HttpError(400, 'Exception error: agent id not found');
  return row;
}

/** PUT /agents/{id}/reactivate. */
export async function reactivateAgent(deps: AgentHandlerDeps, agentId: string): Promise<void> {
  const row = await ownAgent(deps, agentId);
  if (!deps.pull) {
    await deps.store.updateAgent(agentId, { acceptAttestations: true }, false);
    return;
  }
  await deps.store.updateAgent(agentId, { operationalState: OperationalState.Start }, false);
  deps.logger.info(`Agent ${agentId} reactivated`);
  deps.control.start({ ...row, operationalState: OperationalState.Start });
}

/** PUT /agents/{id}/stop. */
export async function stopAgent(deps: AgentHandlerDeps, agentId: string): Promise<void> {
  await ownAgent(deps, agentId);
  deps.control.stop(agentId);
  await deps.store.updateAgent(agentId, { operationalState: OperationalState.TenantFailed }, false);
  deps.logger.info(`Agent ${agentId} stopped`);
}
