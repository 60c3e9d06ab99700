/** @module ca-config: typed ca.conf ([ca]) with upstream 2.6 defaults, plus logging.conf access. */

import { loadComponentConfig } from './component-loader';
import type { ConfigLoadOptions, RawComponentConfig } from './component-loader';
import { OptionReader } from './option-reader';
import { deepFreeze } from './shared-options';

/** [ca] defaults as upstream's templates/2.6 write them. */
export const CA_DEFAULTS = {
  version: '2.6',
  password: 'default',
  cert_country: 'US',
  cert_ca_name: 'Keylime Certificate Authority',
  cert_state: 'MA',
  cert_locality: 'Lexington',
  cert_organization: 'Keylime',
  cert_org_unit: '53',
  cert_ca_lifetime: '3650',
  cert_lifetime: '365',
  cert_bits: '2048',
  cert_crl_dist: 'http://localhost:38080/crl',
} as const;

export interface CaConfig {
  readonly version: string;
  /** CA private key password; `default` means upstream's built-in default password handling. */
  readonly password: string;
  readonly certCountry: string;
  readonly certCaName: string;
  readonly certState: string;
  readonly certLocality: string;
  readonly certOrganization: string;
  readonly certOrgUnit: string;
  readonly certCaLifetimeDays: number;
  /** Read but unused upstream for leaf validity (spec §8.1). */
  readonly certLifetimeDays: number;
  readonly certBits: number;
  readonly certCrlDist: string;
  readonly raw: RawComponentConfig;
}

/** Builds the typed CA configuration from already loaded files. */
export function caConfigFrom(raw: RawComponentConfig): CaConfig {
  const r = new OptionReader(raw, CA_DEFAULTS);
  return deepFreeze<CaConfig>({
    version: r.string('version'),
    password: r.string('password'),
    certCountry: r.string('cert_country'),
    certCaName: r.string('cert_ca_name'),
    certState: r.string('cert_state'),
    certLocality: r.string('cert_locality'),
    certOrganization: r.string('cert_organization'),
    certOrgUnit: r.string('cert_org_unit'),
    certCaLifetimeDays: r.integer('cert_ca_lifetime', 1),
    certLifetimeDays: r.integer('cert_lifetime', 1),
    certBits: r.integer('cert_bits', 1024),
    certCrlDist: r.string('cert_crl_dist'),
    raw,
  });
}

/** Loads ca.conf (+ snippets, env overrides) and returns the frozen, typed configuration. */
export function loadCaConfig(options: ConfigLoadOptions = {}): CaConfig {
  return caConfigFrom(loadComponentConfig('ca', options));
}
