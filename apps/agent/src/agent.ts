/**
 * @module agent: builds and starts the agent from its configuration — secure directory, TPM
 * identity, software keys, registration with the registrar, then the HTTPS API. Each component
 * receives only what it uses.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import type { AgentLoadOptions } from '@keylime/config';
import type { ServiceHandle } from '@keylime/server';
import { Tpm } from '@keylime/tpm-device';
import type { AgentSettings } from './config';
import { loadAgentSettings } from './config';
import { createAgentApp } from './http/app';
import { listenAgent } from './http/listen';
import type { AgentTls } from './http/listen';
import { loadOrCreatePayloadKey, loadOrCreateTlsIdentity } from './identity/keys';
import { establishTpmIdentity } from './identity/tpm-identity';
import { BootstrapKeys } from './keys/bootstrap-keys';
import { deliverPayload } from './payload/deliver-payload';
import type { PayloadSettings } from './payload/deliver-payload';
import { prepareSecureDir } from './payload/secure-dir';
import { MeasurementList } from './quotes/measurement-list';
import { createQuoter } from './quotes/quoter';
import { registerAndActivate } from './registration';
import { RevocationHandler } from './revocation/revocation';
import { agentInfoRouter } from './routes/agent-info';
import { keysRouter } from './routes/keys';
import { notificationsRouter } from './routes/notifications';
import { quotesRouter } from './routes/quotes';

const run = promisify(execFile);

export interface StartAgentOptions {
  readonly logger: Logger;
  /** Where config comes from (tests pass their own env and directories). */
  readonly configOptions?: AgentLoadOptions;
  /** Mount a tmpfs on the secure directory when root (default true; tests use a plain directory). */
  readonly mountSecureTmpfs?: boolean;
  /** Limit for `autorun.sh` and each revocation action (default 60 s). */
  readonly scriptTimeoutMs?: number;
}

export interface RunningAgent extends ServiceHandle {
  readonly settings: AgentSettings;
  readonly agentUuid: string;
  readonly port: number;
  /** Resolves when payload jobs and revocation actions queued so far have finished. */
  idle(): Promise<void>;
}

/** Upper bound for request bodies: a payload may fill secure_size, plus base64 and JSON overhead. */
function bodyLimit(settings: AgentSettings): number {
  return Math.ceil((settings.secureSizeBytes * 4) / 3) + 64 * 1024;
}

/** RK drops root privileges to `run_as` (user:group) once the secure directory is mounted. */
async function dropPrivileges(settings: AgentSettings, logger: Logger): Promise<void> {
  const runAs = settings.config.runAs;
  if (process.geteuid?.() !== 0) return;
  if (runAs === '') {
    logger.warn(
      "Cannot drop privileges since 'run_as' is empty in 'agent' section of 'keylime-agent.conf'.",
    );
    return;
  }
  const [user = '', group = ''] = runAs.split(':');
  if (user === '' || group === '') throw new Error(`run_as must be "user:group", got "${runAs}"`);
  await run('chown', ['-R', `${user}:${group}`, settings.config.keylimeDir], { timeout: 10_000 });
  if (process.setgid === undefined || process.setuid === undefined)
    throw new Error('run_as is not supported on this platform');
  process.setgid(group);
  process.setuid(user);
  logger.info(`Running the service as ${runAs}...`);
}

function readClientCas(files: readonly string[]): string[] {
  return files.map((file) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`Failed to load trusted CA certificates from ${file}: ${errorMessage(e)}`);
    }
  });
}

export async function startAgent(options: StartAgentOptions): Promise<RunningAgent> {
  const { logger } = options;
  const settings = loadAgentSettings(options.configOptions);
  const { config, algorithms } = settings;
  for (const warning of config.warnings) logger.warn(warning);
  logger.info(`Starting server with API versions: ${config.apiVersions.join(', ')}`);

  fs.mkdirSync(config.keylimeDir, { recursive: true, mode: 0o700 });
  await prepareSecureDir({
    dir: settings.secureDir,
    secureSize: config.secureSize,
    mountTmpfs: options.mountSecureTmpfs ?? true,
    logger,
  });
  await dropPrivileges(settings, logger);

  const tpm = Tpm.open(config.tcti);
  const identity = await establishTpmIdentity({
    tpm,
    algorithms,
    uuid: config.uuid,
    ekHandle: settings.ekHandle,
    agentDataPath: config.agentDataPath,
    logger,
  });
  const payloadKey = loadOrCreatePayloadKey(config.payloadKey, config.payloadKeyPassword, logger);
  let tls: AgentTls | undefined;
  if (config.enableAgentMtls) {
    const tlsIdentity = await loadOrCreateTlsIdentity({
      keyFile: config.serverKey,
      keyPassword: config.serverKeyPassword,
      certFile: config.serverCert,
      agentUuid: identity.agentUuid,
      contactIp: config.contactIp,
      logger,
    });
    tls = {
      key: tlsIdentity.privateKeyPem,
      cert: tlsIdentity.certificatePem,
      clientCas: readClientCas(config.trustedClientCa),
    };
  } else {
    logger.warn('mTLS disabled, Tenant and Verifier will reach out to agent via HTTP');
  }

  await registerAndActivate({
    tpm,
    identity,
    registrar: { host: config.registrarIp, port: config.registrarPort },
    enabledVersions: config.apiVersions,
    contactIp: config.contactIp,
    contactPort: config.contactPort,
    mtlsCertificatePem: tls?.cert,
    retry: {
      maxRetries: config.exponentialBackoffMaxRetries,
      initialDelayMs: config.exponentialBackoffInitialDelayMs,
      maxDelayMs: config.exponentialBackoffMaxDelayMs,
    },
    logger,
  });

  const scriptTimeoutMs = options.scriptTimeoutMs ?? 60_000;
  const revocation = new RevocationHandler(
    {
      certFile: config.revocationCert,
      actionsDir: config.revocationActionsDir,
      configActions: config.revocationActions,
      allowPayloadActions: config.allowPayloadRevocationActions,
      payloadDir: `${settings.secureDir}/unzipped`,
      workDir: config.keylimeDir,
      actionTimeoutMs: scriptTimeoutMs,
    },
    logger.child('revocation'),
  );
  const payloadSettings: PayloadSettings = {
    secureDir: settings.secureDir,
    encKeyname: config.encKeyname,
    decPayloadFile: config.decPayloadFile,
    extractPayloadZip: config.extractPayloadZip,
    payloadScript: config.payloadScript,
    secureSizeBytes: settings.secureSizeBytes,
    scriptTimeoutMs,
    maxZipEntries: 10_000,
  };
  // Payload jobs run one at a time, in arrival order, off the request path.
  let payloads: Promise<void> = Promise.resolve();
  const payloadLogger = logger.child('payload');
  const keys = new BootstrapKeys(
    identity.agentUuid,
    (k, payload) => {
      if (payload === undefined) return;
      if (!settings.runPayloads) {
        logger.warn(
          "agent mTLS is disabled, and unless 'enable_insecure_payload' is set to 'True', payloads cannot be deployed'",
        );
        return;
      }
      payloads = payloads
        .then(async () => {
          await deliverPayload(k, payload, payloadSettings, payloadLogger);
          payloadLogger.info('Successfully executed encrypted payload');
          revocation.enable();
        })
        .catch((e: unknown) =>
          payloadLogger.warn(`Failed to run encrypted payload: ${errorMessage(e)}`),
        );
    },
    logger.child('keys'),
  );

  const quoter = createQuoter({
    tpm,
    ek: identity.ek,
    ak: identity.ak,
    hashAlg: algorithms.hash,
    nkPublicPem: payloadKey.publicPem,
  });
  const app = createAgentApp({
    logger,
    apiVersions: config.apiVersions,
    bodyLimitBytes: bodyLimit(settings),
    scopes: {
      keys: keysRouter({
        payloadKey: payloadKey.privateKey,
        payloadPublicPem: payloadKey.publicPem,
        keys,
        logger,
      }),
      quotes: quotesRouter({
        quoter,
        algorithms,
        payloadPublicPem: payloadKey.publicPem,
        imaList: new MeasurementList(config.imaMlPath),
        measuredBootLog: config.measuredbootMlPath,
        logger,
      }),
      notifications: notificationsRouter({ revocation, logger }),
      agent: agentInfoRouter({ agentUuid: identity.agentUuid, algorithms, logger }),
    },
  });
  const listener = await listenAgent({ host: config.ip, port: config.port, handler: app, tls });
  logger.info(
    `Listening on ${tls === undefined ? 'http' : 'https'}://${config.ip}:${listener.port}`,
  );

  return {
    settings,
    agentUuid: identity.agentUuid,
    port: listener.port,
    idle: async () => {
      await payloads;
      await revocation.idle();
    },
    stop: async () => {
      await listener.close();
      await payloads;
      await revocation.idle();
      logger.info('Shutting down keylime agent');
    },
  };
}
