/**
 * @module config: registrar.conf through @keylime/config plus the options of our own that the
 * registrar adds (documented in the README): tpm_cert_store, require_ek_cert, single_agent_per_ek.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  ConfigErrorCode,
  loadRegistrarConfig,
  parseBoolean,
  stripQuotes,
} from '@keylime/config';
import type { ConfigLoadOptions, RegistrarConfig } from '@keylime/config';

export interface RegistrarSettings {
  readonly config: RegistrarConfig;
  /** Directory of EK CA certificates. */
  readonly tpmCertStore: string;
  /** Where the store came from, for the start-up log. */
  readonly tpmCertStoreOrigin: 'option' | 'default' | 'shipped';
  readonly requireEkCert: boolean;
  readonly singleAgentPerEk: boolean;
}

/** Where the copy of upstream's vendor CA store that ships with the registrar lives. */
export function shippedCertStoreCandidates(): string[] {
  // Bundle: dist/apps/registrar/tpm_cert_store; sources: apps/registrar/tpm_cert_store.
  return [path.join(__dirname, 'tpm_cert_store'), path.join(__dirname, '..', 'tpm_cert_store')];
}

function ownBoolean(config: RegistrarConfig, option: string, fallback: boolean): boolean {
  const raw = config.raw.get(option);
  if (raw === undefined) return fallback;
  const parsed = parseBoolean(raw.value);
  if (!parsed.ok) {
    throw new ConfigError(ConfigErrorCode.InvalidValue, {
      origin: raw.origin,
      section: 'registrar',
      option,
      problem: parsed.problem,
    });
  }
  return parsed.value;
}

function certStore(
  config: RegistrarConfig,
): Pick<RegistrarSettings, 'tpmCertStore' | 'tpmCertStoreOrigin'> {
  const raw = config.raw.get('tpm_cert_store');
  const value = raw === undefined ? '' : stripQuotes(raw.value).trim();
  if (raw !== undefined && value !== '' && value !== 'default') {
    const dir = path.resolve(config.raw.workDir, value);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new ConfigError(ConfigErrorCode.InvalidValue, {
        origin: raw.origin,
        section: 'registrar',
        option: 'tpm_cert_store',
        problem: `${dir} is not a directory`,
      });
    }
    return { tpmCertStore: dir, tpmCertStoreOrigin: 'option' };
  }
  const installed = path.join(config.raw.workDir, 'tpm_cert_store');
  if (fs.existsSync(installed)) return { tpmCertStore: installed, tpmCertStoreOrigin: 'default' };
  const shipped = shippedCertStoreCandidates().find((d) => fs.existsSync(d));
  if (shipped) return { tpmCertStore: shipped, tpmCertStoreOrigin: 'shipped' };
  throw new ConfigError(ConfigErrorCode.InvalidValue, {
    origin: { kind: 'default' },
    section: 'registrar',
    option: 'tpm_cert_store',
    problem: `${installed} does not exist and no shipped certificate store was found`,
  });
}

/** Loads and checks the registrar's settings; throws ConfigError (one line) when they are bad. */
export function loadRegistrarSettings(options: ConfigLoadOptions = {}): RegistrarSettings {
  const config = loadRegistrarConfig(options);
  return {
    config,
    ...certStore(config),
    requireEkCert: ownBoolean(config, 'require_ek_cert', false),
    singleAgentPerEk: ownBoolean(config, 'single_agent_per_ek', false),
  };
}
