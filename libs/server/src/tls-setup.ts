/**
 * @module tls-setup: a service's TLS identity as upstream prepares it — `tls_dir = generate`
 * creates the Keylime CA and certificates on first start, `default` and paths reuse existing
 * files (spec/agent-registrar-tenant.md §6.1, §8.1).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateCvCaFiles } from '@keylime/crypto';
import type { CaConfig, TlsDir, TrustedCa } from '@keylime/config';
import { isIP } from 'node:net';
import type { Logger } from '@keylime/core';
import { KeylimeError } from '@keylime/core';
import { readPemFile, writeTlsDirectory } from './tls-files';
import type { TlsServerMaterial } from './https-server';

export interface ServerTlsSettings {
  /** The verifier's generated directory also holds the tenant's client certificate. */
  readonly role: 'verifier' | 'registrar';
  readonly tls: TlsDir;
  /** Absolute paths (undefined → the default file name inside tls.dir). */
  readonly serverKey: string | undefined;
  readonly serverCert: string | undefined;
  readonly serverKeyPassword: string | undefined;
  readonly clientKeyPassword?: string | undefined;
  readonly trustedClientCa: TrustedCa;
  readonly certSubjectAlternativeNames: readonly string[];
  /** The address the server binds (goes into the generated certificate's SAN). */
  readonly bindAddress: string;
  readonly ca: CaConfig;
}

/** Marker file upstream checks to decide that a tls_dir was already generated. */
const CA_CERT_FILE = 'cacert.crt';

async function generateTlsDir(settings: ServerTlsSettings, logger: Logger): Promise<void> {
  const dir = settings.tls.dir;
  logger.info(`Generating a new CA, server and client certificates in ${dir}`);
  const extra = settings.certSubjectAlternativeNames;
  const { files } = await generateCvCaFiles({
    country: settings.ca.certCountry,
    state: settings.ca.certState,
    locality: settings.ca.certLocality,
    organization: settings.ca.certOrganization,
    orgUnit: settings.ca.certOrgUnit,
    keyBits: settings.ca.certBits,
    crlDistributionPoint: settings.ca.certCrlDist,
    caName: settings.ca.certCaName,
    caLifetimeDays: settings.ca.certCaLifetimeDays,
    caPassword: settings.ca.password,
    includeClient: settings.role === 'verifier',
    ...(settings.serverKeyPassword ? { serverKeyPassword: settings.serverKeyPassword } : {}),
    ...(settings.clientKeyPassword ? { clientKeyPassword: settings.clientKeyPassword } : {}),
    server: {
      hostname: os.hostname(),
      bindAddress: settings.bindAddress,
      additionalDns: extra.filter((n) => isIP(n) === 0),
      additionalIps: extra.filter((n) => isIP(n) !== 0),
    },
  });
  writeTlsDirectory(dir, files);
}

/**
 * Returns the key, certificate and trusted client CAs the HTTPS listener needs, generating the
 * directory first when configured to and not yet done.
 */
export async function prepareServerTls(
  settings: ServerTlsSettings,
  logger: Logger,
): Promise<TlsServerMaterial> {
  const dir = settings.tls.dir;
  if (settings.tls.generate && !fs.existsSync(path.join(dir, CA_CERT_FILE))) {
    await generateTlsDir(settings, logger);
  } else if (!fs.existsSync(dir)) {
    throw new KeylimeError(
      'KL_SERVER_TLS_DIR_MISSING',
      `TLS directory ${dir} does not exist (tls_dir = default needs the verifier's generated cv_ca; start the verifier first or set tls_dir)`,
    );
  }
  const keyFile = settings.serverKey ?? path.join(dir, 'server-private.pem');
  const certFile = settings.serverCert ?? path.join(dir, 'server-cert.crt');
  const clientCas = settings.trustedClientCa.verifyPeer
    ? settings.trustedClientCa.files.map((f) => readPemFile(f, 'trusted client CA'))
    : undefined;
  if (clientCas !== undefined && clientCas.length === 0) {
    throw new KeylimeError('KL_SERVER_TLS_NO_CLIENT_CA', 'trusted_client_ca names no CA file');
  }
  return {
    key: readPemFile(keyFile, 'server private key'),
    cert: readPemFile(certFile, 'server certificate'),
    ...(settings.serverKeyPassword ? { keyPassphrase: settings.serverKeyPassword } : {}),
    ...(clientCas ? { clientCas } : {}),
  };
}
