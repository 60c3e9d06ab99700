/**
 * @module verifier: builds and starts the verifier service from its configuration — TLS identity
 * (generating the Keylime CA on first start), database, attestation loop, HTTPS listener with the
 * versioned API. The composition root; each part lives in its own module.
 */
import os from 'node:os';
import path from 'node:path';
import { loadCaConfig, loadVerifierConfig } from '@keylime/config';
import type { ConfigLoadOptions, VerifierConfig } from '@keylime/config';
import type { Logger } from '@keylime/core';
import { SERVER_CURRENT_VERSION, SERVER_SUPPORTED_VERSIONS } from '@keylime/protocol';
import { createPolicyRegistry, requirePolicy } from '@keylime/mba';
import {
  createApp,
  finishApp,
  listen,
  mountVersionedApi,
  prepareServerTls,
  requireAdmin,
  route,
} from '@keylime/server';
import type { RunningServer, ServiceHandle } from '@keylime/server';
import { metricsHandler } from './api/metrics';
import type { LoopMetrics } from './api/metrics';
import { v2Router } from './api/routes';
import { AttestationWorkers } from './attestation/attestation-workers';
import { buildEngine, loadClientTls } from './attestation/build-engine';
import type { BuiltEngine } from './attestation/build-engine';
import { resumeSpreadMs, retryDelayMs } from './attestation/engine';
import type { AttestationEngine } from './attestation/engine';
import { RevocationNotifier } from './revocation/notifier';
import { systemClock } from './scheduler/clock';
import type { Clock } from './scheduler/clock';
import { VerifierStore } from './store/verifier-store';

export interface StartVerifierOptions {
  readonly logger: Logger;
  /** Where config comes from (tests pass their own env and directories). */
  readonly configOptions?: ConfigLoadOptions;
  /** Time source of the attestation scheduler (tests pass a manual clock). */
  readonly clock?: Clock;
  /** Most agent requests in flight at once, per attestation loop (default 256). */
  readonly concurrency?: number;
  /**
   * The script attestation worker threads run (the bundled main.js). Without it, or with
   * `[verifier] num_workers = 1`, every agent is attested on the main thread.
   */
  readonly workerScript?: string;
  /** Node options of the worker threads (tests load TypeScript through a register hook). */
  readonly workerExecArgv?: readonly string[];
  /** Called in the main thread whenever an attestation worker has started (also after a respawn). */
  readonly onWorkerStarted?: () => void;
}

/** Where agents are attested: on the main thread, or in worker threads. */
type AttestationLoop =
  | ({ readonly kind: 'in-process' } & BuiltEngine)
  | { readonly kind: 'workers'; readonly workers: AttestationWorkers };

export interface RunningVerifier extends ServiceHandle {
  readonly config: VerifierConfig;
  readonly server: RunningServer;
  readonly store: VerifierStore;
  /** The attestation loop when it runs on the main thread. */
  readonly engine: AttestationEngine | undefined;
  /** The attestation workers when `num_workers` asks for more than one. */
  readonly workers: AttestationWorkers | undefined;
  readonly notifier: RevocationNotifier;
}

export async function startVerifier(options: StartVerifierOptions): Promise<RunningVerifier> {
  const { logger } = options;
  const config = loadVerifierConfig(options.configOptions);
  const caConfig = loadCaConfig(options.configOptions);
  const tls = await prepareServerTls(
    {
      role: 'verifier',
      tls: config.tls,
      serverKey: config.serverKey,
      serverCert: config.serverCert,
      serverKeyPassword: config.serverKeyPassword,
      clientKeyPassword: config.clientKeyPassword,
      trustedClientCa: config.trustedClientCa,
      certSubjectAlternativeNames: config.certSubjectAlternativeNames,
      bindAddress: config.ip,
      ca: caConfig,
    },
    logger,
  );

  const workDir = config.raw.workDir;
  const store = await VerifierStore.open({
    databaseUrl: config.database.url,
    sqliteDefaultPath: path.join(workDir, 'cv_data.sqlite'),
    autoMigrate: config.autoMigrateDb,
    logger,
    ...(config.database.kind === 'url'
      ? { poolSize: config.database.poolSize + config.database.maxOverflow }
      : {}),
  });
  const pull = config.mode === 'pull';
  const clientTls = loadClientTls(config);
  // The verify endpoints judge measured boot with their own registry (the loops have theirs).
  const mbRegistry = createPolicyRegistry();
  requirePolicy(mbRegistry, config.measuredBootPolicyName);
  const retry = {
    retryIntervalSeconds: config.retryIntervalSeconds,
    exponentialBackoff: config.exponentialBackoff,
  };
  const concurrency = options.concurrency ?? 256;
  const workerCount = config.numWorkers > 0 ? config.numWorkers : os.availableParallelism();
  let loop: AttestationLoop;
  if (pull && options.workerScript !== undefined && workerCount > 1) {
    const workers = await AttestationWorkers.start({
      script: options.workerScript,
      count: workerCount,
      configOptions: options.configOptions,
      concurrency,
      verifierId: config.uuid,
      store,
      logger,
      clientTls,
      requestTimeoutMs: config.requestTimeoutSeconds * 1000,
      maxResponseBytes: config.maxUploadSize,
      ...(options.workerExecArgv ? { execArgv: options.workerExecArgv } : {}),
      ...(options.onWorkerStarted ? { onWorkerStarted: options.onWorkerStarted } : {}),
    }).catch(async (e: unknown) => {
      await store.close();
      throw e;
    });
    // API reads and writes see every quote the workers have taken so far.
    store.beforeFlush = () => workers.flush();
    loop = { kind: 'workers', workers };
    logger.info(`Attesting agents in ${workerCount} worker threads`);
  } else {
    loop = {
      kind: 'in-process',
      ...buildEngine({
        config,
        store,
        logger,
        notifier: { notify: (ev) => notifier.notify(ev) },
        clock: options.clock ?? systemClock(),
        concurrency,
        clientTls,
      }),
    };
  }
  const notifier: RevocationNotifier = new RevocationNotifier({
    channels: config.revocations.enabledRevocationNotifications,
    webhookUrl: config.revocations.webhookUrl,
    zmqIp: config.revocations.zmqIp,
    zmqPort: config.revocations.zmqPort,
    clientTls,
    maxRetries: config.maxRetries,
    retryDelayMs: (n) => retryDelayMs(retry, n),
    timeoutMs: config.requestTimeoutSeconds * 1000,
    targets: () =>
      loop.kind === 'workers'
        ? loop.workers.notificationTargets()
        : loop.engine.notificationTargets(),
    logger: logger.child('revocation_notifier'),
  });
  if (loop.kind === 'workers') loop.workers.onNotify = (ev) => notifier.notify(ev);
  const control = loop.kind === 'workers' ? loop.workers : loop.engine;

  const app = createApp({
    logger,
    bodyLimitBytes: config.maxUploadSize,
    requireJsonContentType: false,
  });
  const router = v2Router(
    {
      store,
      control,
      logger,
      verifierId: config.uuid,
      pull,
      enableAgentMtls: config.enableAgentMtls,
      verifierIp: config.ip,
      verifierPort: config.port,
      quoteIntervalSeconds: config.quoteIntervalSeconds,
      requireSignatures: config.requireAllowListSignatures,
      signingKeysDir: path.join(workDir, 'signing_keys'),
    },
    {
      store,
      signatures: {
        requireSignatures: config.requireAllowListSignatures,
        signingKeysDir: path.join(workDir, 'signing_keys'),
      },
      onPolicyChanged: () =>
        loop.kind === 'workers' ? loop.workers.policiesChanged() : loop.policies.clear(),
    },
    {
      store,
      mbRegistry,
      mbPolicyName: config.measuredBootPolicyName,
      reportTomtou: config.ignoreTomtouErrors,
    },
  );
  mountVersionedApi(app, {
    supported: SERVER_SUPPORTED_VERSIONS,
    current: SERVER_CURRENT_VERSION,
    routerFor: (major) => (major === 2 ? router : undefined),
  });
  const gatherMetrics = async (): Promise<LoopMetrics> => {
    const loopStats = loop.kind === 'workers' ? await loop.workers.stats() : loop.engine.stats();
    return { ...loopStats, notifications: notifier.sent };
  };
  // The fleet's size and health are an admin's business: the same client certificate as /v2.x.
  route(app, '/metrics', { get: [requireAdmin, metricsHandler(gatherMetrics, logger)] });
  finishApp(app, logger);

  let server: RunningServer;
  try {
    server = await listen({ host: config.ip, port: config.port, handler: app, tls });
  } catch (e) {
    await store.close();
    throw e;
  }
  logger.info(`Starting Cloud Verifier (tornado) on port ${server.port}, use <Ctrl-C> to stop`);
  notifier.start();
  if (pull && loop.kind === 'in-process') await loop.engine.resume();
  if (pull && loop.kind === 'workers') {
    const rows = await store.resumeAgents(config.uuid);
    loop.workers.resume(rows, resumeSpreadMs(rows.length, config.quoteIntervalSeconds * 1000));
    if (rows.length > 0) logger.info(`Resumed attestation of ${rows.length} agents`);
  }
  return {
    config,
    server,
    store,
    engine: loop.kind === 'in-process' ? loop.engine : undefined,
    workers: loop.kind === 'workers' ? loop.workers : undefined,
    notifier,
    stop: async () => {
      await server.close();
      // Let in-flight attestations finish their writes and notifications (verifier §7.2).
      const drainMs = config.shutdownDrainTimeoutSeconds * 1000;
      if (loop.kind === 'workers') await loop.workers.close(drainMs);
      else await loop.engine.close(drainMs);
      store.beforeFlush = undefined;
      await notifier.close();
      await store.close();
    },
  };
}
