/**
 * @module tls: the HTTPS listener's key, certificate and trusted client CAs (spec §6.1): from
 * tls_dir, or made on first start when tls_dir = generate (reg_ca).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '@keylime/core';
import { generateCvCaFiles } from '@keylime/crypto';
import { readPemFile, writeTlsDirectory } from '@keylime/server';
import type { TlsServerMaterial } from '@keylime/server';
import type { RegistrarConfig } from '@keylime/config';

/** tls_dir = generate: creates reg_ca with a CA and a server certificate unless present. */
async function generateIfMissing(config: RegistrarConfig, logger: Logger): Promise<void> {
  const dir = config.tls.dir;
  if (fs.existsSync(path.join(dir, 'cacert.crt'))) return;
  logger.info(`Generating a new CA and server certificate in ${dir}`);
  const result = await generateCvCaFiles({
    includeClient: false,
    server: {
      hostname: os.hostname(),
      bindAddress: config.ip,
      additionalDns: config.certSubjectAlternativeNames.filter((n) => !/^[\d.:]+$/.test(n)),
      additionalIps: config.certSubjectAlternativeNames.filter((n) => /^[\d.:]+$/.test(n)),
    },
    ...(config.serverKeyPassword ? { serverKeyPassword: config.serverKeyPassword } : {}),
  });
  writeTlsDirectory(dir, result.files);
}

/** Reads (or, with tls_dir = generate, first creates) the HTTPS material. */
export async function loadTlsMaterial(
  config: RegistrarConfig,
  logger: Logger,
): Promise<TlsServerMaterial> {
  if (config.tls.generate) await generateIfMissing(config, logger);
  if (!config.serverKey || !config.serverCert) {
    throw new Error('server_key and server_cert must be set for the HTTPS listener');
  }
  const key = readPemFile(config.serverKey, 'server_key');
  const cert = readPemFile(config.serverCert, 'server_cert');
  if (!config.trustedClientCa.verifyPeer) {
    logger.warn(
      'trusted_client_ca = all: client certificates are not requested; admin routes are unreachable',
    );
    return {
      key,
      cert,
      ...(config.serverKeyPassword ? { keyPassphrase: config.serverKeyPassword } : {}),
    };
  }
  if (config.trustedClientCa.files.length === 0) {
    throw new Error('trusted_client_ca names no CA file');
  }
  const clientCas = config.trustedClientCa.files.map((f) => readPemFile(f, 'trusted_client_ca'));
  return {
    key,
    cert,
    clientCas,
    ...(config.serverKeyPassword ? { keyPassphrase: config.serverKeyPassword } : {}),
  };
}
