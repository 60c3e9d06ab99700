/**
 * @module worker-protocol: the messages between the verifier's main thread (REST API, database
 * schema, revocation channels) and its attestation workers (each attests a fixed shard of the
 * agents: its own scheduler, agent connections, policy cache and database connection).
 */
import type { ConfigLoadOptions } from '@keylime/config';
import type { LogFields, LogLevel } from '@keylime/core';
import type { RevocationEvent } from '../revocation/notifier';
import type { AgentRow } from '../store/schema';
import type { MtlsPin } from './agent-client';
import type { LoopStats } from './engine';

export const WORKER_KIND = 'keylime-verifier-attestation-worker';

/** `workerData` of an attestation worker. */
export interface WorkerInit {
  readonly kind: typeof WORKER_KIND;
  readonly index: number;
  readonly count: number;
  readonly configOptions: ConfigLoadOptions | undefined;
  readonly concurrency: number;
}

export function isWorkerInit(data: unknown): data is WorkerInit {
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as Record<string, unknown>)['kind'] === WORKER_KIND
  );
}

/** An agent row as it crosses threads: structured clone turns Buffers into Uint8Arrays. */
export type WireRow = Omit<AgentRow, 'pcr10'> & { pcr10: Uint8Array | null };

export function rowToWire(row: AgentRow): WireRow {
  // A copy of just the bytes: cloning a pooled Buffer would copy its whole backing store.
  return { ...row, pcr10: row.pcr10 === null ? null : new Uint8Array(row.pcr10) };
}

export function rowFromWire(row: WireRow): AgentRow {
  const p = row.pcr10;
  return { ...row, pcr10: p === null ? null : Buffer.from(p.buffer, p.byteOffset, p.byteLength) };
}

/** What the verifier needs to post a revocation notification to an agent a worker attests. */
export interface TargetInfo {
  readonly agentId: string;
  readonly apiVersion: string;
  readonly ip: string;
  readonly port: number;
  readonly mtlsPin: MtlsPin;
}

export type ToWorker =
  | { readonly t: 'start'; readonly row: WireRow }
  | { readonly t: 'resume'; readonly rows: readonly WireRow[]; readonly spreadMs: number }
  | { readonly t: 'stop' | 'forget'; readonly agentId: string }
  | { readonly t: 'policies-changed' }
  | { readonly t: 'request-delete'; readonly req: number; readonly agentId: string }
  | { readonly t: 'flush' | 'targets' | 'stats'; readonly req: number }
  | { readonly t: 'close'; readonly req: number; readonly drainMs: number };

export type WorkerStats = LoopStats;

export type FromWorker =
  | { readonly t: 'ready' }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'reply'; readonly req: number; readonly value: unknown; readonly error?: string }
  | { readonly t: 'notify'; readonly event: RevocationEvent }
  | {
      readonly t: 'log';
      readonly level: LogLevel;
      readonly components: readonly string[];
      readonly message: string;
      readonly fields?: LogFields;
    };
