/**
 * @module attestation-worker: the body of one attestation worker thread. It attests its shard of
 * the agents with the same engine the single-threaded verifier runs, over its own database
 * connection (the batched writes stay batched, per worker), and leaves the REST API, schema
 * migrations and revocation channels to the main thread: control messages come in, revocation
 * events and log lines go out.
 */
import { parentPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import path from 'node:path';
import { loadVerifierConfig } from '@keylime/config';
import type { LogFields, LogLevel, Logger } from '@keylime/core';
import { errorMessage } from '@keylime/core';
import { systemClock } from '../scheduler/clock';
import { VerifierStore } from '../store/verifier-store';
import { buildEngine, loadClientTls } from './build-engine';
import { rowFromWire } from './worker-protocol';
import type { FromWorker, TargetInfo, ToWorker, WorkerInit, WorkerStats } from './worker-protocol';

/** PostgreSQL connections per worker (the main thread keeps database_pool_sz_ovfl). */
const WORKER_POOL_SIZE = 3;

/** A logger whose lines are written by the main thread, in order with its own. */
function forwardingLogger(post: (m: FromWorker) => void, components: readonly string[]): Logger {
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    let safe: LogFields | undefined;
    try {
      // Only plain data crosses threads; anything else is dropped rather than crash the post.
      safe = fields === undefined ? undefined : structuredClone<LogFields>(fields);
    } catch {
      safe = undefined;
    }
    post({ t: 'log', level, components, message, ...(safe ? { fields: safe } : {}) });
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (c) => forwardingLogger(post, [...components, c]),
  };
}

export async function runAttestationWorker(
  init: WorkerInit,
  port: MessagePort | null = parentPort,
): Promise<void> {
  if (!port) throw new Error('an attestation worker must run in a worker thread');
  const post = (m: FromWorker): void => port.postMessage(m);
  const logger = forwardingLogger(post, []);
  let store: VerifierStore;
  let built: ReturnType<typeof buildEngine>;
  try {
    const config = loadVerifierConfig(init.configOptions);
    store = await VerifierStore.open({
      databaseUrl: config.database.url,
      sqliteDefaultPath: path.join(config.raw.workDir, 'cv_data.sqlite'),
      // The main thread migrated the schema before starting the workers.
      autoMigrate: false,
      logger,
      // A worker writes through one serial queue and reads little (policies, guard misses): a
      // few connections each, so N workers stay well inside the server's max_connections.
      ...(config.database.kind === 'url'
        ? { poolSize: Math.max(1, Math.min(WORKER_POOL_SIZE, config.database.poolSize)) }
        : {}),
    });
    built = buildEngine({
      config,
      store,
      logger,
      notifier: { notify: (event) => post({ t: 'notify', event }) },
      clock: systemClock(),
      concurrency: init.concurrency,
      clientTls: loadClientTls(config),
    });
  } catch (e) {
    post({ t: 'failed', message: errorMessage(e) });
    port.close();
    return;
  }
  const { engine, policies } = built;

  const reply = (req: number, work: () => unknown): void => {
    void Promise.resolve()
      .then(work)
      .then(
        (value) => post({ t: 'reply', req, value }),
        (e: unknown) => post({ t: 'reply', req, value: undefined, error: errorMessage(e) }),
      );
  };

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'start':
        engine.start(rowFromWire(m.row));
        break;
      case 'resume':
        engine.resumeRows(m.rows.map(rowFromWire), m.spreadMs);
        break;
      case 'stop':
        engine.stop(m.agentId);
        break;
      case 'forget':
        engine.forget(m.agentId);
        break;
      case 'policies-changed':
        policies.clear();
        break;
      case 'request-delete':
        reply(m.req, () => engine.requestDelete(m.agentId));
        break;
      case 'flush':
        reply(m.req, () => store.flush());
        break;
      case 'targets':
        reply(m.req, () =>
          engine.notificationTargets().map((t): TargetInfo => ({
            agentId: t.agentId,
            apiVersion: t.apiVersion,
            ip: t.client.endpoint.ip,
            port: t.client.endpoint.port,
            mtlsPin: t.client.endpoint.mtlsPin,
          })),
        );
        break;
      case 'stats':
        reply(m.req, (): WorkerStats => engine.stats());
        break;
      case 'close':
        reply(m.req, async () => {
          await engine.close(m.drainMs);
          await store.close();
        });
        break;
    }
  });
  post({ t: 'ready' });
}
