/** @module shared-options: TLS, database and durable-attestation options that several Python roles share. */

import * as path from 'node:path';
import { ConfigErrorCode } from './config-error';
import type { OptionReader } from './option-reader';
import { parseInteger } from './values';

/** Peer verification for mTLS: `all` disables it; otherwise the CA files to trust. */
export interface TrustedCa {
  readonly verifyPeer: boolean;
  /** Absolute paths. Empty with verifyPeer = true means no CA was configured (upstream then refuses to start TLS). */
  readonly files: readonly string[];
}

/** The resolved tls_dir. */
export interface TlsDir {
  /** Absolute directory holding keys and certificates. */
  readonly dir: string;
  /** tls_dir = generate: create the CA and certificates there on first start. */
  readonly generate: boolean;
}

/**
 * upstream web_util.init_tls_dir/get_tls_dir: `generate` → WORK_DIR/cv_ca (verifier) or
 * WORK_DIR/reg_ca (registrar), other roles cannot generate; `default` → WORK_DIR/cv_ca;
 * anything else is a path relative to WORK_DIR.
 */
export function readTlsDir(reader: OptionReader, generateDir: string | undefined): TlsDir {
  const value = reader.string('tls_dir');
  const workDir = reader.raw.workDir;
  if (value === '')
    reader.fail('tls_dir', 'must not be empty (use "default", "generate" or a directory)');
  if (value === 'generate') {
    if (generateDir === undefined) {
      reader.fail('tls_dir', `"generate" is only supported for the verifier and the registrar`);
    }
    return { dir: path.resolve(workDir, generateDir), generate: true };
  }
  if (value === 'default') return { dir: path.resolve(workDir, 'cv_ca'), generate: false };
  return { dir: path.resolve(workDir, value), generate: false };
}

/** tls_dir = generate only works when the listed options are all `default` (upstream raises otherwise). */
export function checkGenerateDefaults(
  reader: OptionReader,
  tls: TlsDir,
  options: readonly string[],
): void {
  if (!tls.generate) return;
  for (const option of options) {
    const value = reader.string(option);
    if (value !== 'default') {
      reader.fail(
        option,
        `must be "default" when tls_dir = generate, got ${JSON.stringify(value)}`,
        ConfigErrorCode.IncompatibleOptions,
      );
    }
  }
}

/** A key or certificate: empty → not set, `default` → `<tls_dir>/<defaultName>`, else relative to tls_dir. */
export function readTlsFile(
  reader: OptionReader,
  option: string,
  tls: TlsDir,
  defaultName: string,
): string | undefined {
  const value = reader.string(option);
  if (value === '') return undefined;
  return path.resolve(tls.dir, value === 'default' ? defaultName : value);
}

/**
 * trusted_client_ca / trusted_server_ca: `default` → [WORK_DIR/cv_ca/cacert.crt] (the verifier's
 * CA, whatever tls_dir is), `all` → no peer verification, else a Python list of files in tls_dir.
 */
export function readTrustedCa(reader: OptionReader, option: string, tls: TlsDir): TrustedCa {
  const value = reader.string(option);
  if (value === '') return { verifyPeer: true, files: [] };
  if (value === 'default')
    return { verifyPeer: true, files: [path.resolve(reader.raw.workDir, 'cv_ca', 'cacert.crt')] };
  if (value === 'all') return { verifyPeer: false, files: [] };
  return {
    verifyPeer: true,
    files: reader.stringList(option).map((file) => path.resolve(tls.dir, file)),
  };
}

/** Where a role keeps its data: the embedded SQLite file or a server URL (SQLAlchemy syntax). */
export type DatabaseConfig =
  | { readonly kind: 'sqlite'; readonly file: string; readonly url: string }
  | {
      readonly kind: 'url';
      readonly url: string;
      readonly poolSize: number;
      readonly maxOverflow: number;
    };

/**
 * database_url: `sqlite` → `sqlite:///<WORK_DIR>/<sqliteName>`; a `sqlite:///path` URL names a file
 * (relative to the current directory, as SQLAlchemy does); anything else is a server URL that uses
 * database_pool_sz_ovfl ("pool size,max overflow").
 */
export function readDatabase(reader: OptionReader, sqliteName: string): DatabaseConfig {
  const url = reader.string('database_url');
  if (url === '') reader.fail('database_url', 'must not be empty (use "sqlite" or a database URL)');
  if (url === 'sqlite') {
    const file = path.resolve(reader.raw.workDir, sqliteName);
    return { kind: 'sqlite', file, url: `sqlite:///${file}` };
  }
  const sqliteFile = /^sqlite:\/\/\/(.+)$/.exec(url);
  if (sqliteFile?.[1] !== undefined) return { kind: 'sqlite', file: sqliteFile[1], url };
  const pool = reader.string('database_pool_sz_ovfl').split(',');
  const poolSize = pool.length === 2 ? parseInteger(pool[0] ?? '') : undefined;
  const maxOverflow = pool.length === 2 ? parseInteger(pool[1] ?? '') : undefined;
  if (poolSize?.ok !== true || maxOverflow?.ok !== true) {
    return reader.fail(
      'database_pool_sz_ovfl',
      `expected "pool size,max overflow" such as "5,10", got ${JSON.stringify(reader.string('database_pool_sz_ovfl'))}`,
    );
  }
  return { kind: 'url', url, poolSize: poolSize.value, maxOverflow: maxOverflow.value };
}

/** Durable attestation (experimental upstream): where attestation artefacts are recorded and signed. */
export interface DurableAttestationConfig {
  /** Python module implementing the backend; undefined = durable attestation off. */
  readonly importModule: string | undefined;
  readonly persistentStoreUrl: string | undefined;
  readonly transparencyLogUrl: string | undefined;
  readonly timeStampAuthorityUrl: string | undefined;
  readonly timeStampAuthorityCertsPath: string | undefined;
  readonly persistentStoreFormat: string;
  readonly persistentStoreEncoding: string | undefined;
  readonly transparencyLogSignAlgo: string;
  /** Comma list of attributes to sign; `all` signs everything; empty signs nothing. */
  readonly signedAttributes: readonly string[];
}

export function readDurableAttestation(reader: OptionReader): DurableAttestationConfig {
  return {
    importModule: reader.optionalString('durable_attestation_import'),
    persistentStoreUrl: reader.optionalString('persistent_store_url'),
    transparencyLogUrl: reader.optionalString('transparency_log_url'),
    timeStampAuthorityUrl: reader.optionalString('time_stamp_authority_url'),
    timeStampAuthorityCertsPath: reader.optionalString('time_stamp_authority_certs_path'),
    persistentStoreFormat: reader.string('persistent_store_format'),
    persistentStoreEncoding: reader.optionalString('persistent_store_encoding'),
    transparencyLogSignAlgo: reader.string('transparency_log_sign_algo'),
    signedAttributes: reader.commaList('signed_attributes'),
  };
}

/** True for arrays and plain objects; class instances (and process.env) are left alone. */
function isPlain(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Deep-freezes plain objects and arrays so nobody mutates shared configuration. */
export function deepFreeze<T>(value: T): T {
  if (isPlain(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
