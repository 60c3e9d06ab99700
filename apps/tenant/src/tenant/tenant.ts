/**
 * @module tenant/tenant: keylime_tenant's commands against the registrar, verifier and agent
 * (spec §7; KR keylime/tenant.py), with upstream's requests, checks and log lines.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCaConfig } from '@keylime/config';
import type { Environment, TenantConfig } from '@keylime/config';
import { keysVerifyHmac, rsaOaepEncrypt, ukeyAuthTag } from '@keylime/crypto';
import {
  OPERATIONAL_STATE_NAMES,
  SERVER_CURRENT_VERSION,
  SERVER_SUPPORTED_VERSIONS,
  isOperationalState,
  isValidAgentId,
  negotiateApiVersion,
  parseApiVersion,
} from '@keylime/protocol';
import { DEFAULT_AGENT_UUID } from './args';
import type { TenantArgs } from './args';
import { UserError, oneLineMessage } from './errors';
import {
  TransportError,
  TransportFailure,
  createServiceClient,
  hostForUrl,
  resultsOf,
  statusTextOf,
} from './http';
import type { HttpReply, ServiceClient, TlsMaterial } from './http';
import {
  checkIdentityQuote,
  ekCertIsTrusted,
  ekPem,
  isAccepted,
  isRecognizedHash,
  loadCertStore,
  runEkCheckScript,
} from './identity';
import type { Reporter } from './output';
import { buildKeyMaterial } from './payload';
import type { KeyMaterial } from './payload';
import { processPolicy } from './policies';
import type { PolicyBundle } from './policies';
import { askCaPassword } from './prompt';
import { pyJson, pyRepr } from './python-format';
import { renderAgentList, renderAgentStatus, renderBulk, renderPolicyList } from './render';
import { pyFloat, pyInt, retryTime } from './retry';
import { tpmPolicyJson } from './tpm-policy';

/** Versions the tenant speaks (upstream: all versions with major < 3). */
export const TENANT_API_VERSIONS: readonly string[] = SERVER_SUPPORTED_VERSIONS.filter(
  (v) => (parseApiVersion(v)?.major ?? 99) < 3,
);

/** The registrar record fields the tenant uses (KR registrar_client.getData). */
export interface RegistrarData {
  readonly aik_tpm: string;
  readonly regcount: number;
  readonly ek_tpm: string;
  readonly ip: string | null;
  readonly port: number | string | null;
  readonly mtls_cert: string | null;
  readonly ekcert: string | null;
  readonly provider_keys?: unknown;
}

/** Everything a command needs; mutable as upstream's Tenant object is. */
export interface TenantContext {
  readonly config: TenantConfig;
  readonly env: Environment;
  readonly out: Reporter;
  readonly args: TenantArgs;
  readonly tls: TlsMaterial | undefined;
  readonly agentUuid: string;
  verifierIp: string;
  verifierPort: string;
  verifierId: string | undefined;
  readonly registrarIp: string;
  readonly registrarPort: string;
  agentIp: string | undefined;
  agentPort: string | number | undefined;
  cvAgentIp: string | undefined;
  registrarData: RegistrarData | undefined;
  agentApiVersion: string | undefined;
  verifierApiVersion: string | undefined;
  registrarApiVersion: string | undefined;
  enableAgentMtls: boolean;
  pushModel: boolean;
  keys: KeyMaterial | undefined;
  policies: PolicyBundle | undefined;
  authTag: string;
  clients: Map<string, ServiceClient>;
  /** Waits (seconds); replaceable in tests. */
  sleep: (seconds: number) => Promise<void>;
}

/** Builds the context the way upstream main() prepares the Tenant object. */
export function createTenantContext(
  config: TenantConfig,
  env: Environment,
  args: TenantArgs,
  tls: TlsMaterial | undefined,
  out: Reporter,
): TenantContext {
  let agentUuid = args.agentUuid;
  if (agentUuid !== undefined) {
    if (!isValidAgentId(agentUuid))
      throw new UserError('The agent ID set via agent uuid parameter use invalid characters');
  } else {
    out.warn(`Using default UUID ${DEFAULT_AGENT_UUID}`, null);
    agentUuid = DEFAULT_AGENT_UUID;
  }
  return {
    config,
    env,
    out,
    args,
    tls,
    agentUuid,
    verifierIp: args.verifierIp ?? config.verifierIp,
    verifierPort: args.verifierPort ?? String(config.verifierPort),
    verifierId: args.verifierId,
    registrarIp: args.registrarIp ?? config.registrarIp,
    registrarPort: args.registrarPort ?? String(config.registrarPort),
    agentIp: undefined,
    agentPort: undefined,
    cvAgentIp: undefined,
    registrarData: undefined,
    agentApiVersion: undefined,
    verifierApiVersion: undefined,
    registrarApiVersion: undefined,
    enableAgentMtls: config.enableAgentMtls,
    pushModel: args.pushModel,
    keys: undefined,
    policies: undefined,
    authTag: '',
    clients: new Map(),
    sleep: (s) => new Promise((r) => setTimeout(r, s * 1000)),
  };
}

/** Closes the keep-alive connections so the process can exit. */
export function closeClients(ctx: TenantContext): void {
  for (const c of ctx.clients.values()) c.close();
  ctx.clients.clear();
}

/** Text of a JSON scalar (objects become JSON). */
function scalarText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

// ---------------------------------------------------------------- names used in messages

export function agentFid(ctx: TenantContext): string {
  return ctx.agentIp
    ? `Agent ${ctx.agentUuid} (${ctx.agentIp}:${ctx.agentPort ?? 'None'})`
    : `Agent ${ctx.agentUuid}`;
}

export function verifierFid(ctx: TenantContext): string {
  let s = 'Verifier';
  if (ctx.verifierId) s = `${s} ${ctx.verifierId}`;
  if (ctx.verifierIp) s = `${s} (${ctx.verifierIp}:${ctx.verifierPort})`;
  return s;
}

export function registrarFid(ctx: TenantContext): string {
  return ctx.registrarIp ? `Registrar (${ctx.registrarIp}:${ctx.registrarPort})` : 'Registrar';
}

// ---------------------------------------------------------------- clients and versions

function timeoutMs(ctx: TenantContext): number {
  return Math.max(1, ctx.config.requestTimeoutSeconds) * 1000;
}

function serviceClient(ctx: TenantContext, which: 'verifier' | 'registrar'): ServiceClient {
  const host = which === 'verifier' ? ctx.verifierIp : ctx.registrarIp;
  const port = which === 'verifier' ? ctx.verifierPort : ctx.registrarPort;
  const key = `${which}:${host}:${port}`;
  let client = ctx.clients.get(key);
  if (client === undefined) {
    if (ctx.tls === undefined) {
      throw new UserError(
        `Cannot talk to the ${which} without TLS: the tenant's client certificate or key is missing (client_cert, client_key in tenant.conf)`,
      );
    }
    client = createServiceClient({
      label: which === 'verifier' ? verifierFid(ctx) : registrarFid(ctx),
      host,
      port,
      tls: ctx.tls,
      timeoutMs: timeoutMs(ctx),
    });
    ctx.clients.set(key, client);
  }
  return client;
}

function agentClient(ctx: TenantContext): ServiceClient {
  const useTls =
    ctx.enableAgentMtls &&
    ctx.registrarData?.mtls_cert != null &&
    ctx.registrarData.mtls_cert !== 'disabled';
  const key = `agent:${ctx.agentIp}:${ctx.agentPort}:${useTls}`;
  let client = ctx.clients.get(key);
  if (client === undefined) {
    if (!ctx.agentIp || ctx.agentPort === undefined || ctx.agentPort === null) {
      throw new UserError(
        `No address for ${agentFid(ctx)}: give -t/-tp or let the agent register its contact address`,
      );
    }
    if (useTls && ctx.tls === undefined)
      throw new UserError('Cannot use mTLS to the agent: the tenant has no client certificate');
    if (!useTls) ctx.out.warn(`Connecting to ${agentFid(ctx)} without using mTLS!`);
    client = createServiceClient({
      label: agentFid(ctx),
      host: ctx.agentIp,
      port: ctx.agentPort,
      tls: useTls ? ctx.tls : undefined,
      extraCa: useTls && ctx.registrarData?.mtls_cert ? [ctx.registrarData.mtls_cert] : [],
      timeoutMs: timeoutMs(ctx),
    });
    ctx.clients.set(key, client);
  }
  return client;
}

/** Upstream _fetch_server_versions + _negotiate_server_version; unreachable is an error right away. */
async function negotiateServerVersion(
  ctx: TenantContext,
  which: 'verifier' | 'registrar',
): Promise<string> {
  const client = serviceClient(ctx, which);
  let versions: string[] | undefined;
  const reply = await client.request('GET', '/version');
  if (reply.status === 410) {
    ctx.out.debug(`${which} returned 410 (push mode), falling back to current version`);
  } else if (reply.status !== 200) {
    ctx.out.warn(`Failed to get versions from ${which}: ${reply.status}`, null);
  } else {
    const list = resultsOf(reply)?.['supported_versions'];
    if (Array.isArray(list) && list.every((v) => typeof v === 'string')) versions = list;
    else ctx.out.warn(`Unexpected response format from ${which} /version endpoint`, null);
  }
  let version: string = SERVER_CURRENT_VERSION;
  if (versions !== undefined) {
    const negotiated = negotiateApiVersion(TENANT_API_VERSIONS, versions);
    if (negotiated === undefined) {
      throw new UserError(
        `No compatible API version with ${which}. Tenant supports: ${pyRepr(TENANT_API_VERSIONS)}, Server supports: ${pyRepr(versions)}`,
      );
    }
    version = negotiated;
  }
  ctx.out.info(`Using API version ${version} for ${which} communication`, null);
  return version;
}

async function verifierVersion(ctx: TenantContext): Promise<string> {
  ctx.verifierApiVersion ??= await negotiateServerVersion(ctx, 'verifier');
  return ctx.verifierApiVersion;
}

async function registrarVersion(ctx: TenantContext): Promise<string> {
  ctx.registrarApiVersion ??= await negotiateServerVersion(ctx, 'registrar');
  return ctx.registrarApiVersion;
}

async function verifierRequest(
  ctx: TenantContext,
  method: string,
  rest: string,
  body?: unknown,
): Promise<HttpReply> {
  const v = await verifierVersion(ctx);
  return serviceClient(ctx, 'verifier').request(method, `/v${v}${rest}`, body);
}

/** upstream keylime_logging.log_http_response. */
function logHttpResponse(ctx: TenantContext, level: 'error' | 'warn', reply: HttpReply): void {
  const j = reply.json as Record<string, unknown> | undefined;
  if (j && typeof j === 'object' && 'results' in j && 'code' in j && 'status' in j) {
    ctx.out[level](`Response code ${String(j['code'])}: ${String(j['status'])}`, null);
  } else {
    ctx.out.error('Error: unexpected or malformed http response payload', null);
  }
}

// ---------------------------------------------------------------- registrar

const MANDATORY = ['aik_tpm', 'regcount', 'ek_tpm', 'ip', 'port'] as const;

/** KR registrar_client.getData: the agent's record, or undefined (with upstream's CRITICAL lines). */
export async function getRegistrarData(ctx: TenantContext): Promise<RegistrarData | undefined> {
  const v = await registrarVersion(ctx);
  const reply = await serviceClient(ctx, 'registrar').request(
    'GET',
    `/v${v}/agents/${ctx.agentUuid}`,
  );
  if (reply.status === 404) {
    ctx.out.error(
      `Error: could not get agent ${ctx.agentUuid} data from Registrar Server: 404`,
      null,
    );
    logHttpResponse(ctx, 'error', reply);
    return undefined;
  }
  if (reply.status !== 200) {
    ctx.out.error(
      `Error: unexpected http response code from Registrar Server: ${reply.status}`,
      null,
    );
    logHttpResponse(ctx, 'error', reply);
    return undefined;
  }
  const r = resultsOf(reply);
  if (r === undefined) {
    ctx.out.error(
      `Error: unexpected http response body from Registrar Server: ${reply.status}`,
      null,
    );
    return undefined;
  }
  for (const field of MANDATORY) {
    if (!(field in r)) {
      ctx.out.error(`Error: did not receive ${field} from Registrar Server.`, null);
      return undefined;
    }
  }
  const data: RegistrarData = {
    aik_tpm: String(r['aik_tpm']),
    regcount: Number(r['regcount']),
    ek_tpm: String(r['ek_tpm']),
    ip: (r['ip'] as string | null) ?? null,
    port: (r['port'] as number | string | null) ?? null,
    mtls_cert: (r['mtls_cert'] as string | null | undefined) ?? null,
    ekcert: (r['ekcert'] as string | null | undefined) ?? null,
    ...('provider_keys' in r ? { provider_keys: r['provider_keys'] } : {}),
  };
  return data;
}

/** `-c regstatus`. */
export async function doRegstatus(ctx: TenantContext): Promise<Record<string, unknown>> {
  const info = await getRegistrarData(ctx);
  if (info === undefined) {
    ctx.out.info(
      `Agent ${ctx.agentUuid} does not exist on the registrar. Please register the agent with the registrar.`,
      null,
    );
    ctx.out.info(
      pyJson({
        code: 404,
        status: `Agent ${ctx.agentUuid} does not exist on registrar ${ctx.registrarIp} port ${ctx.registrarPort}.`,
        results: {},
      }),
      null,
    );
    throw new UserError(
      `${agentFid(ctx)} does not exist on ${registrarFid(ctx)}. Check the agent logs to for error messages while attempting to get registered.`,
    );
  }
  const status = `Agent ${ctx.agentUuid} exists on registrar ${ctx.registrarIp} port ${ctx.registrarPort}.`;
  const results = { [ctx.agentUuid]: { ...info, operational_state: OPERATIONAL_STATE_NAMES[0] } };
  const response = { code: 200, status, results };
  ctx.out.info(`Status from ${registrarFid(ctx)}: ${status}`, null);
  ctx.out.info(pyJson(response), null);
  ctx.out.info(`Agent Info from ${registrarFid(ctx)}:\n${pyJson(results)}`, null);
  return response;
}

/** `-c reglist`. */
export async function doReglist(ctx: TenantContext): Promise<void> {
  const v = await registrarVersion(ctx);
  const reply = await serviceClient(ctx, 'registrar').request('GET', `/v${v}/agents/`);
  if (reply.status !== 200) {
    ctx.out.warn(`Registrar returned: ${reply.status} Unexpected response from registrar.`, null);
    logHttpResponse(ctx, 'warn', reply);
    throw new UserError(`${registrarFid(ctx)} could not list agents: ${statusTextOf(reply)}`);
  }
  const results = resultsOf(reply) ?? {};
  ctx.out.info(
    `From registrar ${ctx.registrarIp} port ${ctx.registrarPort} retrieved ${pyJson(reply.json)}\n`,
    null,
  );
  ctx.out.info(`Agent list from ${registrarFid(ctx)} retrieved: \n${pyJson(results)}`, null);
  ctx.out.result(results, (r) => renderAgentList(r, 'registrar'));
}

/** `-c regdelete`. */
export async function doRegdelete(ctx: TenantContext): Promise<void> {
  const v = await registrarVersion(ctx);
  const reply = await serviceClient(ctx, 'registrar').request(
    'DELETE',
    `/v${v}/agents/${ctx.agentUuid}`,
  );
  if (reply.status === 200) {
    ctx.out.debug('Registrar deleted.');
    ctx.out.note(`Agent ${ctx.agentUuid} deleted from ${registrarFid(ctx)}`);
    ctx.out.result({ agent_id: ctx.agentUuid, deleted: true });
    return;
  }
  ctx.out.warn(
    `Status command response: ${reply.status} Unexpected response from registrar.`,
    null,
  );
  logHttpResponse(ctx, 'warn', reply);
  // Upstream returns here with exit 0; a missing agent is an error for scripts and people alike.
  throw new UserError(
    `${agentFid(ctx)} could not be deleted from ${registrarFid(ctx)}: ${statusTextOf(reply)}`,
  );
}

// ---------------------------------------------------------------- verifier status

function stateName(code: unknown): unknown {
  if (typeof code !== 'number' || !isOperationalState(code)) return code;
  return OPERATIONAL_STATE_NAMES[code];
}

/** `-c cvstatus` (upstream do_cvstatus); returns the envelope with results keyed by agent id. */
export async function doCvstatus(
  ctx: TenantContext,
  notFoundFail = true,
  quiet = false,
): Promise<{ code: number; results: Record<string, unknown> }> {
  const reply = await verifierRequest(ctx, 'GET', `/agents/${ctx.agentUuid}`);
  if (reply.status === 503)
    throw new UserError(`Cannot connect to ${verifierFid(ctx)}. Connection refused.`);
  if (reply.status === 504) {
    ctx.out.error(`${verifierFid(ctx)} timed out.`, null);
    throw new UserError(`${verifierFid(ctx)} timed out.`);
  }
  if (reply.status === 404) {
    ctx.out.info(
      `Verifier at ${ctx.verifierIp} with Port ${ctx.verifierPort} does not have agent ${ctx.agentUuid}.`,
      quiet ? null : undefined,
    );
    if (notFoundFail)
      throw new UserError(`${agentFid(ctx)} does not exist on ${verifierFid(ctx)}.`);
    return { code: 404, results: {} };
  }
  if (reply.status === 200) {
    const res = { ...(resultsOf(reply) ?? {}) };
    if (ctx.pushModel) delete res['operational_state'];
    else if (res['operational_state'] !== null && res['operational_state'] !== undefined) {
      res['operational_state'] = stateName(res['operational_state']);
    }
    const results = { [ctx.agentUuid]: res };
    ctx.out.info(`Agent Info from ${verifierFid(ctx)}:\n${pyJson(results)}`, null);
    return { code: 200, results };
  }
  if (reply.json === undefined)
    throw new UserError(
      `Unable to convert response to JSON format (${verifierFid(ctx)}, HTTP ${reply.status})`,
    );
  throw new UserError(
    `Status command response: ${reply.status}. Unexpected response from ${verifierFid(ctx)} while checking status for ${agentFid(ctx)} : ${statusTextOf(reply)}`,
  );
}

/** `-c status`: registrar, then verifier. */
export async function doStatus(ctx: TenantContext): Promise<void> {
  const reg = await doRegstatus(ctx);
  const cv = await doCvstatus(ctx);
  const regInfo = (reg['results'] as Record<string, unknown>)[ctx.agentUuid];
  const cvInfo = cv.results[ctx.agentUuid];
  ctx.out.result({ [ctx.agentUuid]: { registrar: regInfo, verifier: cvInfo } }, () =>
    renderAgentStatus(ctx.agentUuid, regInfo, cvInfo),
  );
}

/** `-c cvlist`. */
export async function doCvlist(ctx: TenantContext): Promise<void> {
  const reply = await verifierRequest(
    ctx,
    'GET',
    `/agents/?verifier=${encodeURIComponent(ctx.verifierId ?? '')}`,
  );
  if (reply.status === 503)
    throw new UserError(`Cannot connect to ${verifierFid(ctx)}. Connection refused.`);
  if (reply.status === 504) throw new UserError(`${verifierFid(ctx)} timed out.`);
  if (reply.status === 404) {
    ctx.out.info(`${verifierFid(ctx)} does not have any agents`);
    ctx.out.result({ uuids: [] });
    return;
  }
  if (reply.status !== 200) {
    throw new UserError(
      `Status command response: ${reply.status}. Unexpected response from ${verifierFid(ctx)} while providing agent list : ${statusTextOf(reply)}`,
    );
  }
  const results = resultsOf(reply) ?? {};
  ctx.out.info(
    `From verifier ${ctx.verifierIp} port ${ctx.verifierPort} retrieved: "${pyRepr(reply.json)}"\n`,
    null,
  );
  ctx.out.info(`Agent list from ${verifierFid(ctx)} retrieved: \n${pyJson(results)}`, null);
  ctx.out.result(results, (r) => renderAgentList(r, 'verifier'));
}

/** `-c bulkinfo`. */
export async function doBulkinfo(ctx: TenantContext): Promise<void> {
  const reply = await verifierRequest(
    ctx,
    'GET',
    `/agents/?bulk=True&verifier=${encodeURIComponent(ctx.verifierId ?? '')}`,
  );
  if (reply.status !== 200) {
    throw new UserError(
      `Status command response: ${reply.status}. Unexpected response from ${verifierFid(ctx)} while providing bulk status for all agents : ${statusTextOf(reply)}`,
    );
  }
  const results: Record<string, unknown> = {};
  for (const [id, info] of Object.entries(resultsOf(reply) ?? {})) {
    const rec = { ...(info as Record<string, unknown>) };
    rec['operational_state'] =
      rec['operational_state'] === null || rec['operational_state'] === undefined
        ? 'Not applicable (Push Mode)'
        : stateName(rec['operational_state']);
    results[id] = rec;
  }
  ctx.out.info(`Bulk Agent Info:\n${pyJson(results)}`, null);
  ctx.out.result(results, (r) => renderBulk(r));
}

// ---------------------------------------------------------------- delete, reactivate, stop

/** Lines of a wait for the verifier; `next` is the delay before the following try, in seconds. */
interface CvWaitText {
  readonly giveUp: (tries: number) => string;
  readonly retry: (tries: number, next: number) => string;
  readonly progress: (tries: number, next: number) => string;
}

/**
 * Asks the verifier for the agent's status until it answers `wanted` (200: known, 404: gone),
 * backing off as upstream's retry loop does; gives up after max_retries. Returns the tries taken.
 */
async function waitForCvStatus(
  ctx: TenantContext,
  wanted: 200 | 404,
  text: CvWaitText,
): Promise<number> {
  let numtries = 0;
  for (;;) {
    const status = await doCvstatus(ctx, false, true);
    if (status.code === wanted) return numtries;
    numtries += 1;
    if (numtries >= ctx.config.maxRetries) throw new UserError(text.giveUp(numtries));
    const next = retryTime(
      ctx.config.exponentialBackoff,
      ctx.config.retryIntervalSeconds,
      numtries,
    );
    ctx.out.info(text.retry(numtries, next), null);
    ctx.out.progress(text.progress(numtries, next));
    await ctx.sleep(next);
  }
}

/** `-c delete` (upstream do_cvdelete). */
export async function doCvdelete(ctx: TenantContext, verifierCheck: boolean): Promise<void> {
  if (verifierCheck) {
    const status = await doCvstatus(ctx, false, true);
    if (status.code === 404) {
      ctx.out.info(
        `The ${agentFid(ctx)} is deleted from ${verifierFid(ctx)}`,
        `${agentFid(ctx)} is not on ${verifierFid(ctx)} (nothing to delete)`,
      );
      return;
    }
    const rec = status.results[ctx.agentUuid] as Record<string, unknown> | undefined;
    if (rec) {
      // Talk to the verifier that actually serves this agent, as upstream does.
      if (typeof rec['verifier_ip'] === 'string' && rec['verifier_ip'])
        ctx.verifierIp = rec['verifier_ip'];
      if (rec['verifier_port'] !== undefined && rec['verifier_port'] !== null)
        ctx.verifierPort = scalarText(rec['verifier_port']);
      if (typeof rec['verifier_id'] === 'string') ctx.verifierId = rec['verifier_id'];
      if (typeof rec['ip'] === 'string') ctx.agentIp = rec['ip'];
      if (rec['port'] !== undefined && rec['port'] !== null)
        ctx.agentPort = rec['port'] as number | string;
    }
  }
  const reply = await verifierRequest(ctx, 'DELETE', `/agents/${ctx.agentUuid}`);
  const code =
    typeof (reply.json as Record<string, unknown> | undefined)?.['code'] === 'number'
      ? Number((reply.json as Record<string, unknown>)['code'])
      : reply.status;
  if (code === 503)
    throw new UserError(
      `Cannot connect to ${verifierFid(ctx)} to delete ${agentFid(ctx)}. Connection refused.`,
    );
  if (code === 504)
    throw new UserError(`${verifierFid(ctx)} timed out while deleting ${agentFid(ctx)}.`);
  if (code === 200) {
    ctx.out.info(`Agent ${ctx.agentUuid} deleted from the CV`);
    return;
  }
  if (code === 202) {
    const numtries = await waitForCvStatus(ctx, 404, {
      giveUp: (n) => `${agentFid(ctx)} was not deleted from ${verifierFid(ctx)} after ${n} tries`,
      retry: (n, next) =>
        `${agentFid(ctx)} still not deleted from ${verifierFid(ctx)} at try ${n}/${ctx.config.maxRetries}, trying again in ${pyFloat(next)} seconds...`,
      progress: (n, next) =>
        `Waiting for ${verifierFid(ctx)} to delete ${agentFid(ctx)} (try ${n}/${ctx.config.maxRetries}, next in ${pyFloat(next)} s)…`,
    });
    ctx.out.info(
      `${agentFid(ctx)} was deleted from ${verifierFid(ctx)} after ${numtries} tries`,
      null,
    );
    ctx.out.info(`Agent ${ctx.agentUuid} deleted from the CV`);
    return;
  }
  if (code === 404) {
    ctx.out.info(`Agent ${ctx.agentUuid} is already absent from the CV`);
    return;
  }
  throw new UserError(
    `Unexpected response code ${code} from ${verifierFid(ctx)} while deleting ${agentFid(ctx)}: ${statusTextOf(reply)}`,
  );
}

/** `-c reactivate`. */
export async function doCvreactivate(ctx: TenantContext, verifierCheck: boolean): Promise<void> {
  if (verifierCheck) {
    const status = await doCvstatus(ctx);
    const rec = status.results[ctx.agentUuid] as Record<string, unknown> | undefined;
    if (rec) {
      if (typeof rec['verifier_ip'] === 'string' && rec['verifier_ip'])
        ctx.verifierIp = rec['verifier_ip'];
      if (rec['verifier_port'] !== undefined && rec['verifier_port'] !== null)
        ctx.verifierPort = scalarText(rec['verifier_port']);
      if (typeof rec['verifier_id'] === 'string') ctx.verifierId = rec['verifier_id'];
    }
  }
  const reply = await verifierRequest(ctx, 'PUT', `/agents/${ctx.agentUuid}/reactivate`, '');
  if (reply.status === 503)
    throw new UserError(`Cannot connect to ${verifierFid(ctx)}. Connection refused.`);
  if (reply.status === 504) throw new UserError(`${verifierFid(ctx)} timed out.`);
  if (reply.status !== 200) {
    throw new UserError(
      `Reactivate command response: ${reply.status} Unexpected response from ${verifierFid(ctx)}.`,
    );
  }
  ctx.out.info(`Agent ${ctx.agentUuid} re-activated`, null);
  ctx.out.info(`${agentFid(ctx)} re-activated`);
  ctx.out.result({ agent_id: ctx.agentUuid, reactivated: true });
}

/** PUT …/stop after a failed --verify. */
async function doCvstop(ctx: TenantContext): Promise<void> {
  const reply = await verifierRequest(ctx, 'PUT', `/agents/${ctx.agentUuid}/stop`, '');
  if (reply.status === 503)
    throw new UserError(`Cannot connect to ${verifierFid(ctx)}. Connection refused.`);
  if (reply.status === 504) throw new UserError(`${verifierFid(ctx)} timed out.`);
  if (reply.status !== 200)
    throw new UserError(
      `Stop command response: ${reply.status} Unexpected response from ${verifierFid(ctx)}.`,
    );
  ctx.out.info(`${agentFid(ctx)} stopped`);
}

// ---------------------------------------------------------------- add

/** Downloads a URL to a temporary file (upstream write_to_namedtempfile). */
async function download(ctx: TenantContext, url: string, what: string): Promise<string> {
  ctx.out.info(`Downloading ${what} from ${url}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`Invalid URL for ${what}: ${url}`);
  }
  const client = createServiceClient({
    label: parsed.host,
    host: parsed.hostname,
    port: parsed.port || (parsed.protocol === 'https:' ? 443 : 80),
    tls:
      parsed.protocol === 'https:'
        ? {
            cert: Buffer.alloc(0),
            key: Buffer.alloc(0),
            passphrase: undefined,
            ca: [],
            caFiles: [],
            verifyPeer: true,
          }
        : undefined,
    timeoutMs: timeoutMs(ctx),
  });
  try {
    const reply = await client.request('GET', `${parsed.pathname}${parsed.search}`);
    if (reply.status !== 200)
      throw new UserError(`Downloading ${what} (${url}) failed with status code ${reply.status}!`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'keylime-'));
    const file = path.join(dir, 'download');
    writeFileSync(file, reply.text, { mode: 0o600 });
    return file;
  } finally {
    client.close();
  }
}

/** Upstream main()'s pre-processing for add/update: remote policies and keys become files. */
async function fetchRemoteInputs(
  ctx: TenantContext,
): Promise<{ runtimePolicy: string | undefined; allowlist: string | undefined; keys: string[] }> {
  const a = ctx.args;
  let runtimePolicy = a.runtimePolicy;
  let allowlist = a.allowlist;
  const keys = [...a.imaSignVerificationKeys];
  if (a.imaSignVerificationKeySigs.length > 0 || a.imaSignVerificationKeySigUrls.length > 0) {
    throw new UserError(
      'GPG signatures of IMA verification keys (--signature-verification-key-sig*) are not supported; put the keys into a (signed) runtime policy instead',
    );
  }
  if (a.runtimePolicyUrl) runtimePolicy = await download(ctx, a.runtimePolicyUrl, 'IMA policy');
  if (a.allowlistUrl) allowlist = await download(ctx, a.allowlistUrl, 'Allowlist');
  for (const url of a.imaSignVerificationKeyUrls) keys.push(await download(ctx, url, 'key'));
  return { runtimePolicy, allowlist, keys };
}

/** Policies for add/update and the policy commands. */
async function policiesFor(ctx: TenantContext): Promise<PolicyBundle> {
  const remote = await fetchRemoteInputs(ctx);
  const a = ctx.args;
  return processPolicy(
    {
      tpmPolicy: a.tpmPolicy,
      imaSignVerificationKeys: remote.keys,
      allowlist: remote.allowlist,
      imaExclude: a.imaExclude,
      runtimePolicy: remote.runtimePolicy,
      runtimePolicyChecksum: a.runtimePolicyChecksum,
      runtimePolicySigKey: a.runtimePolicySigKey,
      allowlistName: a.allowlistName,
      runtimePolicyName: a.runtimePolicyName,
      mbPolicy: a.mbPolicy,
      mbPolicyName: a.mbPolicyName,
    },
    ctx.config.mbRefstate,
    ctx.out,
  );
}

/** Upstream init_add: registrar record, agent address and API version, policies, K/U/V. */
export async function initAdd(ctx: TenantContext): Promise<void> {
  const a = ctx.args;
  if (a.agentIp !== undefined) ctx.agentIp = a.agentIp;
  if (a.agentPort !== undefined) ctx.agentPort = a.agentPort;
  const data = await getRegistrarData(ctx);
  if (data === undefined)
    throw new UserError(`Agent ${ctx.agentUuid} data not found in the Registrar.`);
  ctx.registrarData = data;
  if (ctx.agentIp === undefined && data.ip !== null) ctx.agentIp = data.ip;
  if (ctx.agentPort === undefined && data.port !== null) ctx.agentPort = data.port;
  ctx.agentApiVersion = a.agentApiVersion ?? a.supportedVersion;
  if (data.mtls_cert === null && ctx.agentApiVersion === undefined) {
    ctx.agentApiVersion = '1.0';
  } else if (!ctx.pushModel && ctx.agentIp && ctx.agentPort !== undefined) {
    if (data.mtls_cert === 'disabled') {
      ctx.enableAgentMtls = false;
      ctx.out.warn(
        `Warning: mTLS for ${agentFid(ctx)} is disabled: the identity of each node will be based on the properties of the TPM only. ` +
          'Unless you have strict control of your network, it is strongly advised that remote code execution should be disabled, ' +
          'by setting "payload_script=" and "extract_payload_zip=False" under "[agent]" in agent configuration file.',
      );
    }
    await detectAgentVersion(ctx);
  }
  if (ctx.agentApiVersion === undefined) {
    ctx.out.warn(
      `Could not detect supported API version. Defaulting to ${SERVER_CURRENT_VERSION} (push_model=${ctx.pushModel ? 'True' : 'False'}, agent_ip=${ctx.agentIp ?? 'None'}, agent_port=${ctx.agentPort ?? 'None'})`,
    );
    ctx.agentApiVersion = SERVER_CURRENT_VERSION;
  }
  ctx.out.info(`Using API version ${ctx.agentApiVersion} for agent communication`, null);
  ctx.cvAgentIp = a.cvAgentIp ?? ctx.agentIp;
  ctx.policies = await policiesFor(ctx);
  ctx.keys = await buildKeyMaterial(
    ctx.agentUuid,
    {
      file: a.file,
      keyfile: a.keyfile,
      payload: a.payload,
      caDir: a.caDir,
      inclDir: a.inclDir,
      verify: a.verify,
    },
    ctx.config.maxPayloadSize,
    {
      defaultDir: path.join(ctx.config.raw.workDir, 'ca'),
      config: () => loadCaConfig({ env: ctx.env }),
      password: () =>
        askCaPassword(undefined, loadCaConfig({ env: ctx.env }).password, (m) => ctx.out.warn(m)),
      log: { info: (m) => ctx.out.info(m, null), warn: (m) => ctx.out.warn(m) },
    },
  );
}

/** GET /version on the agent and negotiation (upstream init_add's agent part). */
async function detectAgentVersion(ctx: TenantContext): Promise<void> {
  let reply: HttpReply;
  try {
    reply = await agentClient(ctx).request('GET', '/version');
  } catch (e) {
    if (e instanceof TransportError && e.kind === TransportFailure.UnknownCa) {
      throw new UserError(
        'Keylime agent does not recognize mTLS certificate form tenant. Check if agents trusted_client_ca is configured correctly',
      );
    }
    throw e;
  }
  if (reply.status !== 200) return;
  const r = resultsOf(reply);
  const listed = r?.['supported_versions'] ?? r?.['supported_version'];
  const agentVersions =
    typeof listed === 'string'
      ? [listed]
      : Array.isArray(listed)
        ? listed.filter((v): v is string => typeof v === 'string')
        : [];
  if (agentVersions.length === 0) {
    ctx.out.warn('Agent did not provide version information');
    return;
  }
  const negotiated = negotiateApiVersion(TENANT_API_VERSIONS, agentVersions);
  if (negotiated === undefined) {
    throw new UserError(
      `Agent ${ctx.agentUuid} has no compatible API version. Agent supports: ${pyRepr(agentVersions)}, Tenant supports: ${pyRepr(TENANT_API_VERSIONS)}`,
    );
  }
  if (ctx.agentApiVersion === undefined) {
    ctx.agentApiVersion = negotiated;
    ctx.out.info(
      `Negotiated API version ${negotiated} with agent ${ctx.agentUuid} (agent: ${pyRepr(agentVersions)}, tenant: ${pyRepr(TENANT_API_VERSIONS)})`,
      null,
    );
  }
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz';

/** tpm_util.random_password: `length` characters from [A-Z0-9a-z]. */
export function randomPassword(length = 20): string {
  let s = '';
  for (let i = 0; i < length; i++) s += NONCE_ALPHABET[randomInt(NONCE_ALPHABET.length)];
  return s;
}

/** Upstream check_ek: returns false (after a warning) when the EK certificate is not acceptable. */
function checkEk(ctx: TenantContext, ekcert: string | null): boolean {
  if (!ctx.config.requireEkCert) return true;
  const testMode = ['on', 'true', '1'].includes(
    String(ctx.env['KEYLIME_TEST'] ?? '').toLowerCase(),
  );
  if (ekcert === 'emulator' && testMode) {
    ctx.out.info(`Not checking ekcert of TPM emulator for ${agentFid(ctx)}`);
    return true;
  }
  if (ekcert === null) {
    ctx.out.warn(
      `No EK cert provided, require_ek_cert option in config set to True for ${agentFid(ctx)}`,
    );
    return false;
  }
  const storeDir = ctx.config.tpmCertStore ?? '';
  const store = loadCertStore(storeDir, (m) => ctx.out.warn(m));
  if (!ekCertIsTrusted(ekcert, store)) {
    ctx.out.warn(`Invalid EK certificate for ${agentFid(ctx)}`);
    return false;
  }
  return true;
}

/** Upstream validate_tpm_quote: quote, then EK certificate, then ek_check_script. Throws a clear UserError. */
function validateTpmQuote(
  ctx: TenantContext,
  nonce: string,
  pubkey: string,
  quote: string,
  hashAlg: string,
): void {
  const data = ctx.registrarData;
  if (data === undefined)
    throw new UserError(
      `AIK not found in ${registrarFid(ctx)}, quote not validated for ${agentFid(ctx)}`,
    );
  const problem = checkIdentityQuote({
    quote,
    nonce,
    akTpmBase64: data.aik_tpm,
    hashAlg,
    pubkeyPem: pubkey,
  });
  if (problem !== undefined) {
    ctx.out.warn(
      `Identity quote check failed for ${agentFid(ctx)}: ${problem}`,
      `identity quote check failed: ${problem}`,
    );
    if (data.regcount > 1) {
      ctx.out.error(
        `WARNING: ${agentFid(ctx)} had more than one ek-ekcert registered to it! This might indicate that your system is misconfigured or a malicious host is present. Run 'regdelete' for this agent and restart`,
      );
    }
    throw new UserError(`TPM Quote from ${agentFid(ctx)} is invalid for nonce: ${nonce}`);
  }
  const script = ctx.config.ekCheckScript;
  if (!ctx.config.requireEkCert && !script) {
    ctx.out.warn(
      `DANGER: EK cert checking is disabled and no additional checks on EKs have been specified with ek_check_script option for ${agentFid(ctx)}. Keylime is not secure!!`,
    );
    return;
  }
  if (!checkEk(ctx, data.ekcert)) {
    throw new UserError(
      data.ekcert === null
        ? `${agentFid(ctx)} has no EK certificate and require_ek_cert is True`
        : `EK certificate of ${agentFid(ctx)} is not signed by a CA in tpm_cert_store (${ctx.config.tpmCertStore ?? 'unset'})`,
    );
  }
  if (!script) return;
  ctx.out.info(`Checking EK for ${agentFid(ctx)} with script ${script}`);
  const ok = runEkCheckScript(
    script,
    ctx.config.raw.workDir,
    {
      AGENT_UUID: ctx.agentUuid,
      EK: ekPem(data.ek_tpm),
      EK_TPM: data.ek_tpm,
      EK_CERT: data.ekcert ?? '',
      PROVKEYS: pyJson(data.provider_keys ?? {}),
      TPM_CERT_STORE: ctx.config.tpmCertStore ?? '',
    },
    { info: (m) => ctx.out.info(m), error: (m) => ctx.out.error(m), warn: (m) => ctx.out.warn(m) },
  );
  if (!ok) throw new UserError(`ek_check_script rejected the EK of ${agentFid(ctx)}`);
}

function field(r: Record<string, unknown>, name: string, ctx: TenantContext): string {
  const v = r[name];
  if (typeof v !== 'string')
    throw new UserError(`Error: unexpected http response body from ${agentFid(ctx)}: no ${name}`);
  return v;
}

/** Upstream do_quote: identity quote (with retries), algorithm and quote checks, then U to the agent. */
export async function doQuote(ctx: TenantContext): Promise<void> {
  const nonce = randomPassword(20);
  const maxr = ctx.config.maxRetries;
  let numtries = 0;
  let reply: HttpReply;
  for (;;) {
    let failure: string | undefined;
    try {
      reply = await agentClient(ctx).request(
        'GET',
        `/v${ctx.agentApiVersion}/quotes/identity?nonce=${nonce}`,
      );
      if (reply.status !== 503 && reply.status !== 504) break;
      failure = `HTTP ${reply.status}`;
    } catch (e) {
      if (
        !(e instanceof TransportError) ||
        e.kind === TransportFailure.UnknownCa ||
        e.kind === TransportFailure.UntrustedServer
      )
        throw e;
      failure = e.message;
    }
    numtries += 1;
    if (numtries >= maxr)
      throw new UserError(`Tenant cannot establish connection to ${agentFid(ctx)} (${failure})`);
    const next = retryTime(
      ctx.config.exponentialBackoff,
      ctx.config.retryIntervalSeconds,
      numtries,
    );
    ctx.out.info(
      `Tenant connection to ${agentFid(ctx)} refused ${numtries}/${maxr} times, trying again in ${pyFloat(next)} seconds...`,
      null,
    );
    ctx.out.progress(
      `Cannot reach ${agentFid(ctx)} (${failure}); retry ${numtries}/${maxr} in ${pyFloat(next)} s…`,
    );
    await ctx.sleep(next);
  }
  if (reply.json !== undefined) ctx.out.print(pyRepr(reply.json));
  if (reply.status !== 200) {
    throw new UserError(
      `TPM Quote command response: ${reply.status} Unexpected response from ${agentFid(ctx)}: ${statusTextOf(reply)}`,
    );
  }
  const r = resultsOf(reply);
  if (r === undefined)
    throw new UserError(
      `Error: unexpected http response body from ${agentFid(ctx)}: ${reply.status}`,
    );
  const quote = field(r, 'quote', ctx);
  const pubkey = field(r, 'pubkey', ctx);
  const hashAlg = field(r, 'hash_alg', ctx);
  const encAlg = field(r, 'enc_alg', ctx);
  const signAlg = field(r, 'sign_alg', ctx);
  if (!isAccepted(hashAlg, ctx.config.acceptTpmHashAlgs) || !isRecognizedHash(hashAlg)) {
    throw new UserError(
      `TPM Quote from ${agentFid(ctx)} is using an unaccepted hash algorithm: ${hashAlg}`,
    );
  }
  if (!isAccepted(encAlg, ctx.config.acceptTpmEncryptionAlgs)) {
    throw new UserError(
      `TPM Quote from ${agentFid(ctx)} is using an unaccepted encryption algorithm: ${encAlg}`,
    );
  }
  if (!isAccepted(signAlg, ctx.config.acceptTpmSigningAlgs)) {
    throw new UserError(
      `TPM Quote from ${agentFid(ctx)} is using an unaccepted signing algorithm: ${signAlg}`,
    );
  }
  validateTpmQuote(ctx, nonce, pubkey, quote, hashAlg);
  ctx.out.info(
    `Quote from ${agentFid(ctx)} validated`,
    `✓ Identity quote from ${agentFid(ctx)} validated (EK, AK and NK binding)`,
  );
  const keys = ctx.keys;
  if (keys === undefined || keys.u.length === 0) return;
  let encrypted: Uint8Array;
  try {
    encrypted = rsaOaepEncrypt(pubkey, keys.u);
  } catch (e) {
    throw new UserError(
      `The agent's payload key from ${agentFid(ctx)} cannot be used: ${oneLineMessage(e)}`,
    );
  }
  const body: Record<string, string> = {
    encrypted_key: Buffer.from(encrypted).toString('base64'),
    auth_tag: ctx.authTag,
  };
  if (keys.payload !== undefined) body['payload'] = keys.payload;
  const post = await agentClient(ctx).request('POST', `/v${ctx.agentApiVersion}/keys/ukey`, body);
  if (post.status === 503)
    throw new UserError(
      `Cannot connect to ${agentFid(ctx)} to post encrypted U. Connection refused.`,
    );
  if (post.status === 504)
    throw new UserError(`${agentFid(ctx)} timed out while posting encrypted U`);
  if (post.status !== 200) {
    logHttpResponse(ctx, 'error', post);
    throw new UserError(
      `Posting of encrypted U to ${agentFid(ctx)} failed with response code ${post.status} (${post.text.trim()})`,
    );
  }
  ctx.out.note(
    `✓ Key share U${keys.payload !== undefined ? ' and payload' : ''} delivered to ${agentFid(ctx)}`,
  );
}

/** The verifier POST body (spec §7.4), fields in upstream's order. */
export function verifierAddBody(ctx: TenantContext): Record<string, unknown> {
  const p = ctx.policies;
  const k = ctx.keys;
  const data = ctx.registrarData;
  if (p === undefined || data === undefined)
    throw new UserError('internal: add without policies or registrar data');
  return {
    v: k !== undefined && k.v.length > 0 ? Buffer.from(k.v).toString('base64') : null,
    cloudagent_ip: ctx.cvAgentIp ?? null,
    cloudagent_port: ctx.agentPort ?? null,
    verifier_ip: ctx.verifierIp,
    verifier_port: ctx.verifierPort,
    tpm_policy: tpmPolicyJson(p.tpmPolicy),
    runtime_policy: p.runtimePolicy,
    runtime_policy_name: p.runtimePolicyName,
    runtime_policy_key: p.runtimePolicyKey,
    mb_policy: p.mbPolicy,
    mb_policy_name: p.mbPolicyName,
    ima_sign_verification_keys: p.imaSignVerificationKeys,
    metadata: pyJson(k?.metadata ?? {}),
    revocation_key: k?.revocationKey ?? '',
    accept_tpm_hash_algs: ctx.config.acceptTpmHashAlgs,
    accept_tpm_encryption_algs: ctx.config.acceptTpmEncryptionAlgs,
    accept_tpm_signing_algs: ctx.config.acceptTpmSigningAlgs,
    ak_tpm: data.aik_tpm,
    mtls_cert: data.mtls_cert,
    supported_version: ctx.agentApiVersion ?? null,
  };
}

/** Upstream do_cvadd: POST the agent, then poll until the verifier knows it. */
export async function doCvadd(ctx: TenantContext): Promise<void> {
  const body = verifierAddBody(ctx);
  const reply = await verifierRequest(ctx, 'POST', `/agents/${ctx.agentUuid}`, body);
  if (reply.status === 503)
    throw new UserError(
      `Cannot connect to ${verifierFid(ctx)} while adding ${agentFid(ctx)}. Connection refused.`,
    );
  if (reply.status === 504) {
    ctx.out.error(`${verifierFid(ctx)} timed out while adding ${agentFid(ctx)}.`, null);
    throw new UserError(`${verifierFid(ctx)} timed out while adding ${agentFid(ctx)}`);
  }
  if (reply.status === 409) {
    throw new UserError(
      `${verifierFid(ctx)} responded indicating a conflict for agent ${agentFid(ctx)}. Run "delete" or "update" first.`,
    );
  }
  if (reply.status !== 200) {
    logHttpResponse(ctx, 'error', reply);
    throw new UserError(
      `POST command response: ${reply.status} Unexpected response from ${verifierFid(ctx)}: ${statusTextOf(reply)}`,
    );
  }
  const numtries = await waitForCvStatus(ctx, 200, {
    giveUp: (n) => `${agentFid(ctx)} still not added to ${verifierFid(ctx)} after ${n} tries`,
    retry: (n, next) =>
      `${agentFid(ctx)} still not added to ${verifierFid(ctx)} at try ${n}/${ctx.config.maxRetries}, trying again in ${pyInt(next)} seconds...`,
    progress: (n) =>
      `Waiting for ${verifierFid(ctx)} to add ${agentFid(ctx)} (try ${n}/${ctx.config.maxRetries})…`,
  });
  ctx.out.info(
    `${agentFid(ctx)} added to ${verifierFid(ctx)} after ${numtries} tries`,
    `✓ ${agentFid(ctx)} added to ${verifierFid(ctx)}`,
  );
}

const FAILED_STATES = new Set(['Failed', 'Invalid Quote', 'Tenant Quote Failed', 'Terminated']);

/**
 * At a terminal or with --json: wait until the verifier reports the first attestation result, with
 * progress; a failed attestation is an error. (Upstream's output mode keeps upstream's behaviour:
 * it stops once the verifier knows the agent.)
 */
export async function waitUntilAttested(
  ctx: TenantContext,
): Promise<Record<string, unknown> | undefined> {
  const limit = Math.max(ctx.config.maxRetries, 1) * 3;
  for (let i = 0; i < limit; i++) {
    const status = await doCvstatus(ctx, false, true);
    const rec = status.results[ctx.agentUuid] as Record<string, unknown> | undefined;
    if (rec !== undefined) {
      const state = scalarText(rec['operational_state']);
      const count = Number(rec['attestation_count'] ?? 0);
      if (FAILED_STATES.has(state)) {
        const event = typeof rec['last_event_id'] === 'string' ? ` (${rec['last_event_id']})` : '';
        throw new UserError(
          `${agentFid(ctx)} failed attestation at ${verifierFid(ctx)}: ${state}${event}`,
        );
      }
      if (count > 0 || rec['attestation_status'] === 'PASS') {
        ctx.out.note(`✓ ${agentFid(ctx)} attested (${state})`);
        return rec;
      }
      ctx.out.progress(`Waiting for the first attestation of ${agentFid(ctx)} (state: ${state})…`);
    }
    await ctx.sleep(Math.max(0.5, Math.min(ctx.config.retryIntervalSeconds, 2)));
  }
  ctx.out.warn(`${agentFid(ctx)} was added but not yet attested; check with -c cvstatus`);
  return undefined;
}

/** Upstream do_verify: the agent proves it derived K (HMAC of a challenge); stop the agent on failure. */
export async function doVerify(ctx: TenantContext): Promise<void> {
  const k = ctx.keys?.k ?? new Uint8Array();
  const challenge = randomPassword(20);
  const expected = keysVerifyHmac(k, challenge);
  const maxr = ctx.config.maxRetries;
  let numtries = 0;
  for (;;) {
    let reply: HttpReply;
    try {
      reply = await agentClient(ctx).request(
        'GET',
        `/v${ctx.agentApiVersion}/keys/verify?challenge=${challenge}`,
      );
    } catch (e) {
      await doCvstop(ctx);
      throw e;
    }
    if (reply.status === 503 || reply.status === 504) {
      numtries += 1;
      if (numtries >= maxr) {
        await doCvstop(ctx);
        throw new UserError(`Cannot establish connection to ${agentFid(ctx)}`);
      }
      const next = retryTime(
        ctx.config.exponentialBackoff,
        ctx.config.retryIntervalSeconds,
        numtries,
      );
      ctx.out.info(
        `Connection to ${agentFid(ctx)} refused ${numtries}/${maxr} times, trying again in ${pyFloat(next)} seconds...`,
        null,
      );
      await ctx.sleep(next);
      continue;
    }
    let mac = '';
    if (reply.status === 200) {
      const h = resultsOf(reply)?.['hmac'];
      if (typeof h !== 'string') {
        await doCvstop(ctx);
        throw new UserError(
          `Error: unexpected http response body from ${agentFid(ctx)} : ${reply.status}`,
        );
      }
      mac = h;
      if (mac === expected) {
        ctx.out.info(
          `Successful key derivation for ${agentFid(ctx)}`,
          `✓ ${agentFid(ctx)} derived the bootstrap key (--verify)`,
        );
        return;
      }
    } else {
      logHttpResponse(ctx, 'error', reply);
    }
    numtries += 1;
    if (numtries >= maxr) {
      await doCvstop(ctx);
      throw new UserError(
        `Failed key derivation for ${agentFid(ctx)} (expected length ${expected.length}, received ${mac.length})`,
      );
    }
    const next = retryTime(
      ctx.config.exponentialBackoff,
      ctx.config.retryIntervalSeconds,
      numtries,
    );
    ctx.out.info(
      `Key derivation not yet complete for ${agentFid(ctx)} at try ${numtries}/${maxr} (expected length ${expected.length}, received length ${mac.length}) trying again in ${pyInt(next)} seconds... (Ctrl-C to stop)`,
      null,
    );
    ctx.out.progress(`Waiting for ${agentFid(ctx)} to derive the key (try ${numtries}/${maxr})…`);
    await ctx.sleep(next);
  }
}

/** `-c add` / `-c update`. */
export async function doAdd(ctx: TenantContext, update: boolean): Promise<void> {
  await initAdd(ctx);
  if (update) await doCvdelete(ctx, ctx.args.verifierCheck);
  if (!ctx.pushModel) {
    ctx.authTag = ukeyAuthTag(ctx.keys?.k ?? new Uint8Array(), ctx.agentUuid);
    await doQuote(ctx);
  }
  await doCvadd(ctx);
  let attested: Record<string, unknown> | undefined;
  if (ctx.out.mode !== 'upstream' && !ctx.pushModel) attested = await waitUntilAttested(ctx);
  const verified = !ctx.pushModel && ctx.args.verify;
  if (verified) await doVerify(ctx);
  ctx.out.result(
    {
      agent_id: ctx.agentUuid,
      [update ? 'updated' : 'added']: true,
      verifier: `${ctx.verifierIp}:${ctx.verifierPort}`,
      agent: ctx.agentIp ? `${ctx.agentIp}:${ctx.agentPort}` : null,
      agent_api_version: ctx.agentApiVersion ?? null,
      payload: ctx.keys?.payload !== undefined,
      key_derivation_verified: verified,
      ...(attested
        ? {
            operational_state: attested['operational_state'],
            attestation_status: attested['attestation_status'] ?? null,
          }
        : {}),
    },
    () => '',
  );
}

// ---------------------------------------------------------------- policies

async function policyReply(
  ctx: TenantContext,
  method: string,
  rest: string,
  body?: unknown,
): Promise<HttpReply> {
  const reply = await verifierRequest(ctx, method, rest, body);
  // Upstream prints every policy answer (an empty body as {}).
  ctx.out.print(pyRepr(reply.json ?? {}));
  if (reply.status >= 400) {
    const detail = reply.json !== undefined ? pyRepr(reply.json) : statusTextOf(reply);
    throw new UserError(
      detail === '{}' ? `${verifierFid(ctx)} answered HTTP ${reply.status}` : detail,
    );
  }
  return reply;
}

/** add/update runtime policy (upstream __convert_runtime_policy + POST/PUT /allowlists/<name>). */
export async function doRuntimePolicy(ctx: TenantContext, method: 'POST' | 'PUT'): Promise<void> {
  if (ctx.args.runtimePolicyName === undefined) {
    if (ctx.args.allowlistName !== undefined) {
      ctx.out.warn(
        'WARNING: --allowlist-name is deprecated. Use --runtime-policy-name instead.Keylime has implemented support for a unified policy format, and will no longer accept separate allow/exclude lists in the near future.A conversion script to upgrade legacy allow/exclude lists to the new format is available under keylime/cmd/convert_runtime_policy.py.',
      );
    } else {
      throw new UserError('runtime_policy_name is required to add a runtime policy');
    }
  }
  const p = await policiesFor(ctx);
  const body = {
    tpm_policy: tpmPolicyJson(p.tpmPolicy),
    runtime_policy: p.runtimePolicy,
    runtime_policy_key: p.runtimePolicyKey,
  };
  await policyReply(ctx, method, `/allowlists/${encodeURIComponent(p.runtimePolicyName)}`, body);
  ctx.out.note(
    `Runtime policy ${p.runtimePolicyName} ${method === 'POST' ? 'added to' : 'updated on'} ${verifierFid(ctx)}`,
  );
  ctx.out.result({ name: p.runtimePolicyName, [method === 'POST' ? 'added' : 'updated']: true });
}

/** add/update measured-boot policy (POST/PUT /mbpolicies/<name>). */
export async function doMbPolicy(ctx: TenantContext, method: 'POST' | 'PUT'): Promise<void> {
  if (ctx.args.mbPolicyName === undefined)
    throw new UserError('mb_policy_name is required to add measure boot policy');
  const p = await policiesFor(ctx);
  await policyReply(ctx, method, `/mbpolicies/${encodeURIComponent(p.mbPolicyName)}`, {
    mb_policy: p.mbPolicy,
  });
  ctx.out.note(
    `Measured boot policy ${p.mbPolicyName} ${method === 'POST' ? 'added to' : 'updated on'} ${verifierFid(ctx)}`,
  );
  ctx.out.result({ name: p.mbPolicyName, [method === 'POST' ? 'added' : 'updated']: true });
}

/** show/delete/list of runtime and measured-boot policies. */
export async function doPolicyRead(
  ctx: TenantContext,
  kind: 'runtime' | 'mb',
  action: 'show' | 'delete' | 'list',
  name: string | undefined,
): Promise<void> {
  const base = kind === 'runtime' ? '/allowlists/' : '/mbpolicies/';
  if (action !== 'list' && !name) {
    throw new UserError(
      kind === 'runtime'
        ? `--allowlist_name or --runtime_policy_name is required to ${action} a runtime policy`
        : `--mb_policy_name is required to ${action} a runtime policy`,
    );
  }
  const method = action === 'delete' ? 'DELETE' : 'GET';
  const reply = await verifierRequest(
    ctx,
    method,
    action === 'list' ? base : `${base}${encodeURIComponent(name ?? '')}`,
  );
  const label =
    action === 'show'
      ? kind === 'runtime'
        ? 'Show allowlist'
        : 'showmbpolicy'
      : action === 'list'
        ? kind === 'runtime'
          ? 'list'
          : 'listmbpolicy'
        : undefined;
  if (label !== undefined) ctx.out.print(`${label} command response: ${reply.status}.`);
  const parsed = reply.json ?? {};
  ctx.out.print(pyRepr(parsed));
  if (reply.status >= 400) {
    const detail = pyRepr(parsed);
    throw new UserError(
      detail === '{}' ? `${verifierFid(ctx)} answered HTTP ${reply.status}` : detail,
    );
  }
  if (action === 'delete') {
    ctx.out.note(
      `${kind === 'runtime' ? 'Runtime' : 'Measured boot'} policy ${name ?? ''} deleted from ${verifierFid(ctx)}`,
    );
    ctx.out.result({ name, deleted: true });
    return;
  }
  const results = resultsOf(reply) ?? {};
  ctx.out.result(results, (r) => (action === 'list' ? renderPolicyList(r) : renderPolicy(r)));
}

function renderPolicy(r: unknown): string {
  const rec = r as Record<string, unknown>;
  const body = rec['runtime_policy'] ?? rec['mb_policy'];
  let text = typeof body === 'string' ? body : JSON.stringify(body);
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: show as is
  }
  return `Policy ${scalarText(rec['name'])}\n${text}`;
}

/** Host:port text for messages. */
export function hostPort(host: string, port: string | number): string {
  return `${hostForUrl(host)}:${port}`;
}
