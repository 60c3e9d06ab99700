/**
 * @module verifier: builds and starts the verifier service from its configuration — TLS identity
 * (generating the Keylime CA on first start), HTTPS listener, versioned API.
 */
import { Router } from 'express';
import { loadCaConfig, loadVerifierConfig } from '@keylime/config';
import type { ConfigLoadOptions, VerifierConfig } from '@keylime/config';
import type { Logger } from '@keylime/core';
import { SERVER_CURRENT_VERSION, SERVER_SUPPORTED_VERSIONS } from '@keylime/protocol';
import { createApp, finishApp, listen, mountVersionedApi, prepareServerTls } from '@keylime/server';
import type { RunningServer, ServiceHandle } from '@keylime/server';

export interface StartVerifierOptions {
  readonly logger: Logger;
  /** Where config comes from (tests pass their own env and directories). */
  readonly configOptions?: ConfigLoadOptions;
}

export interface RunningVerifier extends ServiceHandle {
  readonly config: VerifierConfig;
  readonly server: RunningServer;
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

  const app = createApp({
    logger,
    bodyLimitBytes: config.maxUploadSize,
    requireJsonContentType: false,
  });
  mountVersionedApi(app, {
    supported: SERVER_SUPPORTED_VERSIONS,
    current: SERVER_CURRENT_VERSION,
    routerFor: (major) => (major === 2 ? Router() : undefined),
  });
  finishApp(app, logger);

  const server = await listen({ host: config.ip, port: config.port, handler: app, tls });
  logger.info(`Starting Cloud Verifier (tornado) on port ${server.port}, use <Ctrl-C> to stop`);
  return {
    config,
    server,
    stop: async () => {
      await server.close();
    },
  };
}
