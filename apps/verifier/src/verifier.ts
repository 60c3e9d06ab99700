/**
 * @module verifier: builds and starts the verifier service from its configuration — TLS identity
 * (generating the Keylime CA on first start), database, attestation loop, HTTPS listener with the
 * versioned API. The composition root; each part lives in its own module.
 */
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
  readPemFile,
} from '@keylime/server';
import type { RunningServer, ServiceHandle } from '@keylime/server';
import { v2Router } from './api/routes';
import type { ClientTls } from './attestation/agent-client';
import { AttestationEngine, retryDelayMs } from './attestation/engine';
import { SeverityPolicy } from './attestation/failure';
import { PolicyCache } from './attestation/policy-cache';
import { RevocationNotifier } from './revocation/notifier';
import { systemClock } from './scheduler/clock';
import type { Clock } from './scheduler/clock';
import { Scheduler } from './scheduler/scheduler';
import { VerifierStore } from './store/verifier-store';

export interface StartVerifierOptions {
  readonly logger: Logger;
  /** Where config comes from (tests pass their own env and directories). */
  readonly configOptions?: ConfigLoadOptions;
  /** Time source of the attestation scheduler (tests pass a manual clock). */
  readonly clock?: Clock;
  /** Most agent requests in flight at once (default 256). */
  readonly concurrency?: number;
}

export interface RunningVerifier extends ServiceHandle {
  readonly config: VerifierConfig;
  readonly server: RunningServer;
  readonly store: VerifierStore;
  readonly engine: AttestationEngine;
  readonly notifier: RevocationNotifier;
}

/** The verifier's client identity for agents and webhooks (`client_cert`, `trusted_server_ca`). */
function loadClientTls(config: VerifierConfig): ClientTls | undefined {
  if (!config.clientCert || !config.clientKey) return undefined;
  return {
    cert: readPemFile(config.clientCert, 'client_cert'),
    key: readPemFile(config.clientKey, 'client_key'),
    ...(config.clientKeyPassword ? { passphrase: config.clientKeyPassword } : {}),
    cas: config.trustedServerCa.files.map((f) => readPemFile(f, 'trusted_server_ca')),
    verifyPeer: config.trustedServerCa.verifyPeer,
  };
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
  const clientTls = config.enableAgentMtls ? loadClientTls(config) : undefined;
  const mbRegistry = createPolicyRegistry();
  requirePolicy(mbRegistry, config.measuredBootPolicyName);
  const policies = new PolicyCache(store);
  const retry = {
    retryIntervalSeconds: config.retryIntervalSeconds,
    exponentialBackoff: config.exponentialBackoff,
  };
  // The notifier asks the engine for its targets; the engine needs the notifier first.
  const engineRef: { current?: AttestationEngine } = {};
  const notifier = new RevocationNotifier({
    channels: config.revocations.enabledRevocationNotifications,
    webhookUrl: config.revocations.webhookUrl,
    zmqIp: config.revocations.zmqIp,
    zmqPort: config.revocations.zmqPort,
    clientTls,
    maxRetries: config.maxRetries,
    retryDelayMs: (n) => retryDelayMs(retry, n),
    timeoutMs: config.requestTimeoutSeconds * 1000,
    targets: () => engineRef.current?.notificationTargets() ?? [],
    logger: logger.child('revocation_notifier'),
  });
  const clock = options.clock ?? systemClock();
  const engine = new AttestationEngine({
    store,
    scheduler: (run) =>
      new Scheduler({
        clock,
        concurrency: options.concurrency ?? 256,
        run,
        onError: (id, e) => logger.error(`Attestation step of ${id} failed: ${String(e)}`),
      }),
    policies,
    severity: new SeverityPolicy(config.severityLabels, config.severityPolicy),
    mbRegistry,
    clientTls,
    notifier,
    logger,
    settings: {
      verifierId: config.uuid,
      quoteIntervalMs: config.quoteIntervalSeconds * 1000,
      ...retry,
      maxRetries: config.maxRetries,
      requestTimeoutMs: config.requestTimeoutSeconds * 1000,
      maxResponseBytes: config.maxUploadSize,
      // Upstream's ignore_tomtou_errors is inverted in code (§4.2 QUIRK); reproduced.
      reportTomtou: config.ignoreTomtouErrors,
      mbPolicyName: config.measuredBootPolicyName,
      mbEvaluateAlways: config.measuredBootEvaluate === 'always',
      defaultApiVersion: SERVER_CURRENT_VERSION,
    },
  });
  engineRef.current = engine;
  const control = engine;

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
      onPolicyChanged: () => policies.clear(),
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
  if (pull) await engine.resume();
  const running = engine;
  return {
    config,
    server,
    store,
    engine: running,
    notifier,
    stop: async () => {
      await server.close();
      // Let in-flight attestations finish their writes and notifications (verifier §7.2).
      await running.close(config.shutdownDrainTimeoutSeconds * 1000);
      await notifier.close();
      await store.close();
    },
  };
}
