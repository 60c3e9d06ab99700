/** @module tenant-config: typed tenant.conf ([tenant]) with upstream 2.6 defaults. */

import { loadComponentConfig } from './component-loader';
import type { ConfigLoadOptions, RawComponentConfig } from './component-loader';
import { OptionReader } from './option-reader';
import { deepFreeze, readTlsDir, readTlsFile, readTrustedCa } from './shared-options';
import type { TlsDir, TrustedCa } from './shared-options';

/** [tenant] defaults as upstream's templates/2.6 write them. */
export const TENANT_DEFAULTS = {
  version: '2.6',
  verifier_ip: '127.0.0.1',
  verifier_port: '8881',
  registrar_ip: '127.0.0.1',
  registrar_port: '8891',
  tls_dir: 'default',
  enable_agent_mtls: 'True',
  client_key: 'default',
  client_key_password: '',
  client_cert: 'default',
  trusted_server_ca: 'default',
  tpm_cert_store: '/var/lib/keylime/tpm_cert_store',
  max_payload_size: '1048576',
  accept_tpm_hash_algs: "['sha512', 'sha384', 'sha256']",
  accept_tpm_encryption_algs: "['ecc', 'rsa']",
  accept_tpm_signing_algs: "['ecschnorr', 'rsassa']",
  exponential_backoff: 'True',
  retry_interval: '2',
  max_retries: '5',
  request_timeout: '60',
  require_ek_cert: 'True',
  ek_check_script: '',
  mb_refstate: '',
} as const;

export interface TenantConfig {
  readonly version: string;
  readonly verifierIp: string;
  readonly verifierPort: number;
  readonly registrarIp: string;
  /** The registrar's TLS port (8891), not its plain one. */
  readonly registrarPort: number;
  readonly tls: TlsDir;
  readonly enableAgentMtls: boolean;
  readonly clientKey: string | undefined;
  readonly clientKeyPassword: string | undefined;
  readonly clientCert: string | undefined;
  readonly trustedServerCa: TrustedCa;
  /** Directory of TPM vendor CA certificates for EK certificate checks. */
  readonly tpmCertStore: string | undefined;
  readonly maxPayloadSize: number;
  readonly acceptTpmHashAlgs: readonly string[];
  readonly acceptTpmEncryptionAlgs: readonly string[];
  readonly acceptTpmSigningAlgs: readonly string[];
  readonly exponentialBackoff: boolean;
  readonly retryIntervalSeconds: number;
  readonly maxRetries: number;
  readonly requestTimeoutSeconds: number;
  readonly requireEkCert: boolean;
  readonly ekCheckScript: string | undefined;
  readonly mbRefstate: string | undefined;
  readonly raw: RawComponentConfig;
}

/** Builds the typed tenant configuration from already loaded files. */
export function tenantConfigFrom(raw: RawComponentConfig): TenantConfig {
  const r = new OptionReader(raw, TENANT_DEFAULTS);
  const tls = readTlsDir(r, undefined);
  return deepFreeze<TenantConfig>({
    version: r.string('version'),
    verifierIp: r.string('verifier_ip'),
    verifierPort: r.port('verifier_port'),
    registrarIp: r.string('registrar_ip'),
    registrarPort: r.port('registrar_port'),
    tls,
    enableAgentMtls: r.boolean('enable_agent_mtls'),
    clientKey: readTlsFile(r, 'client_key', tls, 'client-private.pem'),
    clientKeyPassword: r.optionalString('client_key_password'),
    clientCert: readTlsFile(r, 'client_cert', tls, 'client-cert.crt'),
    trustedServerCa: readTrustedCa(r, 'trusted_server_ca', tls),
    tpmCertStore: r.optionalString('tpm_cert_store'),
    maxPayloadSize: r.integer('max_payload_size', 0),
    acceptTpmHashAlgs: r.stringList('accept_tpm_hash_algs'),
    acceptTpmEncryptionAlgs: r.stringList('accept_tpm_encryption_algs'),
    acceptTpmSigningAlgs: r.stringList('accept_tpm_signing_algs'),
    exponentialBackoff: r.boolean('exponential_backoff'),
    retryIntervalSeconds: r.number('retry_interval', 0),
    maxRetries: r.integer('max_retries', 0),
    requestTimeoutSeconds: r.number('request_timeout', 0),
    requireEkCert: r.boolean('require_ek_cert'),
    ekCheckScript: r.optionalString('ek_check_script'),
    mbRefstate: r.optionalString('mb_refstate'),
    raw,
  });
}

/** Loads tenant.conf (+ snippets, env overrides) and returns the frozen, typed configuration. */
export function loadTenantConfig(options: ConfigLoadOptions = {}): TenantConfig {
  return tenantConfigFrom(loadComponentConfig('tenant', options));
}
