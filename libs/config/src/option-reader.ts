/** @module option-reader: typed reads of one component's options with upstream defaults and one-line errors. */

import * as path from 'node:path';
import { ConfigError, ConfigErrorCode, describeValue } from './config-error';
import type { RawComponentConfig, RawValue } from './component-loader';
import type { PyValue } from './python-literal';
import {
  parseBoolean,
  parseChoice,
  parseCommaList,
  parseDictList,
  parseInteger,
  parseNumber,
  parsePort,
  parseStringList,
  stripQuotes,
} from './values';
import type { Parsed } from './values';

/** Raw default values per section, spelled as in upstream's templates. */
export type SectionDefaults = Readonly<Record<string, string>>;

/**
 * Reads options of one section of a component. Missing options take the default from `defaults`
 * (upstream's template value); every conversion failure names file/variable, section and option.
 */
export class OptionReader {
  constructor(
    readonly raw: RawComponentConfig,
    private readonly defaults: SectionDefaults,
    /** Section to read; undefined = the component's own section (env names without a section part). */
    private readonly section?: string,
  ) {}

  get sectionName(): string {
    return this.section ?? this.raw.component;
  }

  /** The raw value (env, file or default), not yet quote-stripped. */
  rawValue(option: string): RawValue {
    const found = this.raw.get(option, this.section);
    if (found !== undefined) return found;
    const fallback = this.defaults[option];
    if (fallback === undefined) {
      // A programming error in a schema: every option read must have a default.
      throw new ConfigError(ConfigErrorCode.InvalidValue, {
        section: this.sectionName,
        option,
        problem: 'no built-in default for this option',
      });
    }
    return { value: fallback, origin: { kind: 'default' } };
  }

  /** Throws the one-line error for `option` with `problem`, pointing at where the value came from. */
  fail(
    option: string,
    problem: string,
    code: (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode] = ConfigErrorCode.InvalidValue,
  ): never {
    throw new ConfigError(code, {
      origin: this.rawValue(option).origin,
      section: this.sectionName,
      option,
      problem,
    });
  }

  private convert<T>(option: string, parse: (text: string) => Parsed<T>): T {
    const raw = this.rawValue(option);
    const parsed = parse(raw.value);
    if (parsed.ok) return parsed.value;
    // Secrets never reach a message: re-describe the value if the option holds one.
    const problem = /password|secret/i.test(option)
      ? parsed.problem.replace(/got .*$/, `got ${describeValue(raw.value, option)}`)
      : parsed.problem;
    throw new ConfigError(ConfigErrorCode.InvalidValue, {
      origin: raw.origin,
      section: this.sectionName,
      option,
      problem,
    });
  }

  /** upstream config.get(): the value with surrounding `"` and spaces stripped. */
  string(option: string): string {
    return stripQuotes(this.rawValue(option).value);
  }

  /** A string where empty means "not set". */
  optionalString(option: string): string | undefined {
    const value = this.string(option);
    return value === '' ? undefined : value;
  }

  boolean(option: string): boolean {
    return this.convert(option, parseBoolean);
  }

  integer(option: string, min?: number): number {
    const value = this.convert(option, parseInteger);
    if (min !== undefined && value < min)
      this.fail(option, `expected an integer >= ${min}, got ${value}`);
    return value;
  }

  number(option: string, min?: number): number {
    const value = this.convert(option, parseNumber);
    if (min !== undefined && value < min)
      this.fail(option, `expected a number >= ${min}, got ${value}`);
    return value;
  }

  port(option: string): number {
    return this.convert(option, parsePort);
  }

  stringList(option: string): readonly string[] {
    return this.convert(option, parseStringList);
  }

  dictList(option: string): readonly Readonly<Record<string, PyValue>>[] {
    return this.convert(option, parseDictList);
  }

  commaList(option: string): readonly string[] {
    return parseCommaList(this.rawValue(option).value);
  }

  choice<T extends string>(option: string, choices: readonly T[]): T {
    return this.convert(option, (text) => parseChoice(text, choices));
  }

  /** A path: absolute as is, relative under the work dir (upstream joins with WORK_DIR); empty = unset. */
  workPath(option: string): string | undefined {
    const value = this.string(option);
    return value === '' ? undefined : path.resolve(this.raw.workDir, value);
  }
}
