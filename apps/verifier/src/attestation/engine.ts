/**
 * @module engine: the pull-mode attestation loop for every agent of this verifier (verifier §2.2,
 * §1.8, §5.3): one scheduler, one in-memory runtime per agent, keep-alive mTLS clients, batched
 * database writes. States: START → GET_QUOTE (partial=0) → PROVIDE_V after the first good quote →
 * GET_QUOTE every quote_interval; 408/500/599 → retry with backoff → FAILED after max_retries; a
 * failed quote → INVALID_QUOTE + revocation notification. A step never throws out of the loop.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@keylime/core';
import { errorMessage } from '@keylime/core';
import { rsaOaepEncrypt } from '@keylime/crypto';
import { learnedKeyringsToJson } from '@keylime/ima';
import type { PolicyRegistry } from '@keylime/mba';
import {
  AGENT_SUPPORTED_VERSIONS,
  OperationalState,
  compareApiVersions,
  negotiateApiVersion,
  parseApiVersion,
} from '@keylime/protocol';
import type { Scheduler } from '../scheduler/scheduler';
import { jsonColumn } from '../store/columns';
import type { AgentRow } from '../store/schema';
import type { AgentPatch, VerifierStore } from '../store/verifier-store';
import type { RevocationEvent } from '../revocation/notifier';
import { AgentClient } from './agent-client';
import type { AgentResponse, ClientTls } from './agent-client';
import { runtimeFromRow } from './agent-runtime';
import type { AgentRuntime } from './agent-runtime';
import type { AttestationControl } from './control';
import { evaluateQuote } from './evaluate-quote';
import { VerifierEventId, event } from './failure';
import type { AttestationEvent, SeverityPolicy } from './failure';
import { NOT_SETTLED, PolicyReadError } from './policy-cache';
import type { PolicyCache } from './policy-cache';
import { VerdictTimes } from './verdict-times';
import type { VerdictTimesSnapshot } from './verdict-times';

/** The loop's figures for GET /metrics (a worker's, or the in-process engine's). */
export interface LoopStats {
  readonly agents: number;
  readonly attestations: number;
  readonly verdictTimes: VerdictTimesSnapshot;
}

export interface EngineSettings {
  readonly verifierId: string;
  readonly quoteIntervalMs: number;
  readonly retryIntervalSeconds: number;
  readonly exponentialBackoff: boolean;
  readonly maxRetries: number;
  readonly requestTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly reportTomtou: boolean;
  readonly mbPolicyName: string;
  readonly mbEvaluateAlways: boolean;
  readonly defaultApiVersion: string;
}

export interface EngineDeps {
  readonly store: VerifierStore;
  readonly scheduler: (run: (agentId: string) => Promise<void>) => Scheduler;
  readonly policies: PolicyCache;
  readonly severity: SeverityPolicy;
  readonly mbRegistry: PolicyRegistry;
  readonly clientTls: ClientTls | undefined;
  /** Where revocation events go: the notifier, or the main thread from an attestation worker. */
  readonly notifier: { notify(ev: RevocationEvent): unknown };
  readonly logger: Logger;
  readonly settings: EngineSettings;
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random bytes drawn in 64 KiB refills: one randomBytes call per ~3 000 nonces, not per quote. */
const POOL_SIZE = 64 * 1024;
let pool = Buffer.alloc(0);
let poolPos = 0;

/** The next unused pooled random byte (each byte is handed out once). */
function nextRandomByte(): number {
  if (poolPos >= pool.length) {
    pool = randomBytes(POOL_SIZE);
    poolPos = 0;
  }
  const b = pool[poolPos] ?? 0;
  poolPos += 1;
  return b;
}

const nonceChars = Buffer.alloc(64);

/** 20 characters of [A-Za-z0-9], unbiased (rejection sampling), fresh per request (§1.8). */
export function randomNonce(length = 20): string {
  // Characters go into one reused buffer and become one string (not one string per character).
  const out = length <= nonceChars.length ? nonceChars : Buffer.allocUnsafe(length);
  for (let i = 0; i < length;) {
    // 248 = 4 × 62: bytes at or above it would bias the first characters.
    const b = nextRandomByte();
    if (b < 248) out[i++] = NONCE_ALPHABET.charCodeAt(b % 62);
  }
  return out.toString('latin1', 0, length);
}

/** upstream keylime/common/retry.py retry_time, in milliseconds. */
export function retryDelayMs(
  settings: Pick<EngineSettings, 'retryIntervalSeconds' | 'exponentialBackoff'>,
  attempt: number,
): number {
  const base = settings.retryIntervalSeconds;
  const seconds = settings.exponentialBackoff && base > 1 ? base ** attempt : Math.abs(base);
  return seconds * 1000;
}

/** Over how long the first quotes of `count` resumed agents are spread: 2 ms each, at most one interval. */
export function resumeSpreadMs(count: number, quoteIntervalMs: number): number {
  return Math.min(quoteIntervalMs, count * 2);
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The attestation loop; also the AttestationControl the REST handlers use. */
export class AttestationEngine implements AttestationControl {
  private readonly runtimes = new Map<string, AgentRuntime>();
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  /** Successful attestations (for tests and metrics). */
  attestations = 0;
  /** Time from each quote request to its verdict (GET /metrics). */
  readonly verdictTimes = new VerdictTimes();

  constructor(private readonly deps: EngineDeps) {
    this.scheduler = deps.scheduler((id) => this.step(id));
    this.log = deps.logger;
    deps.store.onGuardMiss = (id) => void this.onGuardMiss(id);
  }

  /** Number of agents being attested. */
  get size(): number {
    return this.runtimes.size;
  }

  stats(): LoopStats {
    return {
      agents: this.runtimes.size,
      attestations: this.attestations,
      verdictTimes: this.verdictTimes.snapshot(),
    };
  }

  runtime(agentId: string): AgentRuntime | undefined {
    return this.runtimes.get(agentId);
  }

  /** Resumes every active agent of this verifier from the database (verifier §2.1, §7.1). */
  async resume(): Promise<number> {
    const rows = await this.deps.store.resumeAgents(this.deps.settings.verifierId);
    this.resumeRows(rows);
    if (rows.length > 0) this.log.info(`Resumed attestation of ${rows.length} agents`);
    return rows.length;
  }

  /**
   * Starts attesting rows already reset to START, their first quotes spread over `spreadMs`
   * (default: one interval, at most 2 ms per agent) so a restart with 10 000 agents is no
   * thundering herd.
   */
  resumeRows(rows: readonly AgentRow[], spreadMs?: number): void {
    const spread = spreadMs ?? resumeSpreadMs(rows.length, this.deps.settings.quoteIntervalMs);
    rows.forEach((row, i) => this.begin(row, rows.length > 1 ? (spread * i) / rows.length : 0));
  }

  start(row: AgentRow): void {
    this.begin(row, 0);
  }

  private begin(row: AgentRow, delayMs: number): void {
    this.forget(row.agentId);
    let rt: AgentRuntime;
    try {
      rt = runtimeFromRow(row, this.deps.settings.defaultApiVersion);
    } catch (e) {
      this.log.error(`Cannot attest agent ${row.agentId}: ${errorMessage(e)}`);
      void this.deps.store.updateAgent(row.agentId, {
        operationalState: OperationalState.Failed,
        lastEventId: VerifierEventId.Exception,
      });
      return;
    }
    rt.state = OperationalState.Start;
    this.runtimes.set(rt.agentId, rt);
    this.scheduler.schedule(rt.agentId, delayMs);
  }

  stop(agentId: string): void {
    const rt = this.runtimes.get(agentId);
    if (rt) rt.stopped = true;
    this.forget(agentId);
  }

  requestDelete(agentId: string): Promise<'now' | 'deferred'> {
    const rt = this.runtimes.get(agentId);
    if (rt?.inFlight) {
      rt.pendingDelete = true;
      this.scheduler.cancel(agentId);
      return Promise.resolve('deferred');
    }
    this.forget(agentId);
    return Promise.resolve('now');
  }

  forget(agentId: string): void {
    this.scheduler.cancel(agentId);
    const rt = this.runtimes.get(agentId);
    if (!rt) return;
    rt.stopped = true;
    this.runtimes.delete(agentId);
    rt.client?.close();
  }

  /** Agents of this verifier that asked for revocation notifications (enrolled a revocation key). */
  notificationTargets(): { agentId: string; apiVersion: string; client: AgentClient }[] {
    const out: { agentId: string; apiVersion: string; client: AgentClient }[] = [];
    for (const rt of this.runtimes.values()) {
      if (rt.revocationKey !== '')
        out.push({ agentId: rt.agentId, apiVersion: rt.apiVersion, client: this.clientOf(rt) });
    }
    return out;
  }

  async close(drainMs: number): Promise<void> {
    await this.scheduler.stop(drainMs);
    for (const id of [...this.runtimes.keys()]) this.forget(id);
  }

  private clientOf(rt: AgentRuntime): AgentClient {
    rt.client ??= new AgentClient(
      { ip: rt.ip, port: rt.port, mtlsPin: rt.mtlsPin },
      this.deps.clientTls,
      {
        timeoutMs: this.deps.settings.requestTimeoutMs,
        maxResponseBytes: this.deps.settings.maxResponseBytes,
      },
    );
    return rt.client;
  }

  private async onGuardMiss(agentId: string): Promise<void> {
    const row = await this.deps.store.getAgent(agentId);
    if (!row || row.operationalState === OperationalState.TenantFailed) {
      this.forget(agentId);
    } else if (row.operationalState === OperationalState.Terminated) {
      this.forget(agentId);
      await this.deps.store.deleteAgent(agentId);
    }
  }

  /** One state-machine step for one agent; the scheduler bounds how many run at once. */
  private async step(agentId: string): Promise<void> {
    const rt = this.runtimes.get(agentId);
    if (!rt || rt.stopped) return;
    rt.inFlight = true;
    try {
      if (rt.state === OperationalState.ProvideV || rt.state === OperationalState.ProvideVRetry)
        await this.provideV(rt);
      else await this.getQuote(rt);
    } catch (e) {
      this.log.error(`Unexpected error attesting agent ${agentId}: ${errorMessage(e)}`);
      if (!rt.stopped) {
        try {
          await this.fail(rt, OperationalState.Failed, [
            event(VerifierEventId.Exception, errorMessage(e), false),
          ]);
        } catch (e2) {
          // Not even the failure could be stored: keep the agent scheduled rather than drop it.
          this.log.error(`Cannot record the failure of agent ${agentId}: ${errorMessage(e2)}`);
          this.next(rt, retryDelayMs(this.deps.settings, 1));
        }
      }
    } finally {
      rt.inFlight = false;
      if (rt.pendingDelete) {
        this.forget(agentId);
        await this.deps.store.deleteAgent(agentId);
        this.log.info(`Agent ${agentId} deleted from the verifier`);
      }
    }
  }

  private next(rt: AgentRuntime, delayMs: number): void {
    if (!rt.stopped && !rt.pendingDelete) this.scheduler.schedule(rt.agentId, delayMs);
  }

  private async getQuote(rt: AgentRuntime): Promise<void> {
    if (rt.state === OperationalState.Start) rt.state = OperationalState.GetQuote;
    const nonce = randomNonce();
    const partial = rt.wantPubkey || rt.payloadKey === undefined ? 0 : 1;
    const startedAt = this.scheduler.now();
    // No escaping needed: the nonce is [A-Za-z0-9], the mask was checked to be hex at enrolment.
    const res = await this.clientOf(rt).get(
      `/v${rt.apiVersion}/quotes/integrity?nonce=${nonce}&mask=${rt.tpmPolicy.mask}` +
        `&partial=${partial}&ima_ml_entry=${rt.imaState.nextEntry}`,
    );
    if (rt.stopped) return;
    // A 200 response needs no transport handling: skip the async call (and its promise) per quote.
    if (!(res.kind === 'response' && res.status === 200)) {
      if (await this.handleTransport(rt, res, 'quote')) return;
    }
    if (res.kind === 'too-large') {
      await this.invalidQuote(rt, [
        event('qoute_validation.invalid_data', `agent response exceeds ${res.limit} bytes`, false),
      ]);
      return;
    }
    if (res.kind !== 'response') {
      await this.invalidQuote(rt, [
        event(
          'qoute_validation.invalid_data',
          res.kind === 'malformed' ? res.reason : 'no response',
          false,
        ),
      ]);
      return;
    }
    // Nearly always cached and settled: taken without an await.
    const policies = this.deps.policies;
    let runtimePolicy = policies.runtimePolicyNow(rt.imaPolicyId);
    let mbRefstate = policies.mbRefstateNow(rt.mbPolicyId);
    if (runtimePolicy === NOT_SETTLED || mbRefstate === NOT_SETTLED) {
      try {
        runtimePolicy = await policies.runtimePolicy(rt.imaPolicyId);
        mbRefstate = await policies.mbRefstate(rt.mbPolicyId);
      } catch (e) {
        if (!(e instanceof PolicyReadError)) throw e;
        // The verifier's database, not the agent, failed: no verdict; ask for a fresh quote later.
        this.log.error(`Cannot judge agent ${rt.agentId} now: ${e.message}; retrying`);
        this.next(rt, retryDelayMs(this.deps.settings, 1));
        return;
      }
    }
    const outcome = evaluateQuote(res.results, {
      nonce,
      ak: rt.ak,
      acceptHashAlgs: rt.acceptHashAlgs,
      acceptEncAlgs: rt.acceptEncAlgs,
      acceptSignAlgs: rt.acceptSignAlgs,
      tpmPolicy: rt.tpmPolicy,
      cachedPubkey: rt.payloadKey,
      clockInfo: rt.clockInfo,
      imaState: rt.imaState,
      runtimePolicy,
      tenantKeyring: rt.tenantKeyring,
      reportTomtou: this.deps.settings.reportTomtou,
      mbRefstate,
      mbRegistry: this.deps.mbRegistry,
      mbPolicyName: this.deps.settings.mbPolicyName,
      evaluateMbPolicy: this.deps.settings.mbEvaluateAlways || rt.attestationCount === 0,
    });
    this.verdictTimes.record(this.scheduler.now() - startedAt);
    if (rt.stopped) return;
    rt.imaState = outcome.imaState;
    const algs: AgentPatch = {};
    if (outcome.hashAlg !== undefined) algs.hashAlg = outcome.hashAlg.slice(0, 10);
    if (outcome.encAlg !== undefined) algs.encAlg = outcome.encAlg.slice(0, 10);
    if (outcome.signAlg !== undefined) algs.signAlg = outcome.signAlg.slice(0, 10);
    if (outcome.events.length > 0) {
      await this.invalidQuote(rt, outcome.events, {
        ...algs,
        ...this.imaColumns(rt, outcome.hashAlg),
      });
      return;
    }
    // A good quote.
    rt.numRetries = 0;
    rt.wantPubkey = false;
    rt.renegotiated = false;
    rt.clockInfo = outcome.clockInfo ?? rt.clockInfo;
    rt.attestationCount++;
    this.attestations++;
    const now = nowSeconds();
    // Built in place rather than from spreads: one patch per quote, 5 000 a second.
    const patch: AgentPatch = algs;
    const received = outcome.pubkeyReceived;
    if (
      received !== undefined &&
      (rt.payloadKey === undefined || !received.binding.equals(rt.payloadKey))
    ) {
      rt.payloadKey = received.binding;
      rt.payloadKeyPemForV = received.pem;
      rt.encryptedV = undefined;
      rt.provideV = rt.v !== null;
      patch.publicKey = received.pem;
    }
    const sticky = rt.state === OperationalState.InvalidQuote;
    const deliver = rt.provideV && rt.v !== null;
    if (!sticky) {
      rt.state = deliver ? OperationalState.ProvideV : OperationalState.GetQuote;
      patch.operationalState = rt.state;
    }
    patch.attestationCount = rt.attestationCount;
    patch.lastReceivedQuote = now;
    patch.lastSuccessfulAttestation = now;
    patch.tpmClockinfo = jsonColumn({
      clock: Number(rt.clockInfo.clock),
      resetCount: rt.clockInfo.resetCount,
      restartCount: rt.clockInfo.restartCount,
      safe: rt.clockInfo.safe,
    });
    if (outcome.imaEvaluated) Object.assign(patch, this.imaColumns(rt, outcome.hashAlg));
    this.deps.store.queueUpdate(rt.agentId, patch);
    if (deliver && !sticky) this.next(rt, 0);
    // As upstream: a whole interval between a verdict and the next request, so an agent whose
    // TPM is slow to quote is not asked more often than that.
    else this.next(rt, this.deps.settings.quoteIntervalMs);
  }

  /** upstream columns of the incremental IMA state (verifier §4.5). */
  private imaColumns(rt: AgentRuntime, bank: string | undefined): AgentPatch {
    const s = rt.imaState;
    const pcr = bank === undefined ? undefined : (s.pcr10 as Partial<Record<string, string>>)[bank];
    return {
      nextImaMlEntry: s.nextEntry,
      pcr10: pcr === undefined ? null : Buffer.from(pcr, 'hex'),
      imaPcrs: jsonColumn(pcr === undefined ? [] : [10]),
      boottime: s.bootTime,
      learnedImaKeyrings: learnedKeyringsToJson(s.learnedKeyrings),
    };
  }

  private async provideV(rt: AgentRuntime): Promise<void> {
    if (rt.v !== null && rt.encryptedV === undefined && rt.payloadKeyPemForV !== undefined) {
      // V itself is never logged; only its encryption under the agent's payload key leaves memory.
      rt.encryptedV = Buffer.from(
        rsaOaepEncrypt(rt.payloadKeyPemForV, Buffer.from(rt.v, 'base64')),
      ).toString('base64');
      // Kept until V is delivered, so the PEM is no longer needed.
      rt.payloadKeyPemForV = undefined;
    }
    if (rt.v === null || rt.encryptedV === undefined) {
      rt.provideV = false;
      rt.state = OperationalState.GetQuote;
      this.next(rt, this.deps.settings.quoteIntervalMs);
      return;
    }
    const res = await this.clientOf(rt).post(`/v${rt.apiVersion}/keys/vkey`, {
      encrypted_key: rt.encryptedV,
    });
    if (rt.stopped) return;
    if (await this.handleTransport(rt, res, 'v')) return;
    if (res.kind !== 'response' || res.status !== 200) {
      const status = res.kind === 'response' ? res.status : 0;
      await this.fail(rt, OperationalState.Failed, [
        event(VerifierEventId.NoV, `Unexpected response delivering V: HTTP ${status}`, false),
      ]);
      return;
    }
    rt.numRetries = 0;
    rt.provideV = false;
    // Delivered: V goes out again only for a new payload key (re-encrypted then) or a new runtime.
    rt.encryptedV = undefined;
    rt.state = OperationalState.GetQuote;
    this.deps.store.queueUpdate(rt.agentId, { operationalState: rt.state });
    this.next(rt, this.deps.settings.quoteIntervalMs);
  }

  /**
   * Transport outcomes shared by quote and V delivery: 408/500/599 → retry with backoff, version
   * negotiation on "API version not supported", other HTTP errors → FAILED. True when handled.
   */
  private async handleTransport(
    rt: AgentRuntime,
    res: AgentResponse,
    what: 'quote' | 'v',
  ): Promise<boolean> {
    const status =
      res.kind === 'unreachable'
        ? res.code
        : res.kind === 'response' || res.kind === 'malformed'
          ? res.status
          : 200;
    if (status === 408 || status === 500 || status === 599) {
      await this.retry(rt, what, res.kind === 'unreachable' ? res.reason : `HTTP ${status}`);
      return true;
    }
    if (
      res.kind === 'response' &&
      status === 400 &&
      res.statusText.includes('API version not supported')
    ) {
      await this.renegotiate(rt);
      return true;
    }
    if ((res.kind === 'response' || res.kind === 'malformed') && status !== 200) {
      const id = what === 'quote' ? VerifierEventId.NoQuote : VerifierEventId.NoV;
      await this.fail(rt, OperationalState.Failed, [
        event(id, `Unexpected response from agent: HTTP ${status}`, false),
      ]);
      return true;
    }
    return false;
  }

  private async retry(rt: AgentRuntime, what: 'quote' | 'v', reason: string): Promise<void> {
    rt.numRetries++;
    rt.wantPubkey = true;
    const s = this.deps.settings;
    if (rt.numRetries > s.maxRetries) {
      this.log.warn(
        `Agent ${rt.agentId} was not reachable after ${s.maxRetries} retries: ${reason}`,
      );
      const id = what === 'quote' ? VerifierEventId.NotReachable : VerifierEventId.NotReachableV;
      const msg = what === 'quote' ? 'Not reachable' : 'Not reachable for V delivery';
      const failure = [event(id, { message: msg, reason }, false)];
      // comm_error goes out for V delivery always, for quotes only if the agent had attested (§6.4).
      const notify = what === 'v' || rt.attestationCount > 0;
      await this.fail(rt, OperationalState.Failed, failure, notify ? 'comm_error' : undefined);
      return;
    }
    rt.state = what === 'quote' ? OperationalState.GetQuoteRetry : OperationalState.ProvideVRetry;
    this.log.info(
      `Agent ${rt.agentId} not reachable (${reason}); retry ${rt.numRetries} of ${s.maxRetries}`,
    );
    this.next(rt, retryDelayMs(s, rt.numRetries));
  }

  private async renegotiate(rt: AgentRuntime): Promise<void> {
    if (rt.renegotiated) {
      await this.fail(rt, OperationalState.Failed, [
        event(
          VerifierEventId.VersionNotSupported,
          'agent refuses every negotiated API version',
          false,
        ),
      ]);
      return;
    }
    rt.renegotiated = true;
    const res = await this.clientOf(rt).get('/version');
    let remote: string[] = [];
    if (
      res.kind === 'response' &&
      res.status === 200 &&
      typeof res.results === 'object' &&
      res.results !== null
    ) {
      const r = res.results as Record<string, unknown>;
      if (Array.isArray(r['supported_versions']))
        remote = r['supported_versions'].filter((x): x is string => typeof x === 'string');
      else if (typeof r['supported_version'] === 'string') remote = [r['supported_version']];
    }
    const chosen = negotiateApiVersion(AGENT_SUPPORTED_VERSIONS, remote);
    const current = parseApiVersion(rt.apiVersion);
    const next = chosen === undefined ? undefined : parseApiVersion(chosen);
    // Refuse downgrades once the agent attested at the higher version (upstream behaviour).
    if (!next || (rt.attestationCount > 0 && current && compareApiVersions(next, current) < 0)) {
      await this.fail(rt, OperationalState.Failed, [
        event(
          VerifierEventId.VersionNotSupported,
          { message: 'No common API version', agent: remote },
          false,
        ),
      ]);
      return;
    }
    rt.apiVersion = chosen as string;
    this.deps.store.queueUpdate(rt.agentId, { supportedVersion: rt.apiVersion });
    this.next(rt, 0);
  }

  private invalidQuote(
    rt: AgentRuntime,
    events: readonly AttestationEvent[],
    extra: AgentPatch = {},
  ): Promise<void> {
    return this.fail(rt, OperationalState.InvalidQuote, events, 'revocation', extra);
  }

  /**
   * Failure handling (verifier §2.2, §6.3): store state, and severity/event when the severity rose;
   * notify; stop polling when irrecoverable or at the highest severity, else keep polling.
   */
  private async fail(
    rt: AgentRuntime,
    state: typeof OperationalState.Failed | typeof OperationalState.InvalidQuote,
    events: readonly AttestationEvent[],
    notify?: 'revocation' | 'comm_error',
    extra: AgentPatch = {},
  ): Promise<void> {
    const scored = this.deps.severity.score(events);
    const rose = rt.severityLevel === null || rt.severityLevel < scored.level;
    for (const e of events) {
      this.log.warn(
        `Agent ${rt.agentId} failed: event ${e.id}: ${JSON.stringify(e.context).slice(0, 500)}`,
      );
    }
    const patch: AgentPatch = {
      ...extra,
      operationalState: state,
      lastReceivedQuote: nowSeconds(),
    };
    if (rose) {
      rt.severityLevel = scored.level;
      patch.severityLevel = scored.level;
      patch.lastEventId = scored.event.id;
    }
    rt.state = state;
    const written = await this.deps.store.updateAgent(rt.agentId, patch);
    if (written === 0) {
      // Deleted, stopped or terminated meanwhile: finish that instead (§2.2 guarded writes).
      await this.onGuardMiss(rt.agentId);
      return;
    }
    if (rt.stopped) return;
    if (notify === 'comm_error' || (notify === 'revocation' && rose)) {
      this.deps.notifier.notify({
        type: notify,
        agent: {
          agentId: rt.agentId,
          ip: rt.ip,
          port: rt.port,
          tpmPolicy: rt.tpmPolicyText,
          metaData: rt.metaData,
          revocationKey: rt.revocationKey,
        },
        eventId: scored.event.id,
        severityLabel: scored.label,
        context: scored.event.context,
      });
    }
    if (!scored.recoverable || scored.atMaximum) {
      this.log.warn(`Agent ${rt.agentId} failed, stopping polling (state ${state})`);
      this.forget(rt.agentId);
      return;
    }
    // Recoverable and below the highest severity: INVALID_QUOTE stays, polling goes on (§12 decision).
    rt.wantPubkey = true;
    this.next(rt, this.deps.settings.quoteIntervalMs);
  }
}
