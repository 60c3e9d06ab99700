/** @module component-loader: finds, reads and layers a Python role's INI files and KEYLIME_* overrides. */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, ConfigErrorCode } from './config-error';
import type { ValueOrigin } from './config-error';
import { IniConfig } from './ini-parser';

/** The components upstream's keylime/config.py knows; each has `<component>.conf`. */
export const PythonComponent = {
  Verifier: 'verifier',
  Registrar: 'registrar',
  Tenant: 'tenant',
  Ca: 'ca',
  Logging: 'logging',
} as const;

export type PythonComponentName = (typeof PythonComponent)[keyof typeof PythonComponent];

/** Environment as a plain record (process.env has this shape). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** Configuration directories in priority order, as upstream: `/etc/keylime` first, then `/usr/etc/keylime`. */
export const DEFAULT_ETC_DIRS: readonly string[] = ['/etc/keylime', '/usr/etc/keylime'];

/** Upstream's DEFAULT_WORK_DIR, changed with KEYLIME_DIR. */
export const DEFAULT_WORK_DIR = '/var/lib/keylime';

export interface ConfigLoadOptions {
  /** Environment to read KEYLIME_* variables from; defaults to process.env. */
  readonly env?: Environment;
  /**
   * Config directories, highest priority first (default DEFAULT_ETC_DIRS). The base file is the
   * first readable `<dir>/<c>.conf`; snippets come from every `<dir>/<c>.conf.d`, lowest priority first.
   */
  readonly etcDirs?: readonly string[];
  /** Working directory used when KEYLIME_TEST is on and KEYLIME_DIR unset; defaults to process.cwd(). */
  readonly cwd?: string;
}

/** A raw option value after env override, before type conversion. */
export interface RawValue {
  readonly value: string;
  readonly origin: ValueOrigin;
}

/** True for upstream's environ_bool "on" values. */
function envFlag(value: string | undefined): boolean {
  return value !== undefined && ['on', 'true', '1'].includes(value.toLowerCase());
}

/**
 * upstream WORK_DIR: KEYLIME_DIR if set, else /var/lib/keylime; with KEYLIME_TEST=on the fallback
 * is the current directory. Returned as an absolute path.
 */
export function resolveWorkDir(options: ConfigLoadOptions = {}): string {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const fromEnv = env['KEYLIME_DIR'];
  if (fromEnv !== undefined) return path.resolve(cwd, fromEnv);
  return envFlag(env['KEYLIME_TEST']) ? path.resolve(cwd) : DEFAULT_WORK_DIR;
}

/** Name of the per-option override variable: KEYLIME_<COMPONENT>[_<SECTION>]_<OPTION>. */
export function envOverrideName(component: string, option: string, section?: string): string {
  const sectionPart =
    section === undefined || section === component ? '' : `_${section.toUpperCase()}`;
  return `KEYLIME_${component.toUpperCase()}${sectionPart}_${option.toUpperCase()}`;
}

export type ReadResult =
  | { readonly kind: 'read'; readonly text: string }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** Reads a file as strict UTF-8; missing and unreadable files are reported, not thrown. */
export function readText(file: string): ReadResult {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'unreadable', reason: code ?? String(error) };
  }
  try {
    return { kind: 'read', text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    throw new ConfigError(ConfigErrorCode.Unreadable, {
      origin: { kind: 'file', file },
      problem: 'file is not valid UTF-8',
    });
  }
}

export function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Every regular file in `dir` (any name, as upstream reads them all), sorted by path; none if no dir. */
export function listSnippets(dir: string): readonly string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => path.join(dir, name))
    .filter(isFile)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The layered INI configuration of one component, with env overrides applied on lookup. */
export class RawComponentConfig {
  constructor(
    readonly component: PythonComponentName,
    /** Files that were read, in the order they were applied (later wins). */
    readonly files: readonly string[],
    /** The merged INI content of those files. */
    readonly ini: IniConfig,
    /** KEYLIME_DIR (or its default), absolute. */
    readonly workDir: string,
    /** Notes an app should log at warning level (e.g. no config file found). */
    readonly warnings: readonly string[],
    private readonly env: Environment,
  ) {}

  /**
   * The value of `option` as upstream's config.get(component, option, section) sees it:
   * KEYLIME_<C>[_<SECTION>]_<OPTION> first, then the files (section, then DEFAULT). Not yet
   * quote-stripped. `section` defaults to the component's own section.
   */
  get(option: string, section?: string): RawValue | undefined {
    const variable = envOverrideName(this.component, option, section);
    const fromEnv = this.env[variable];
    if (fromEnv !== undefined) return { value: fromEnv, origin: { kind: 'env', variable } };
    const entry = this.ini.getEntry(section ?? this.component, option);
    if (entry === undefined) return undefined;
    return { value: entry.value, origin: { kind: 'file', file: entry.file, line: entry.line } };
  }

  /** True when the option is set in a file or through its environment variable. */
  has(option: string, section?: string): boolean {
    return this.get(option, section) !== undefined;
  }
}

/**
 * Loads `<component>.conf` the way upstream's keylime/config.py get_config() does:
 *
 * 1. KEYLIME_<C>_CONFIG names an existing file → only that file (no snippets). If it names
 *    nothing, upstream falls back to the installed files; so do we, with a warning.
 * 2. Otherwise the first readable `<dir>/<c>.conf` of `etcDirs` is the base file.
 * 3. Only when a base file was read: every file in `<dir>/<c>.conf.d/` for each dir, lowest
 *    priority dir first, each dir sorted by name; later files override earlier ones.
 *
 * Syntax errors and duplicate options throw ConfigError naming file and line.
 */
export function loadComponentConfig(
  component: PythonComponentName,
  options: ConfigLoadOptions = {},
): RawComponentConfig {
  const env = options.env ?? process.env;
  const etcDirs = options.etcDirs ?? DEFAULT_ETC_DIRS;
  const workDir = resolveWorkDir(options);
  const warnings: string[] = [];
  const ini = new IniConfig();
  const files: string[] = [];
  const done = (): RawComponentConfig =>
    new RawComponentConfig(component, files, ini, workDir, warnings, env);

  const overrideVar = `KEYLIME_${component.toUpperCase()}_CONFIG`;
  const override = env[overrideVar];
  if (override !== undefined && override !== '') {
    if (isFile(override)) {
      const result = readText(override);
      if (result.kind === 'read') {
        ini.read(result.text, override);
        files.push(override);
        return done();
      }
      warnings.push(
        `${overrideVar}: cannot read ${override} (${result.kind === 'unreadable' ? result.reason : 'missing'}), using the installed configuration`,
      );
    } else {
      warnings.push(`${overrideVar}: ${override} is not a file, using the installed configuration`);
    }
  }

  const candidates = etcDirs.map((dir) => path.join(dir, `${component}.conf`));
  let baseFound = false;
  for (const candidate of candidates) {
    const result = readText(candidate);
    if (result.kind === 'missing') continue;
    if (result.kind === 'unreadable') {
      warnings.push(
        `${candidate}: exists but cannot be read (${result.reason}); the keylime service needs read access`,
      );
      continue;
    }
    ini.read(result.text, candidate);
    files.push(candidate);
    baseFound = true;
    break;
  }
  if (!baseFound) {
    warnings.push(
      `no configuration file found for ${component} in ${candidates.join(', ')}; using built-in defaults`,
    );
    return done();
  }

  for (const dir of [...etcDirs].reverse()) {
    for (const snippet of listSnippets(path.join(dir, `${component}.conf.d`))) {
      const result = readText(snippet);
      if (result.kind !== 'read') {
        warnings.push(`${snippet}: cannot read configuration snippet, skipped`);
        continue;
      }
      ini.read(result.text, snippet);
      files.push(snippet);
    }
  }
  return done();
}
