/**
 * @module build-engine: the attestation loop built from the verifier's configuration — shared by
 * the single-threaded verifier and by each attestation worker, so both run exactly the same loop.
 */
import type { VerifierConfig } from '@keylime/config';
import type { Logger } from '@keylime/core';
import { createPolicyRegistry, requirePolicy } from '@keylime/mba';
import { SERVER_CURRENT_VERSION } from '@keylime/protocol';
import { readPemFile } from '@keylime/server';
import type { RevocationEvent } from '../revocation/notifier';
import type { Clock } from '../scheduler/clock';
import { Scheduler } from '../scheduler/scheduler';
import type { VerifierStore } from '../store/verifier-store';
import type { ClientTls } from './agent-client';
import { AttestationEngine } from './engine';
import type { EngineSettings } from './engine';
import { SeverityPolicy } from './failure';
import { PolicyCache } from './policy-cache';

/** The verifier's client identity for agents and webhooks (`client_cert`, `trusted_server_ca`). */
export function loadClientTls(config: VerifierConfig): ClientTls | undefined {
  if (!config.enableAgentMtls || !config.clientCert || !config.clientKey) return undefined;
  return {
    cert: readPemFile(config.clientCert, 'client_cert'),
    key: readPemFile(config.clientKey, 'client_key'),
    ...(config.clientKeyPassword ? { passphrase: config.clientKeyPassword } : {}),
    cas: config.trustedServerCa.files.map((f) => readPemFile(f, 'trusted_server_ca')),
    verifyPeer: config.trustedServerCa.verifyPeer,
    engine: config.agentTlsEngine,
  };
}

/** `[verifier]` options of the loop, in the engine's units. */
export function engineSettings(config: VerifierConfig): EngineSettings {
  return {
    verifierId: config.uuid,
    quoteIntervalMs: config.quoteIntervalSeconds * 1000,
    retryIntervalSeconds: config.retryIntervalSeconds,
    exponentialBackoff: config.exponentialBackoff,
    maxRetries: config.maxRetries,
    requestTimeoutMs: config.requestTimeoutSeconds * 1000,
    maxResponseBytes: config.maxUploadSize,
    // Upstream's ignore_tomtou_errors is inverted in code (§4.2 QUIRK); reproduced.
    reportTomtou: config.ignoreTomtouErrors,
    mbPolicyName: config.measuredBootPolicyName,
    mbEvaluateAlways: config.measuredBootEvaluate === 'always',
    defaultApiVersion: SERVER_CURRENT_VERSION,
  };
}

export interface BuildEngineOptions {
  readonly config: VerifierConfig;
  readonly store: VerifierStore;
  readonly logger: Logger;
  readonly notifier: { notify(ev: RevocationEvent): unknown };
  readonly clock: Clock;
  /** Most agent requests in flight at once. */
  readonly concurrency: number;
  readonly clientTls: ClientTls | undefined;
}

export interface BuiltEngine {
  readonly engine: AttestationEngine;
  /** Compiled policies; cleared when a policy changes through the API. */
  readonly policies: PolicyCache;
}

export function buildEngine(o: BuildEngineOptions): BuiltEngine {
  const { config, logger } = o;
  const mbRegistry = createPolicyRegistry();
  requirePolicy(mbRegistry, config.measuredBootPolicyName);
  const policies = new PolicyCache(o.store);
  const engine = new AttestationEngine({
    store: o.store,
    scheduler: (run) =>
      new Scheduler({
        clock: o.clock,
        concurrency: o.concurrency,
        run,
        onError: (id, e) => logger.error(`Attestation step of ${id} failed: ${String(e)}`),
      }),
    policies,
    severity: new SeverityPolicy(config.severityLabels, config.severityPolicy),
    mbRegistry,
    clientTls: o.clientTls,
    notifier: o.notifier,
    logger,
    settings: engineSettings(config),
  });
  return { engine, policies };
}
