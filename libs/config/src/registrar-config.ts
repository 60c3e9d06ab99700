/** @module registrar-config: typed registrar.conf ([registrar]) with upstream 2.6 defaults. */

import { loadComponentConfig } from './component-loader';
import type { ConfigLoadOptions, RawComponentConfig } from './component-loader';
import { OptionReader } from './option-reader';
import {
  checkGenerateDefaults,
  deepFreeze,
  readDatabase,
  readDurableAttestation,
  readTlsDir,
  readTlsFile,
  readTrustedCa,
} from './shared-options';
import type { DatabaseConfig, DurableAttestationConfig, TlsDir, TrustedCa } from './shared-options';

/** [registrar] defaults as upstream's templates/2.6 write them. */
export const REGISTRAR_DEFAULTS = {
  version: '2.6',
  ip: '127.0.0.1',
  port: '8890',
  tls_port: '8891',
  tls_dir: 'default',
  server_key: 'default',
  server_key_password: '',
  server_cert: 'default',
  cert_subject_alternative_names: '',
  trusted_client_ca: 'default',
  authorization_provider: 'simple',
  database_url: 'sqlite',
  database_pool_sz_ovfl: '5,10',
  max_workers: '16',
  auto_migrate_db: 'True',
  durable_attestation_import: '',
  persistent_store_url: '',
  transparency_log_url: '',
  time_stamp_authority_url: '',
  time_stamp_authority_certs_path: '',
  persistent_store_format: 'json',
  persistent_store_encoding: '',
  transparency_log_sign_algo: 'sha256',
  signed_attributes: 'ek_tpm,aik_tpm,ekcert',
  tpm_identity: 'default',
  malformed_cert_action: 'warn',
  // Not in the template; upstream's web server falls back to 100 MiB.
  max_upload_size: '104857600',
} as const;

/** Which TPM identities may register (tpm_identity). */
export const TpmIdentity = {
  Default: 'default',
  EkCertOrIakIdevid: 'ek_cert_or_iak_idevid',
  EkCert: 'ek_cert',
  IakIdevid: 'iak_idevid',
} as const;
export type TpmIdentityValue = (typeof TpmIdentity)[keyof typeof TpmIdentity];

/** What to do with a certificate that is not strict DER (malformed_cert_action). */
export const MalformedCertAction = { Warn: 'warn', Reject: 'reject', Ignore: 'ignore' } as const;
export type MalformedCertActionValue =
  (typeof MalformedCertAction)[keyof typeof MalformedCertAction];

export interface RegistrarConfig {
  readonly version: string;
  readonly ip: string;
  /** Plain HTTP port for agents. */
  readonly port: number;
  /** HTTPS (mTLS) port for the tenant. */
  readonly tlsPort: number;
  readonly tls: TlsDir;
  readonly serverKey: string | undefined;
  readonly serverKeyPassword: string | undefined;
  readonly serverCert: string | undefined;
  readonly certSubjectAlternativeNames: readonly string[];
  readonly trustedClientCa: TrustedCa;
  readonly authorizationProvider: string;
  readonly database: DatabaseConfig;
  readonly maxWorkers: number;
  readonly autoMigrateDb: boolean;
  readonly maxUploadSize: number;
  readonly durableAttestation: DurableAttestationConfig;
  readonly tpmIdentity: TpmIdentityValue;
  readonly malformedCertAction: MalformedCertActionValue;
  readonly raw: RawComponentConfig;
}

/** Builds the typed registrar configuration from already loaded files. */
export function registrarConfigFrom(raw: RawComponentConfig): RegistrarConfig {
  const r = new OptionReader(raw, REGISTRAR_DEFAULTS);
  const tls = readTlsDir(r, 'reg_ca');
  checkGenerateDefaults(r, tls, ['server_cert', 'server_key', 'trusted_client_ca']);
  return deepFreeze<RegistrarConfig>({
    version: r.string('version'),
    ip: r.string('ip'),
    port: r.port('port'),
    tlsPort: r.port('tls_port'),
    tls,
    serverKey: readTlsFile(r, 'server_key', tls, 'server-private.pem'),
    serverKeyPassword: r.optionalString('server_key_password'),
    serverCert: readTlsFile(r, 'server_cert', tls, 'server-cert.crt'),
    certSubjectAlternativeNames: r.commaList('cert_subject_alternative_names'),
    trustedClientCa: readTrustedCa(r, 'trusted_client_ca', tls),
    authorizationProvider: r.string('authorization_provider'),
    database: readDatabase(r, 'reg_data.sqlite'),
    maxWorkers: r.integer('max_workers', 0),
    autoMigrateDb: r.boolean('auto_migrate_db'),
    maxUploadSize: r.integer('max_upload_size', 0),
    durableAttestation: readDurableAttestation(r),
    tpmIdentity: r.choice('tpm_identity', Object.values(TpmIdentity)),
    malformedCertAction: r.choice('malformed_cert_action', Object.values(MalformedCertAction)),
    raw,
  });
}

/** Loads registrar.conf (+ snippets, env overrides) and returns the frozen, typed configuration. */
export function loadRegistrarConfig(options: ConfigLoadOptions = {}): RegistrarConfig {
  return registrarConfigFrom(loadComponentConfig('registrar', options));
}
