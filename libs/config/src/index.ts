/** @module @keylime/config: Upstream-compatible configuration: INI files with conf.d snippets and KEYLIME_* overrides for the Python roles, TOML agent.conf for the agent; typed per-role schemas. */

// errors
export { ConfigError, ConfigErrorCode, CONFIG_EXIT_CODE, formatConfigError } from './config-error';
export type { ConfigErrorCodeValue, ConfigErrorInit, ValueOrigin } from './config-error';

// INI files and Python literals
export { IniConfig, INI_DEFAULT_SECTION, parseIni } from './ini-parser';
export type { IniEntry } from './ini-parser';
export { parsePythonLiteral, PyDict, PyLiteralError, PySet, PyTuple } from './python-literal';
export type { PyValue } from './python-literal';
export {
  parseBoolean,
  parseInteger,
  parseNumber,
  parsePort,
  parsePythonList,
  parseStringList,
  parseCommaList,
  stripQuotes,
} from './values';
export type { Parsed } from './values';

// file discovery and raw values (Python roles)
export {
  DEFAULT_ETC_DIRS,
  DEFAULT_WORK_DIR,
  envOverrideName,
  loadComponentConfig,
  PythonComponent,
  RawComponentConfig,
  resolveWorkDir,
} from './component-loader';
export type {
  ConfigLoadOptions,
  Environment,
  PythonComponentName,
  RawValue,
} from './component-loader';
export type { DatabaseConfig, DurableAttestationConfig, TlsDir, TrustedCa } from './shared-options';

// typed role configurations
export {
  loadVerifierConfig,
  MeasuredBootEvaluate,
  VERIFIER_DEFAULTS,
  VERIFIER_REVOCATIONS_DEFAULTS,
  verifierConfigFrom,
  VerifierMode,
} from './verifier-config';
export type {
  MeasuredBootEvaluateValue,
  RevocationsConfig,
  SeverityRule,
  VerifierConfig,
  VerifierModeValue,
} from './verifier-config';
export {
  loadRegistrarConfig,
  MalformedCertAction,
  REGISTRAR_DEFAULTS,
  registrarConfigFrom,
  TpmIdentity,
} from './registrar-config';
export type {
  MalformedCertActionValue,
  RegistrarConfig,
  TpmIdentityValue,
} from './registrar-config';
export { loadTenantConfig, TENANT_DEFAULTS, tenantConfigFrom } from './tenant-config';
export type { TenantConfig } from './tenant-config';
export { CA_DEFAULTS, caConfigFrom, loadCaConfig } from './ca-config';
export type { CaConfig } from './ca-config';
export {
  LOGGING_DEFAULTS,
  loadLoggingConfig,
  loggingConfigFrom,
  PythonLogLevel,
} from './logging-config';
export type { LoggingConfig, PythonLogLevelValue } from './logging-config';

// agent (TOML)
export {
  AGENT_DEFAULTS,
  DEFAULT_TCTI,
  loadAgentConfig,
  parseAgentList,
  parseApiVersions,
  SUPPORTED_AGENT_API_VERSIONS,
} from './agent-config';
export type { AgentConfig, AgentLoadOptions, AgentOptionName, AgentRawValue } from './agent-config';
