/**
 * @module attestation-workers: the verifier's attestation loop spread over worker threads, one
 * event loop per core (upstream forks `num_workers` processes for the same reason). Agents are
 * sharded by a hash of their id, so each worker owns its agents' scheduler entries, keep-alive
 * connections and incremental IMA state, and no agent ever moves. The main thread keeps the REST
 * API, the schema and the revocation channels; it reaches the workers only for control (start,
 * stop, delete, flush before reads, policy changes) — never per quote.
 */
import { Worker } from 'node:worker_threads';
import type { ConfigLoadOptions } from '@keylime/config';
import type { Logger } from '@keylime/core';
import { errorMessage } from '@keylime/core';
import { isOperationalState } from '@keylime/protocol';
import type { NotificationTarget, RevocationEvent } from '../revocation/notifier';
import type { AgentRow } from '../store/schema';
import { RESUMABLE_STATES } from '../store/verifier-store';
import type { VerifierStore } from '../store/verifier-store';
import { AgentClient } from './agent-client';
import type { ClientTls } from './agent-client';
import type { AttestationControl } from './control';
import { addVerdictTimes, emptyVerdictTimes } from './verdict-times';
import { WORKER_KIND, rowToWire } from './worker-protocol';
import type { FromWorker, TargetInfo, ToWorker, WorkerInit, WorkerStats } from './worker-protocol';

/** Which of `count` workers attests an agent: FNV-1a of its id, stable across restarts. */
export function shardOf(agentId: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < agentId.length; i++) {
    h ^= agentId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}

function isResumable(state: number): boolean {
  return isOperationalState(state) && RESUMABLE_STATES.has(state);
}

export interface AttestationWorkersOptions {
  /** The file a worker runs: the verifier's bundled main.js (or a test shim). */
  readonly script: string;
  readonly count: number;
  readonly configOptions: ConfigLoadOptions | undefined;
  /** Most agent requests in flight at once, per worker. */
  readonly concurrency: number;
  readonly verifierId: string;
  readonly store: VerifierStore;
  readonly logger: Logger;
  /** For the agent-channel revocation notifications the main thread sends. */
  readonly clientTls: ClientTls | undefined;
  readonly requestTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly execArgv?: readonly string[];
  /** Called whenever a worker has started (also after a respawn). */
  readonly onWorkerStarted?: () => void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  readonly index: number;
  worker: Worker;
  ready: Promise<void>;
  readonly pending: Map<number, Pending>;
  /** Set once the worker reported ready: only a worker that ran is restarted when it dies. */
  started: boolean;
}

export class AttestationWorkers implements AttestationControl {
  private readonly slots: Slot[] = [];
  private nextReq = 1;
  private closing = false;
  private readonly clients = new Map<string, AgentClient>();
  /** Where revocation events from the workers go (the notifier, set once it exists). */
  onNotify: (event: RevocationEvent) => void = () => undefined;

  private constructor(private readonly o: AttestationWorkersOptions) {}

  /** Starts `count` workers and waits until each has opened its database connection. */
  static async start(o: AttestationWorkersOptions): Promise<AttestationWorkers> {
    const pool = new AttestationWorkers(o);
    for (let i = 0; i < o.count; i++) pool.slots.push(pool.spawn(i));
    try {
      await Promise.all(pool.slots.map((s) => s.ready));
    } catch (e) {
      await pool.terminateAll();
      throw e;
    }
    return pool;
  }

  get count(): number {
    return this.slots.length;
  }

  private spawn(index: number): Slot {
    const init: WorkerInit = {
      kind: WORKER_KIND,
      index,
      count: this.o.count,
      configOptions: this.o.configOptions,
      concurrency: this.o.concurrency,
    };
    const worker = new Worker(this.o.script, {
      workerData: init,
      ...(this.o.execArgv ? { execArgv: [...this.o.execArgv] } : {}),
    });
    const pending = new Map<number, Pending>();
    let settleReady: { resolve(): void; reject(e: Error): void } | undefined;
    const ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
    // A failed start is reported by start(); a rejected `ready` must not surface on its own.
    ready.catch(() => undefined);
    const slot: Slot = { index, worker, ready, pending, started: false };
    worker.on('message', (m: FromWorker) => {
      switch (m.t) {
        case 'ready':
          slot.started = true;
          this.o.onWorkerStarted?.();
          settleReady?.resolve();
          break;
        case 'failed':
          settleReady?.reject(new Error(`attestation worker ${index}: ${m.message}`));
          break;
        case 'reply': {
          const p = pending.get(m.req);
          pending.delete(m.req);
          if (m.error === undefined) p?.resolve(m.value);
          else p?.reject(new Error(m.error));
          break;
        }
        case 'notify':
          this.onNotify(m.event);
          break;
        case 'log': {
          let l = this.o.logger;
          for (const c of m.components) l = l.child(c);
          l[m.level](m.message, m.fields);
          break;
        }
      }
    });
    worker.on('error', (e) => {
      this.o.logger.error(`Attestation worker ${index} failed: ${errorMessage(e)}`);
    });
    worker.on('exit', (code) => {
      const err = new Error(`attestation worker ${index} exited (code ${code})`);
      settleReady?.reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      if (!this.closing && slot.started && this.slots[index] === slot) {
        // A pause first, so a worker that dies at once does not spin.
        setTimeout(() => void this.respawn(index), 1_000).unref();
      }
    });
    return slot;
  }

  /** A worker died: a new one takes its shard over, resuming the agents from the database. */
  private async respawn(index: number): Promise<void> {
    if (this.closing) return;
    this.o.logger.error(`Restarting attestation worker ${index}`);
    const slot = this.spawn(index);
    this.slots[index] = slot;
    try {
      await slot.ready;
      const rows = (await this.o.store.listAgents(this.o.verifierId)).filter(
        (r) =>
          r.operationalState !== null &&
          isResumable(r.operationalState) &&
          shardOf(r.agentId, this.slots.length) === index,
      );
      this.post(slot, { t: 'resume', rows: rows.map(rowToWire), spreadMs: 0 });
    } catch (e) {
      this.o.logger.error(`Attestation worker ${index} did not restart: ${errorMessage(e)}`);
    }
  }

  private slotOf(agentId: string): Slot {
    return this.slots[shardOf(agentId, this.slots.length)] as Slot;
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  private request<T>(slot: Slot, make: (req: number) => ToWorker): Promise<T> {
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(req, { resolve: (v) => resolve(v as T), reject });
      this.post(slot, make(req));
    });
  }

  // ---- AttestationControl ------------------------------------------------------------------

  start(row: AgentRow): void {
    this.post(this.slotOf(row.agentId), { t: 'start', row: rowToWire(row) });
  }

  stop(agentId: string): void {
    this.post(this.slotOf(agentId), { t: 'stop', agentId });
  }

  forget(agentId: string): void {
    this.post(this.slotOf(agentId), { t: 'forget', agentId });
  }

  requestDelete(agentId: string): Promise<'now' | 'deferred'> {
    return this.request(this.slotOf(agentId), (req) => ({ t: 'request-delete', req, agentId }));
  }

  // ---- the rest of the verifier ------------------------------------------------------------

  /** Hands rows reset to START (resumeAgents) to their workers, first quotes spread over one interval. */
  resume(rows: readonly AgentRow[], spreadMs: number): void {
    const shards = this.slots.map((): AgentRow[] => []);
    for (const r of rows) shards[shardOf(r.agentId, this.slots.length)]?.push(r);
    this.slots.forEach((slot, i) =>
      this.post(slot, { t: 'resume', rows: (shards[i] ?? []).map(rowToWire), spreadMs }),
    );
  }

  /** Every worker's queued agent updates are in the database when this resolves. */
  async flush(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.request(s, (req) => ({ t: 'flush', req }))));
  }

  policiesChanged(): void {
    for (const s of this.slots) this.post(s, { t: 'policies-changed' });
  }

  async stats(): Promise<WorkerStats> {
    const all = await Promise.all(
      this.slots.map((s) => this.request<WorkerStats>(s, (req) => ({ t: 'stats', req }))),
    );
    return all.reduce(
      (a, b) => ({
        agents: a.agents + b.agents,
        attestations: a.attestations + b.attestations,
        verdictTimes: addVerdictTimes(a.verdictTimes, b.verdictTimes),
      }),
      { agents: 0, attestations: 0, verdictTimes: emptyVerdictTimes() },
    );
  }

  /** The agents to notify on the `agent` channel, with a main-thread client for each. */
  async notificationTargets(): Promise<NotificationTarget[]> {
    const lists = await Promise.all(
      this.slots.map((s) => this.request<TargetInfo[]>(s, (req) => ({ t: 'targets', req }))),
    );
    const seen = new Set<string>();
    const out: NotificationTarget[] = [];
    for (const t of lists.flat()) {
      const key = `${t.agentId}\n${t.ip}\n${t.port}\n${t.mtlsPin ?? 'plain'}`;
      seen.add(key);
      let client = this.clients.get(key);
      if (!client) {
        client = new AgentClient({ ip: t.ip, port: t.port, mtlsPin: t.mtlsPin }, this.o.clientTls, {
          timeoutMs: this.o.requestTimeoutMs,
          maxResponseBytes: this.o.maxResponseBytes,
        });
        this.clients.set(key, client);
      }
      out.push({ agentId: t.agentId, apiVersion: t.apiVersion, client });
    }
    for (const [key, client] of this.clients) {
      if (!seen.has(key)) {
        client.close();
        this.clients.delete(key);
      }
    }
    return out;
  }

  /** Lets in-flight attestations finish their writes (verifier §7.2), then stops the workers. */
  async close(drainMs: number): Promise<void> {
    this.closing = true;
    const deadline = drainMs + 5_000;
    await Promise.all(
      this.slots.map((s) =>
        Promise.race([
          this.request(s, (req) => ({ t: 'close', req, drainMs })).catch((e: unknown) =>
            this.o.logger.warn(`Attestation worker ${s.index} did not close: ${errorMessage(e)}`),
          ),
          new Promise((r) => setTimeout(r, deadline).unref()),
        ]),
      ),
    );
    await this.terminateAll();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private async terminateAll(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
