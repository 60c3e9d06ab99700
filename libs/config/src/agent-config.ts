/** @module agent-config: the agent's TOML agent.conf ([agent]), layered and resolved as rust-keylime does. */

import * as net from 'node:net';
import * as path from 'node:path';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import { ConfigError, ConfigErrorCode, describeValue } from './config-error';
import type { ValueOrigin } from './config-error';
import { DEFAULT_ETC_DIRS, isFile, listSnippets, readText } from './component-loader';
import type { Environment } from './component-loader';
import { deepFreeze } from './shared-options';
import { parseBoolean, parseInteger } from './values';

// smol-toml ships ESM types but also a CommonJS build; this CommonJS lib loads that build.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { TomlError, parse: parseToml } = require('smol-toml') as typeof SmolToml;

/** API versions the Rust agent serves (rust-keylime config/base.rs SUPPORTED_API_VERSIONS). */
export const SUPPORTED_AGENT_API_VERSIONS: readonly string[] = [
  '2.1',
  '2.2',
  '2.3',
  '2.4',
  '2.5',
  '2.6',
];

/** TPM access when neither `tcti` nor TCTI is set (as tpm2-tss spells it). */
export const DEFAULT_TCTI = 'device:/dev/tpmrm0';

/**
 * Built-in defaults, named and valued as rust-keylime's AgentConfig::default() (base.rs), plus
 * `tcti`. `run_as` is `keylime:tss` only when running as root (see AgentLoadOptions.euid).
 */
export const AGENT_DEFAULTS = {
  version: '2.0',
  api_versions: 'default',
  uuid: 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000',
  ip: '127.0.0.1',
  port: 9002,
  contact_ip: '127.0.0.1',
  contact_port: 9002,
  registrar_ip: '127.0.0.1',
  registrar_port: 8890,
  registrar_tls_port: 8891,
  registrar_tls_enabled: false,
  registrar_tls_ca_cert: 'default',
  enable_agent_mtls: true,
  keylime_dir: '/var/lib/keylime',
  server_key: 'default',
  server_key_password: '',
  server_cert: 'default',
  payload_key: 'default',
  payload_key_password: '',
  trusted_client_ca: 'default',
  enc_keyname: 'derived_tci_key',
  dec_payload_file: 'decrypted_payload',
  secure_size: '1m',
  extract_payload_zip: true,
  enable_revocation_notifications: false,
  revocation_actions_dir: '/usr/libexec/keylime',
  revocation_notification_ip: '127.0.0.1',
  revocation_notification_port: 8992,
  revocation_cert: 'default',
  revocation_actions: '',
  payload_script: 'autorun.sh',
  enable_insecure_payload: false,
  allow_payload_revocation_actions: true,
  tpm_hash_alg: 'sha256',
  tpm_encryption_alg: 'rsa',
  tpm_signing_alg: 'rsassa',
  ek_handle: 'generate',
  enable_iak_idevid: false,
  iak_idevid_template: 'H-1',
  iak_idevid_asymmetric_alg: 'rsa',
  iak_idevid_name_alg: 'sha256',
  idevid_password: '',
  idevid_handle: '',
  iak_password: '',
  iak_handle: '',
  iak_cert: 'default',
  idevid_cert: 'default',
  tpm_ownerpassword: '',
  run_as: 'keylime:tss',
  agent_data_path: 'default',
  ima_ml_path: 'default',
  measuredboot_ml_path: 'default',
  attestation_interval_seconds: 60,
  verifier_url: 'https://localhost:8881',
  verifier_tls_ca_cert: 'default',
  registrar_api_versions: 'default',
  certification_keys_server_identifier: 'ak',
  uefi_logs_evidence_version: '2.1',
  exponential_backoff_initial_delay: 10000,
  exponential_backoff_max_retries: 5,
  exponential_backoff_max_delay: 300000,
  tls_accept_invalid_certs: false,
  tls_accept_invalid_hostnames: false,
  tcti: DEFAULT_TCTI,
} as const;

export type AgentOptionName = keyof typeof AGENT_DEFAULTS;

/** Default file names, relative to keylime_dir (or `/` for the securityfs logs), used for `default`. */
const DEFAULT_PATHS = {
  agent_data_path: 'agent_data.json',
  ima_ml_path: 'sys/kernel/security/ima/ascii_runtime_measurements',
  measuredboot_ml_path: 'sys/kernel/security/tpm0/binary_bios_measurements',
  server_key: 'server-private.pem',
  server_cert: 'server-cert.crt',
  payload_key: 'payload-private.pem',
  trusted_client_ca: 'cv_ca/cacert.crt',
  iak_cert: 'iak-cert.crt',
  idevid_cert: 'idevid-cert.crt',
  registrar_tls_ca_cert: 'cv_ca/cacert.crt',
  verifier_tls_ca_cert: 'cv_ca/cacert.crt',
  revocation_cert: 'secure/unzipped/RevocationNotifier-cert.crt',
} as const;

export interface AgentLoadOptions {
  /** Environment for KEYLIME_AGENT_*, KEYLIME_AGENT_CONFIG, KEYLIME_DIR and TCTI; defaults to process.env. */
  readonly env?: Environment;
  /** Config directories, highest priority first (default `/etc/keylime`, `/usr/etc/keylime`). */
  readonly etcDirs?: readonly string[];
  /** Effective uid: run_as defaults to `keylime:tss` only for root (0); defaults to process.geteuid(). */
  readonly euid?: number;
  /** API versions this agent implements; `api_versions` is filtered against them. */
  readonly supportedApiVersions?: readonly string[];
  /** Base for a relative KEYLIME_DIR / keylime_dir; defaults to process.cwd(). */
  readonly cwd?: string;
}

/** One option's winning value before conversion, and where it came from. */
export interface AgentRawValue {
  readonly value: unknown;
  readonly origin: ValueOrigin;
}

export interface AgentConfig {
  readonly version: string;
  /** Resolved, ascending, all supported by this agent. */
  readonly apiVersions: readonly string[];
  /** As configured: a UUID, or the keywords `generate` / `hash_ek`, which the agent resolves. */
  readonly uuid: string;
  readonly ip: string;
  readonly port: number;
  readonly contactIp: string;
  readonly contactPort: number;
  readonly registrarIp: string;
  readonly registrarPort: number;
  readonly registrarTlsPort: number;
  readonly registrarTlsEnabled: boolean;
  readonly registrarTlsCaCert: string;
  readonly enableAgentMtls: boolean;
  /** Absolute; KEYLIME_DIR wins over the option. */
  readonly keylimeDir: string;
  readonly serverKey: string;
  readonly serverKeyPassword: string;
  readonly serverCert: string;
  readonly payloadKey: string;
  readonly payloadKeyPassword: string;
  readonly trustedClientCa: readonly string[];
  readonly encKeyname: string;
  readonly decPayloadFile: string;
  readonly secureSize: string;
  readonly extractPayloadZip: boolean;
  readonly enableRevocationNotifications: boolean;
  readonly revocationActionsDir: string;
  readonly revocationNotificationIp: string;
  readonly revocationNotificationPort: number;
  readonly revocationCert: string;
  readonly revocationActions: readonly string[];
  readonly payloadScript: string;
  readonly enableInsecurePayload: boolean;
  readonly allowPayloadRevocationActions: boolean;
  readonly tpmHashAlg: string;
  readonly tpmEncryptionAlg: string;
  readonly tpmSigningAlg: string;
  /** A persistent handle, or "" to create the EK (`generate` maps to ""). */
  readonly ekHandle: string;
  readonly enableIakIdevid: boolean;
  readonly iakIdevidTemplate: string;
  readonly iakIdevidAsymmetricAlg: string;
  readonly iakIdevidNameAlg: string;
  readonly idevidPassword: string;
  readonly idevidHandle: string;
  readonly iakPassword: string;
  readonly iakHandle: string;
  /** "" when not configured. */
  readonly iakCert: string;
  /** "" when not configured. */
  readonly idevidCert: string;
  readonly tpmOwnerpassword: string;
  readonly runAs: string;
  readonly agentDataPath: string;
  readonly imaMlPath: string;
  readonly measuredbootMlPath: string;
  readonly attestationIntervalSeconds: number;
  readonly verifierUrl: string;
  readonly verifierTlsCaCert: string;
  readonly registrarApiVersions: readonly string[];
  readonly certificationKeysServerIdentifier: string;
  readonly uefiLogsEvidenceVersion: string;
  readonly exponentialBackoffInitialDelayMs: number;
  readonly exponentialBackoffMaxRetries: number;
  readonly exponentialBackoffMaxDelayMs: number;
  readonly tlsAcceptInvalidCerts: boolean;
  readonly tlsAcceptInvalidHostnames: boolean;
  /** TPM access string: `device:/dev/tpmrm0` or `swtpm:host=…,port=…`. */
  readonly tcti: string;
  /** Files read, in the order applied. */
  readonly files: readonly string[];
  /** Notes an app should log at warning level. */
  readonly warnings: readonly string[];
  /** Winning raw value of every option set by a file or the environment, unknown ones included (defaults: AGENT_DEFAULTS). */
  readonly raw: ReadonlyMap<string, AgentRawValue>;
}

/**
 * rust-keylime's list syntax: optional `[ ]`, items separated by commas, spaces or newlines,
 * items optionally quoted (quotes are removed here; Rust keeps them, which only breaks paths).
 */
export function parseAgentList(text: string): readonly string[] {
  let body = text.trim();
  if (body.startsWith('[') && body.endsWith(']')) body = body.slice(1, -1);
  const items: string[] = [];
  const token = /'([^']*)'|"([^"]*)"|([^,\s]+)/g;
  for (let match = token.exec(body); match !== null; match = token.exec(body)) {
    const item = match[1] ?? match[2] ?? match[3] ?? '';
    if (item !== '') items.push(item);
  }
  return items;
}

/**
 * api_versions: `default` → all supported, `latest` → the newest, else a list filtered to
 * supported versions and sorted; when nothing usable remains, all supported (as rust-keylime).
 */
export function parseApiVersions(
  text: string,
  supported: readonly string[] = SUPPORTED_AGENT_API_VERSIONS,
  warnings: string[] = [],
): readonly string[] {
  const value = text.trim();
  if (value === 'default') return [...supported];
  if (value === 'latest')
    return supported.length > 0 ? [supported[supported.length - 1] ?? ''] : [];
  const picked: string[] = [];
  for (const version of parseAgentList(value)) {
    if (supported.includes(version)) {
      if (!picked.includes(version)) picked.push(version);
    } else {
      warnings.push(`skipping API version "${version}" from api_versions: not supported`);
    }
  }
  if (picked.length === 0) {
    warnings.push('no supported version found in api_versions; using all supported versions');
    return [...supported];
  }
  const key = (v: string): number[] => v.split('.').map(Number);
  return picked.sort((a, b) => {
    const [am = 0, an = 0] = key(a);
    const [bm = 0, bn = 0] = key(b);
    return am - bm || an - bn;
  });
}

/** Line of `key = …` inside the [agent] table, for error messages (smol-toml gives no positions). */
function findTomlLine(text: string, key: string): number | undefined {
  let table = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const header = /^\s*\[\s*([^\]]*?)\s*\]/.exec(line);
    if (header !== null) {
      table = header[1] ?? '';
      continue;
    }
    const match = /^\s*["']?([A-Za-z0-9_-]+)["']?\s*=/.exec(line);
    if (table === 'agent' && match?.[1]?.toLowerCase() === key) return i + 1;
  }
  return undefined;
}

/** Parses one TOML source and merges its [agent] keys (lower-cased, as config-rs 0.13 does). */
function mergeTomlFile(file: string, text: string, into: Map<string, AgentRawValue>): void {
  let document: Record<string, unknown>;
  try {
    document = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? { line: error.line } : {};
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
    throw new ConfigError(ConfigErrorCode.Syntax, {
      origin: { kind: 'file', file, ...where },
      problem: `invalid TOML: ${reason}`,
      cause: error,
    });
  }
  const agent = document['agent'];
  if (agent === undefined) return;
  if (agent === null || typeof agent !== 'object' || Array.isArray(agent)) {
    throw new ConfigError(ConfigErrorCode.Syntax, {
      origin: { kind: 'file', file },
      problem: '"agent" must be a table',
    });
  }
  for (const [key, value] of Object.entries(agent as Record<string, unknown>)) {
    const name = key.toLowerCase();
    const line = findTomlLine(text, name);
    into.set(name, {
      value,
      origin: line === undefined ? { kind: 'file', file } : { kind: 'file', file, line },
    });
  }
}

/** Reads a TOML source; a missing optional file is skipped. */
function mergeOptionalFile(
  file: string,
  values: Map<string, AgentRawValue>,
  files: string[],
  warnings: string[],
): void {
  if (!isFile(file)) return;
  const result = readText(file);
  if (result.kind === 'read') {
    mergeTomlFile(file, result.text, values);
    files.push(file);
  } else if (result.kind === 'unreadable') {
    warnings.push(`${file}: exists but cannot be read (${result.reason}), skipped`);
  }
}

/** Typed access to the merged raw values with one-line errors. */
class AgentReader {
  constructor(private readonly values: ReadonlyMap<string, AgentRawValue>) {}

  entry(option: AgentOptionName): AgentRawValue {
    return (
      this.values.get(option) ?? { value: AGENT_DEFAULTS[option], origin: { kind: 'default' } }
    );
  }

  fail(
    option: AgentOptionName,
    problem: string,
    code: (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode] = ConfigErrorCode.InvalidValue,
  ): never {
    throw new ConfigError(code, {
      origin: this.entry(option).origin,
      section: 'agent',
      option,
      problem,
    });
  }

  private shown(option: AgentOptionName, value: unknown): string {
    return typeof value === 'string'
      ? describeValue(value, option)
      : (JSON.stringify(value) ?? String(value));
  }

  /** Strings; numbers and booleans become their text (config-rs converts them too). */
  string(option: AgentOptionName): string {
    const { value } = this.entry(option);
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
      return String(value);
    return this.fail(option, `expected a string, got ${this.shown(option, value)}`);
  }

  /** A list option: a string in rust-keylime list syntax, or a TOML array of strings. */
  list(option: AgentOptionName): readonly string[] {
    const { value } = this.entry(option);
    if (Array.isArray(value)) {
      if (value.every((item): item is string => typeof item === 'string'))
        return value.filter((item) => item !== '');
      return this.fail(option, `expected a list of strings, got ${this.shown(option, value)}`);
    }
    return parseAgentList(this.string(option));
  }

  /** Raw list text for api_versions-style options (a TOML array is joined). */
  listText(option: AgentOptionName): string {
    const { value } = this.entry(option);
    return Array.isArray(value) ? this.list(option).join(', ') : this.string(option);
  }

  boolean(option: AgentOptionName): boolean {
    const { value } = this.entry(option);
    if (typeof value === 'boolean') return value;
    if (typeof value === 'string') {
      const parsed = parseBoolean(value);
      if (parsed.ok) return parsed.value;
    }
    return this.fail(option, `expected a boolean (true/false), got ${this.shown(option, value)}`);
  }

  integer(option: AgentOptionName, max: number): number {
    const { value } = this.entry(option);
    let n: number | undefined;
    if (typeof value === 'number' && Number.isInteger(value)) n = value;
    if (typeof value === 'bigint') n = Number(value);
    if (typeof value === 'string') {
      const parsed = parseInteger(value);
      if (parsed.ok) n = parsed.value;
    }
    if (n === undefined || n < 0 || n > max) {
      return this.fail(option, `expected an integer 0-${max}, got ${this.shown(option, value)}`);
    }
    return n;
  }

  port(option: AgentOptionName): number {
    return this.integer(option, 65535);
  }

  /** rust-keylime parse_ip (brackets removed) or parse_hostname. */
  host(option: AgentOptionName): string {
    const value = this.string(option).trim();
    const unbracketed = /^\[(.*)\]$/.exec(value)?.[1] ?? value;
    if (net.isIP(unbracketed) !== 0) return unbracketed;
    if (/^[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*(?:\.[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*)*$/.test(value))
      return value;
    return this.fail(
      option,
      `expected an IP address or host name, got ${this.shown(option, value)}`,
    );
  }
}

/**
 * rust-keylime config_get_file_path: `default` → `<base>/<default>`; empty → "" when
 * `leaveEmpty`, else the default; relative → under `base`; absolute → unchanged.
 */
function resolveAgentPath(
  value: string,
  base: string,
  defaultName: string,
  leaveEmpty: boolean,
): string {
  if (value === 'default') return path.join(base, defaultName);
  if (value === '') return leaveEmpty ? '' : path.join(base, defaultName);
  return path.isAbsolute(value) ? value : path.join(base, value);
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * Loads the agent configuration: built-in defaults → `/usr/etc/keylime/agent.conf` →
 * `/usr/etc/keylime/agent.conf.d/*` → `/etc/keylime/agent.conf` → `/etc/keylime/agent.conf.d/*`
 * (all optional) → KEYLIME_AGENT_<OPTION>. KEYLIME_AGENT_CONFIG replaces all files (must exist);
 * KEYLIME_DIR overrides keylime_dir; TCTI overrides the `tcti` option (KEYLIME_AGENT_TCTI wins over both).
 */
export function loadAgentConfig(options: AgentLoadOptions = {}): AgentConfig {
  const env = options.env ?? process.env;
  const etcDirs = options.etcDirs ?? DEFAULT_ETC_DIRS;
  const cwd = options.cwd ?? process.cwd();
  const euid = options.euid ?? process.geteuid?.() ?? -1;
  const supported = options.supportedApiVersions ?? SUPPORTED_AGENT_API_VERSIONS;
  const values = new Map<string, AgentRawValue>();
  const files: string[] = [];
  const warnings: string[] = [];

  if (euid !== 0) values.set('run_as', { value: '', origin: { kind: 'default' } });

  const explicit = env['KEYLIME_AGENT_CONFIG'];
  if (explicit !== undefined && explicit !== '') {
    if (!isFile(explicit)) {
      throw new ConfigError(ConfigErrorCode.FileNotFound, {
        origin: { kind: 'env', variable: 'KEYLIME_AGENT_CONFIG' },
        problem: `configuration file ${JSON.stringify(explicit)} not found`,
      });
    }
    const result = readText(explicit);
    if (result.kind !== 'read') {
      throw new ConfigError(ConfigErrorCode.Unreadable, {
        origin: { kind: 'file', file: explicit },
        problem: `cannot read the file named by KEYLIME_AGENT_CONFIG${result.kind === 'unreadable' ? ` (${result.reason})` : ''}`,
      });
    }
    mergeTomlFile(explicit, result.text, values);
    files.push(explicit);
  } else {
    for (const dir of [...etcDirs].reverse()) {
      mergeOptionalFile(path.join(dir, 'agent.conf'), values, files, warnings);
      for (const snippet of listSnippets(path.join(dir, 'agent.conf.d'))) {
        mergeOptionalFile(snippet, values, files, warnings);
      }
    }
  }

  const tctiEnv = env['TCTI'];
  if (tctiEnv !== undefined && tctiEnv !== '')
    values.set('tcti', { value: tctiEnv, origin: { kind: 'env', variable: 'TCTI' } });
  for (const [variable, value] of Object.entries(env)) {
    if (
      value === undefined ||
      !variable.startsWith('KEYLIME_AGENT_') ||
      variable === 'KEYLIME_AGENT_CONFIG'
    )
      continue;
    const name = variable.slice('KEYLIME_AGENT_'.length).toLowerCase();
    if (name === '' || name.includes('.')) continue;
    values.set(name, { value, origin: { kind: 'env', variable } });
  }

  const r = new AgentReader(values);
  const keylimeDirEnv = env['KEYLIME_DIR'];
  const configuredDir = r.string('keylime_dir');
  const keylimeDir = path.resolve(
    cwd,
    keylimeDirEnv !== undefined && keylimeDirEnv !== ''
      ? keylimeDirEnv
      : configuredDir !== ''
        ? configuredDir
        : AGENT_DEFAULTS.keylime_dir,
  );
  const filePath = (option: keyof typeof DEFAULT_PATHS, leaveEmpty = false): string => {
    const value = r.string(option);
    if (value === '' && !leaveEmpty)
      warnings.push(`empty ${option}, using the default ${DEFAULT_PATHS[option]}`);
    return resolveAgentPath(value, keylimeDir, DEFAULT_PATHS[option], leaveEmpty);
  };
  const rootPath = (option: 'ima_ml_path' | 'measuredboot_ml_path'): string =>
    resolveAgentPath(r.string(option), '/', DEFAULT_PATHS[option], false);

  const uuid = r.string('uuid');
  if (uuid !== 'generate' && uuid !== 'hash_ek' && !UUID_RE.test(uuid)) {
    warnings.push(
      `uuid ${JSON.stringify(uuid)} is neither a UUID nor "generate"/"hash_ek"; the Rust agent generates a random one`,
    );
  }

  if (r.boolean('enable_revocation_notifications')) {
    for (const option of [
      'revocation_notification_ip',
      'revocation_cert',
      'revocation_actions_dir',
    ] as const) {
      if (r.string(option) === '') {
        r.fail(
          option,
          'must not be empty when enable_revocation_notifications = true',
          ConfigErrorCode.IncompatibleOptions,
        );
      }
    }
  }

  const ekHandle = r.string('ek_handle');
  const tcti = r.string('tcti').trim();
  if (tcti === '') r.fail('tcti', 'must not be empty (e.g. "device:/dev/tpmrm0")');

  return deepFreeze<AgentConfig>({
    version: r.string('version'),
    apiVersions: parseApiVersions(r.listText('api_versions'), supported, warnings),
    uuid,
    ip: r.host('ip'),
    port: r.port('port'),
    contactIp: r.host('contact_ip'),
    contactPort: r.port('contact_port'),
    registrarIp: r.host('registrar_ip'),
    registrarPort: r.port('registrar_port'),
    registrarTlsPort: r.port('registrar_tls_port'),
    registrarTlsEnabled: r.boolean('registrar_tls_enabled'),
    registrarTlsCaCert: filePath('registrar_tls_ca_cert'),
    enableAgentMtls: r.boolean('enable_agent_mtls'),
    keylimeDir,
    serverKey: filePath('server_key'),
    serverKeyPassword: r.string('server_key_password'),
    serverCert: filePath('server_cert'),
    payloadKey: filePath('payload_key'),
    payloadKeyPassword: r.string('payload_key_password'),
    trustedClientCa: r
      .list('trusted_client_ca')
      .map((item) => resolveAgentPath(item, keylimeDir, DEFAULT_PATHS.trusted_client_ca, false)),
    encKeyname: r.string('enc_keyname'),
    decPayloadFile: r.string('dec_payload_file'),
    secureSize: r.string('secure_size'),
    extractPayloadZip: r.boolean('extract_payload_zip'),
    enableRevocationNotifications: r.boolean('enable_revocation_notifications'),
    revocationActionsDir: r.string('revocation_actions_dir'),
    revocationNotificationIp: r.string('revocation_notification_ip'),
    revocationNotificationPort: r.port('revocation_notification_port'),
    revocationCert: filePath('revocation_cert'),
    revocationActions: r.list('revocation_actions'),
    payloadScript: r.string('payload_script'),
    enableInsecurePayload: r.boolean('enable_insecure_payload'),
    allowPayloadRevocationActions: r.boolean('allow_payload_revocation_actions'),
    tpmHashAlg: r.string('tpm_hash_alg'),
    tpmEncryptionAlg: r.string('tpm_encryption_alg'),
    tpmSigningAlg: r.string('tpm_signing_alg'),
    ekHandle: ekHandle === 'generate' ? '' : ekHandle,
    enableIakIdevid: r.boolean('enable_iak_idevid'),
    iakIdevidTemplate: r.string('iak_idevid_template'),
    iakIdevidAsymmetricAlg: r.string('iak_idevid_asymmetric_alg'),
    iakIdevidNameAlg: r.string('iak_idevid_name_alg'),
    idevidPassword: r.string('idevid_password'),
    idevidHandle: r.string('idevid_handle'),
    iakPassword: r.string('iak_password'),
    iakHandle: r.string('iak_handle'),
    iakCert: filePath('iak_cert', true),
    idevidCert: filePath('idevid_cert', true),
    tpmOwnerpassword: r.string('tpm_ownerpassword'),
    runAs: r.string('run_as'),
    agentDataPath: filePath('agent_data_path'),
    imaMlPath: rootPath('ima_ml_path'),
    measuredbootMlPath: rootPath('measuredboot_ml_path'),
    attestationIntervalSeconds: r.integer('attestation_interval_seconds', Number.MAX_SAFE_INTEGER),
    verifierUrl: r.string('verifier_url'),
    verifierTlsCaCert: filePath('verifier_tls_ca_cert'),
    registrarApiVersions: ((text: string): readonly string[] =>
      text.trim() === 'default' || text.trim() === 'latest'
        ? parseApiVersions(text, supported)
        : parseAgentList(text))(r.listText('registrar_api_versions')),
    certificationKeysServerIdentifier: r.string('certification_keys_server_identifier'),
    uefiLogsEvidenceVersion: r.string('uefi_logs_evidence_version'),
    exponentialBackoffInitialDelayMs: r.integer(
      'exponential_backoff_initial_delay',
      Number.MAX_SAFE_INTEGER,
    ),
    exponentialBackoffMaxRetries: r.integer('exponential_backoff_max_retries', 4294967295),
    exponentialBackoffMaxDelayMs: r.integer(
      'exponential_backoff_max_delay',
      Number.MAX_SAFE_INTEGER,
    ),
    tlsAcceptInvalidCerts: r.boolean('tls_accept_invalid_certs'),
    tlsAcceptInvalidHostnames: r.boolean('tls_accept_invalid_hostnames'),
    tcti,
    files,
    warnings,
    raw: values,
  });
}
