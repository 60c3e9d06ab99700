/** @module verifier-config: typed verifier.conf ([verifier] and [revocations]) with upstream 2.6 defaults. */

import { loadComponentConfig } from './component-loader';
import type { ConfigLoadOptions, RawComponentConfig } from './component-loader';
import { OptionReader } from './option-reader';
import type { PyValue } from './python-literal';
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

/** [verifier] defaults as upstream's templates/2.6 write them (`keylime_upgrade_config --defaults`). */
export const VERIFIER_DEFAULTS = {
  version: '2.6',
  uuid: 'default',
  ip: '127.0.0.1',
  port: '8881',
  registrar_ip: '127.0.0.1',
  registrar_port: '8891',
  enable_agent_mtls: 'True',
  tls_dir: 'generate',
  server_key: 'default',
  server_key_password: '',
  server_cert: 'default',
  cert_subject_alternative_names: '',
  trusted_client_ca: 'default',
  client_key: 'default',
  client_key_password: '',
  client_cert: 'default',
  trusted_server_ca: 'default',
  authorization_provider: 'simple',
  database_url: 'sqlite',
  database_pool_sz_ovfl: '5,10',
  auto_migrate_db: 'True',
  num_workers: '0',
  max_workers: '16',
  exponential_backoff: 'True',
  retry_interval: '2',
  max_retries: '5',
  quote_interval: '2',
  max_upload_size: '104857600',
  request_timeout: '60.0',
  measured_boot_policy_name: 'accept-all',
  measured_boot_imports: '[]',
  measured_boot_evaluate: 'once',
  severity_labels: '["info", "notice", "warning", "error", "critical", "alert", "emergency"]',
  severity_policy: '[{"event_id": ".*", "severity_label" : "emergency"}]',
  ignore_tomtou_errors: 'False',
  durable_attestation_import: '',
  persistent_store_url: '',
  transparency_log_url: '',
  time_stamp_authority_url: '',
  time_stamp_authority_certs_path: '',
  persistent_store_format: 'json',
  persistent_store_encoding: '',
  transparency_log_sign_algo: 'sha256',
  signed_attributes: '',
  require_allow_list_signatures: 'False',
  mode: 'pull',
  challenge_lifetime: '1800',
  verification_timeout: '0',
  session_create_rate_limit_per_ip: '50',
  session_create_rate_limit_window_ip: '60',
  session_create_rate_limit_per_agent: '15',
  session_create_rate_limit_window_agent: '60',
  session_lifetime: '180',
  extend_token_on_attestation: 'True',
  auto_recover_attestation_failures: 'False',
  shutdown_drain_timeout: '10',
  // Not in the template; upstream code falls back to 60 (auth_session.py).
  nonce_lifetime: '60',
  // keylime-ts only: which TLS client talks to agents (builtin TLS 1.3, or Node's OpenSSL TLS).
  agent_tls_engine: 'builtin',
} as const;

/** [revocations] defaults (templates/2.6). */
export const VERIFIER_REVOCATIONS_DEFAULTS = {
  enabled_revocation_notifications: "['agent']",
  zmq_ip: '127.0.0.1',
  zmq_port: '8992',
  webhook_url: '',
} as const;

export const VerifierMode = { Pull: 'pull', Push: 'push' } as const;
export type VerifierModeValue = (typeof VerifierMode)[keyof typeof VerifierMode];

export const MeasuredBootEvaluate = { Once: 'once', Always: 'always' } as const;
export type MeasuredBootEvaluateValue =
  (typeof MeasuredBootEvaluate)[keyof typeof MeasuredBootEvaluate];

/** One severity_policy rule: event ids matching the regex get the label. */
export interface SeverityRule {
  readonly eventId: string;
  readonly severityLabel: string;
}

export interface RevocationsConfig {
  /** Notification methods: `agent`, `zeromq`, `webhook`. */
  readonly enabledRevocationNotifications: readonly string[];
  readonly zmqIp: string;
  readonly zmqPort: number;
  readonly webhookUrl: string | undefined;
}

export interface VerifierConfig {
  readonly version: string;
  /** Verifier id; `default` as upstream's DEFAULT_VERIFIER_ID. */
  readonly uuid: string;
  readonly ip: string;
  readonly port: number;
  readonly registrarIp: string;
  readonly registrarPort: number;
  readonly enableAgentMtls: boolean;
  readonly tls: TlsDir;
  readonly serverKey: string | undefined;
  readonly serverKeyPassword: string | undefined;
  readonly serverCert: string | undefined;
  /** Extra SANs for a generated server certificate. */
  readonly certSubjectAlternativeNames: readonly string[];
  readonly trustedClientCa: TrustedCa;
  readonly clientKey: string | undefined;
  readonly clientKeyPassword: string | undefined;
  readonly clientCert: string | undefined;
  readonly trustedServerCa: TrustedCa;
  readonly authorizationProvider: string;
  readonly database: DatabaseConfig;
  readonly autoMigrateDb: boolean;
  readonly numWorkers: number;
  readonly maxWorkers: number;
  readonly exponentialBackoff: boolean;
  readonly retryIntervalSeconds: number;
  readonly maxRetries: number;
  readonly quoteIntervalSeconds: number;
  readonly maxUploadSize: number;
  readonly requestTimeoutSeconds: number;
  readonly measuredBootPolicyName: string;
  readonly measuredBootImports: readonly string[];
  readonly measuredBootEvaluate: MeasuredBootEvaluateValue;
  readonly severityLabels: readonly string[];
  readonly severityPolicy: readonly SeverityRule[];
  readonly ignoreTomtouErrors: boolean;
  readonly durableAttestation: DurableAttestationConfig;
  readonly requireAllowListSignatures: boolean;
  readonly mode: VerifierModeValue;
  readonly challengeLifetimeSeconds: number;
  /** 0 = automatic. */
  readonly verificationTimeoutSeconds: number;
  readonly sessionCreateRateLimitPerIp: number;
  readonly sessionCreateRateLimitWindowIpSeconds: number;
  readonly sessionCreateRateLimitPerAgent: number;
  readonly sessionCreateRateLimitWindowAgentSeconds: number;
  readonly sessionLifetimeSeconds: number;
  readonly nonceLifetimeSeconds: number;
  /**
   * keylime-ts's own option: `builtin` (default) connects to agents with @keylime/crypto's TLS 1.3
   * client (≈ 50 KiB less memory per agent; falls back per agent when needed), `openssl` with
   * Node's TLS for every agent.
   */
  readonly agentTlsEngine: 'builtin' | 'openssl';
  readonly extendTokenOnAttestation: boolean;
  readonly autoRecoverAttestationFailures: boolean;
  readonly shutdownDrainTimeoutSeconds: number;
  readonly revocations: RevocationsConfig;
  /** The layered files and env overrides this was built from (for options not typed here). */
  readonly raw: RawComponentConfig;
}

function readSeverityPolicy(reader: OptionReader): readonly SeverityRule[] {
  return reader.dictList('severity_policy').map((rule: Readonly<Record<string, PyValue>>) => {
    const eventId = rule['event_id'];
    const severityLabel = rule['severity_label'];
    if (typeof eventId !== 'string' || typeof severityLabel !== 'string') {
      return reader.fail(
        'severity_policy',
        'every rule needs string "event_id" and "severity_label"',
      );
    }
    return { eventId, severityLabel };
  });
}

/** Builds the typed verifier configuration from already loaded files. */
export function verifierConfigFrom(raw: RawComponentConfig): VerifierConfig {
  const r = new OptionReader(raw, VERIFIER_DEFAULTS);
  const rev = new OptionReader(raw, VERIFIER_REVOCATIONS_DEFAULTS, 'revocations');
  const tls = readTlsDir(r, 'cv_ca');
  checkGenerateDefaults(r, tls, [
    'server_cert',
    'server_key',
    'trusted_client_ca',
    'client_cert',
    'client_key',
    'trusted_server_ca',
  ]);
  const severityLabels = r.stringList('severity_labels');
  const severityPolicy = readSeverityPolicy(r);
  // Upstream refuses empty lists here (failure.set_severity_config).
  if (severityLabels.length === 0) r.fail('severity_labels', 'must name at least one label');
  if (severityPolicy.length === 0) r.fail('severity_policy', 'must hold at least one rule');
  for (const rule of severityPolicy) {
    if (!severityLabels.includes(rule.severityLabel)) {
      r.fail(
        'severity_policy',
        `label ${JSON.stringify(rule.severityLabel)} is not in severity_labels`,
      );
    }
  }
  const mode = r.string('mode');
  return deepFreeze<VerifierConfig>({
    version: r.string('version'),
    uuid: r.string('uuid'),
    ip: r.string('ip'),
    port: r.port('port'),
    registrarIp: r.string('registrar_ip'),
    registrarPort: r.port('registrar_port'),
    enableAgentMtls: r.boolean('enable_agent_mtls'),
    tls,
    serverKey: readTlsFile(r, 'server_key', tls, 'server-private.pem'),
    serverKeyPassword: r.optionalString('server_key_password'),
    serverCert: readTlsFile(r, 'server_cert', tls, 'server-cert.crt'),
    certSubjectAlternativeNames: r.commaList('cert_subject_alternative_names'),
    trustedClientCa: readTrustedCa(r, 'trusted_client_ca', tls),
    clientKey: readTlsFile(r, 'client_key', tls, 'client-private.pem'),
    clientKeyPassword: r.optionalString('client_key_password'),
    clientCert: readTlsFile(r, 'client_cert', tls, 'client-cert.crt'),
    trustedServerCa: readTrustedCa(r, 'trusted_server_ca', tls),
    authorizationProvider: r.string('authorization_provider'),
    database: readDatabase(r, 'cv_data.sqlite'),
    autoMigrateDb: r.boolean('auto_migrate_db'),
    numWorkers: r.integer('num_workers', 0),
    maxWorkers: r.integer('max_workers', 0),
    exponentialBackoff: r.boolean('exponential_backoff'),
    retryIntervalSeconds: r.number('retry_interval', 0),
    maxRetries: r.integer('max_retries', 0),
    quoteIntervalSeconds: r.number('quote_interval', 0),
    maxUploadSize: r.integer('max_upload_size', 0),
    requestTimeoutSeconds: r.number('request_timeout', 0),
    measuredBootPolicyName: r.string('measured_boot_policy_name'),
    measuredBootImports: r.stringList('measured_boot_imports').filter((name) => name !== ''),
    measuredBootEvaluate: r.choice('measured_boot_evaluate', Object.values(MeasuredBootEvaluate)),
    severityLabels,
    severityPolicy,
    ignoreTomtouErrors: r.boolean('ignore_tomtou_errors'),
    durableAttestation: readDurableAttestation(r),
    requireAllowListSignatures: r.boolean('require_allow_list_signatures'),
    // Upstream treats an empty mode as pull (a template regression it works around).
    mode: mode === '' ? VerifierMode.Pull : r.choice('mode', Object.values(VerifierMode)),
    challengeLifetimeSeconds: r.integer('challenge_lifetime', 0),
    verificationTimeoutSeconds: r.integer('verification_timeout', 0),
    sessionCreateRateLimitPerIp: r.integer('session_create_rate_limit_per_ip', 0),
    sessionCreateRateLimitWindowIpSeconds: r.integer('session_create_rate_limit_window_ip', 0),
    sessionCreateRateLimitPerAgent: r.integer('session_create_rate_limit_per_agent', 0),
    sessionCreateRateLimitWindowAgentSeconds: r.integer(
      'session_create_rate_limit_window_agent',
      0,
    ),
    sessionLifetimeSeconds: r.integer('session_lifetime', 0),
    nonceLifetimeSeconds: r.integer('nonce_lifetime', 0),
    agentTlsEngine: r.choice('agent_tls_engine', ['builtin', 'openssl'] as const),
    extendTokenOnAttestation: r.boolean('extend_token_on_attestation'),
    autoRecoverAttestationFailures: r.boolean('auto_recover_attestation_failures'),
    shutdownDrainTimeoutSeconds: r.number('shutdown_drain_timeout', 0),
    revocations: {
      enabledRevocationNotifications: rev.stringList('enabled_revocation_notifications'),
      zmqIp: rev.string('zmq_ip'),
      zmqPort: rev.port('zmq_port'),
      webhookUrl: rev.optionalString('webhook_url'),
    },
    raw,
  });
}

/** Loads verifier.conf (+ snippets, env overrides) and returns the frozen, typed configuration. */
export function loadVerifierConfig(options: ConfigLoadOptions = {}): VerifierConfig {
  return verifierConfigFrom(loadComponentConfig('verifier', options));
}
