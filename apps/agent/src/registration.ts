/**
 * @module registration: registers the agent and proves its AK to the registrar (spec §3.2-§3.5):
 * register → TPM2_ActivateCredential of the returned blob → auth_tag → activate.
 */
import { activationAuthTag, activationKeyFromCredential } from '@keylime/crypto';
import { toPem } from '@keylime/crypto';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { decodeCredentialBlob } from '@keylime/tpm';
import { activateCredential } from '@keylime/tpm-device';
import type { Tpm } from '@keylime/tpm-device';
import type { TpmIdentity } from './identity/tpm-identity';
import { RegistrarClient, RegistrarError, RegistrarErrorCode } from './registrar-client';

export interface RegistrationOptions {
  readonly tpm: Tpm;
  readonly identity: TpmIdentity;
  readonly registrar: { readonly host: string; readonly port: number };
  readonly enabledVersions: readonly string[];
  readonly contactIp: string;
  readonly contactPort: number;
  readonly mtlsCertificatePem: string | undefined;
  /** Retries for an unreachable registrar: attempts and delays (config exponential_backoff_*). */
  readonly retry: {
    readonly maxRetries: number;
    readonly initialDelayMs: number;
    readonly maxDelayMs: number;
  };
  readonly logger: Logger;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `work`, retrying only when the registrar could not be reached. */
async function withRetry<T>(options: RegistrationOptions, work: () => Promise<T>): Promise<T> {
  let delay = options.retry.initialDelayMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (e) {
      const unreachable = e instanceof RegistrarError && e.code === RegistrarErrorCode.Unreachable;
      if (!unreachable || attempt >= options.retry.maxRetries) throw e;
      options.logger.warn(`${errorMessage(e)}; retrying in ${delay} ms`);
      await sleep(delay);
      delay = Math.min(delay * 2, options.retry.maxDelayMs);
    }
  }
}

/** Registers and activates; throws RegistrarError or a TPM error on failure. */
export async function registerAndActivate(options: RegistrationOptions): Promise<void> {
  const { identity, logger } = options;
  const client = new RegistrarClient({
    host: options.registrar.host,
    port: options.registrar.port,
    enabledVersions: options.enabledVersions,
    logger,
  });
  const blob = await withRetry(options, () =>
    client.register({
      agentUuid: identity.agentUuid,
      akPublic: identity.ak.public,
      ekPublic: identity.ek.public,
      ekCertificatePem:
        identity.ekCertificate === undefined
          ? undefined
          : toPem('CERTIFICATE', identity.ekCertificate),
      contactIp: options.contactIp,
      contactPort: options.contactPort,
      mtlsCertificatePem: options.mtlsCertificatePem,
    }),
  );
  logger.info(`SUCCESS: Agent ${identity.agentUuid} registered`);

  const credential = await activateCredential(options.tpm, {
    ek: identity.ek,
    ak: identity.ak,
    ...decodeCredentialBlob(blob),
  });
  const authTag = activationAuthTag(activationKeyFromCredential(credential), identity.agentUuid);
  await withRetry(options, () => client.activate(identity.agentUuid, authTag));
  logger.info(`SUCCESS: Agent ${identity.agentUuid} activated`);
}
