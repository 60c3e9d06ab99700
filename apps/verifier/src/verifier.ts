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
import { createApp, finishApp, listen, mountVersionedApi, prepareServerTls } from '@keylime/server';
import type { RunningServer, ServiceHandle } from '@keylime/server';
import { v2Router } from './api/routes';
import type { AttestationControl } from './attestation/control';
import { VerifierStore } from './store/verifier-store';

export interface StartVerifierOptions {
  readonly logger: Logger;
  /** Where config comes from (tests pass their own env and directories). */
  readonly configOptions?: ConfigLoadOptions;
}

export interface RunningVerifier extends ServiceHandle {
  readonly config: VerifierConfig;
  readonly server: RunningServer;
  readonly store: VerifierStore;
}

/** Until the attestation loop is wired: enrolment works, nothing is polled. */
const idleControl: AttestationControl = {
  start: () => undefined,
  stop: () => undefined,
  requestDelete: () => 'now',
  forget: () => undefined,
};

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
  const control = idleControl;
  const pull = config.mode === 'pull';

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
      onPolicyChanged: () => undefined,
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
  return {
    config,
    server,
    store,
    stop: async () => {
      await server.close();
      await store.close();
    },
  };
}
