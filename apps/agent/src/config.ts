/**
 * @module config: agent.conf through @keylime/config, then the checks and derived values the agent
 * needs (TPM algorithms, EK handle, payload policy, secure directory size) — each a one-line error.
 */
import path from 'node:path';
import { ConfigError, ConfigErrorCode, loadAgentConfig } from '@keylime/config';
import type { AgentConfig, AgentLoadOptions, AgentOptionName } from '@keylime/config';
import type { HashAlg } from '@keylime/crypto';
import { AGENT_SUPPORTED_VERSIONS } from '@keylime/protocol';
import type { AkAlg, EkAlg } from '@keylime/tpm-device';

/** Signing schemes our AK templates support (RK also knows rsapss/ecschnorr). */
export type SignAlg = 'rsassa' | 'ecdsa';

/** The TPM algorithms the agent uses and how the API names them. */
export interface AgentAlgorithms {
  readonly hash: HashAlg;
  readonly ek: EkAlg;
  readonly ak: AkAlg;
  readonly sign: SignAlg;
}

export interface AgentSettings {
  readonly config: AgentConfig;
  readonly algorithms: AgentAlgorithms;
  /** Persistent EK handle, or undefined to re-create the EK from its template. */
  readonly ekHandle: number | undefined;
  /** Payloads run only over mTLS or when explicitly allowed (spec §5.4). */
  readonly runPayloads: boolean;
  /** `secure_size` in bytes: the cap on what a payload may unpack. */
  readonly secureSizeBytes: number;
  /** `<keylime_dir>/secure`. */
  readonly secureDir: string;
}

function fail(config: AgentConfig, option: AgentOptionName, problem: string): never {
  throw new ConfigError(ConfigErrorCode.InvalidValue, {
    origin: config.raw.get(option)?.origin ?? { kind: 'default' },
    section: 'agent',
    option,
    problem,
  });
}

const HASHES: Readonly<Record<string, HashAlg>> = {
  sha1: 'sha1',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
};

/** `rsa`/`ecc` are RK's legacy spellings of rsa2048/ecc256. */
const EK_ALGS: Readonly<Record<string, EkAlg>> = {
  rsa: 'rsa2048',
  rsa2048: 'rsa2048',
  ecc: 'ecc256',
  ecc256: 'ecc256',
  ecc384: 'ecc384',
};

/** `tpm_*_alg` → the algorithms we can run; anything else is refused at start. */
export function agentAlgorithms(config: AgentConfig): AgentAlgorithms {
  const hash = HASHES[config.tpmHashAlg.toLowerCase()];
  if (hash === undefined)
    fail(
      config,
      'tpm_hash_alg',
      `expected sha1, sha256, sha384 or sha512, got "${config.tpmHashAlg}"`,
    );
  const ek = EK_ALGS[config.tpmEncryptionAlg.toLowerCase()];
  if (ek === undefined)
    fail(
      config,
      'tpm_encryption_alg',
      `expected rsa (rsa2048), ecc (ecc256) or ecc384, got "${config.tpmEncryptionAlg}"`,
    );
  const sign = config.tpmSigningAlg.toLowerCase();
  const ak: AkAlg = ek === 'rsa2048' ? 'rsa2048' : 'ecc256';
  const expected: SignAlg = ak === 'rsa2048' ? 'rsassa' : 'ecdsa';
  if (sign !== expected)
    fail(
      config,
      'tpm_signing_alg',
      `with tpm_encryption_alg = "${config.tpmEncryptionAlg}" only "${expected}" is supported, got "${config.tpmSigningAlg}"`,
    );
  return { hash, ek, ak, sign: expected };
}

/** `1m`, `512k`, `1g` or plain bytes, as tmpfs `size=` takes it. */
export function parseSecureSize(text: string): number | undefined {
  const m = /^\s*(\d{1,12})\s*([kmg]?)\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase();
  const scale = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const bytes = Number(m[1]) * scale;
  return bytes > 0 ? bytes : undefined;
}

function parseEkHandle(config: AgentConfig): number | undefined {
  if (config.ekHandle === '') return undefined;
  const m = /^(?:0x)?([0-9a-f]{1,8})$/i.exec(config.ekHandle.trim());
  const handle = m?.[1] === undefined ? NaN : parseInt(m[1], 16);
  // Persistent handles live in 0x81000000-0x81ffffff (Part 2 §7.5).
  if (!(handle >= 0x81000000 && handle <= 0x81ffffff))
    fail(
      config,
      'ek_handle',
      `expected "generate" or a persistent handle such as 0x81010001, got "${config.ekHandle}"`,
    );
  return handle;
}

/** Loads agent.conf and everything the agent derives from it; throws ConfigError. */
export function loadAgentSettings(options: AgentLoadOptions = {}): AgentSettings {
  const config = loadAgentConfig({ supportedApiVersions: AGENT_SUPPORTED_VERSIONS, ...options });
  const algorithms = agentAlgorithms(config);
  const secureSizeBytes = parseSecureSize(config.secureSize);
  if (secureSizeBytes === undefined)
    fail(
      config,
      'secure_size',
      `expected a size such as "1m" or "512k", got "${config.secureSize}"`,
    );
  if (config.enableIakIdevid)
    fail(config, 'enable_iak_idevid', 'IAK/IDevID registration is not supported by this agent');
  // RK refuses this combination at start-up (spec §5.6, last paragraph).
  if (!config.enableAgentMtls && !config.enableInsecurePayload && config.payloadScript !== '') {
    throw new ConfigError(ConfigErrorCode.IncompatibleOptions, {
      origin: config.raw.get('enable_agent_mtls')?.origin ?? { kind: 'default' },
      section: 'agent',
      option: 'enable_agent_mtls',
      problem:
        'agent mTLS is disabled while enable_insecure_payload is false and payload_script is set; enable mTLS, set enable_insecure_payload = true or payload_script = ""',
    });
  }
  if (config.enableAgentMtls && config.trustedClientCa.length === 0)
    fail(
      config,
      'trusted_client_ca',
      'agent mTLS is enabled, but no trusted client CA is configured',
    );
  if (config.encKeyname === '' || path.basename(config.encKeyname) !== config.encKeyname)
    fail(config, 'enc_keyname', 'must be a plain file name');
  if (
    config.decPayloadFile === '' ||
    path.basename(config.decPayloadFile) !== config.decPayloadFile
  )
    fail(config, 'dec_payload_file', 'must be a plain file name');
  return {
    config,
    algorithms,
    ekHandle: parseEkHandle(config),
    runPayloads: config.enableAgentMtls || config.enableInsecurePayload,
    secureSizeBytes,
    secureDir: path.join(config.keylimeDir, 'secure'),
  };
}

/** `enc_alg` as API version `version` spells it (sized names from 2.5, spec §4.2). */
export function encAlgForApi(ek: EkAlg, version: string): string {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const sized = major > 2 || (major === 2 && minor >= 5);
  if (sized) return ek;
  return ek === 'rsa2048' ? 'rsa' : ek === 'ecc256' ? 'ecc' : ek;
}
