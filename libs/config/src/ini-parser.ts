/** @module ini-parser: INI files read the way Python's RawConfigParser (strict, no interpolation) reads them. */

import { ConfigError, ConfigErrorCode } from './config-error';

/**
 * Name of configparser's special section whose options every other section inherits.
 * Only this exact spelling is special; `[default]` is an ordinary section (section names are case-sensitive).
 */
export const INI_DEFAULT_SECTION = 'DEFAULT';

/** One option value with the file and line of the `key = value` line that set it. */
export interface IniEntry {
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

// configparser's SECTCRE is `\[(?P<header>.+)\]` with re.match: header runs to the LAST `]`.
const SECTION_RE = /^\[(.+)\]/;
// configparser's OPTCRE: lazy key, first `=` or `:`, rest of the line is the value.
const OPTION_RE = /^(.*?)\s*[=:]\s*(.*)$/s;

interface PendingValue {
  lines: string[];
  file: string;
  line: number;
}

type Section = Map<string, IniEntry | PendingValue>;

/** Python's str.rstrip() for the whitespace characters that matter in config files. */
function rstrip(text: string): string {
  return text.replace(/\s+$/u, '');
}

/** Splits text into lines the way Python's universal-newline text mode does. */
function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  // A trailing newline does not start another line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function isPending(value: IniEntry | PendingValue): value is PendingValue {
  return 'lines' in value;
}

/**
 * Accumulates one or more INI files into sections, like successive RawConfigParser.read() calls:
 * later files override options of earlier ones; duplicates inside one file are errors.
 * Option names are lower-cased; section names keep their case.
 */
export class IniConfig {
  private readonly sectionMap = new Map<string, Section>();
  private readonly defaults: Section = new Map();

  /** Parses `text` (the content of `file`) into this configuration. Throws ConfigError on bad syntax. */
  read(text: string, file: string): void {
    // configparser tracks duplicates per read() call, so another file may repeat a section or option.
    const seenSections = new Set<string>();
    const seenOptions = new Set<string>();
    const firstLine = new Map<string, number>();
    let current: Section | undefined;
    let sectionName: string | undefined;
    let option: PendingValue | undefined;
    let indentLevel = 0;

    const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
    const lines = splitLines(body);
    for (let index = 0; index < lines.length; index++) {
      const raw = lines[index] ?? '';
      const lineNo = index + 1;
      const stripped = raw.trim();
      const isComment = stripped.startsWith('#') || stripped.startsWith(';');
      if (stripped === '' || isComment) {
        // Blank lines belong to a value being continued (empty_lines_in_values); comments never do.
        if (!isComment && option !== undefined) option.lines.push('');
        continue;
      }
      const indent = raw.search(/\S/u);
      if (current !== undefined && option !== undefined && indent > indentLevel) {
        option.lines.push(stripped);
        continue;
      }
      indentLevel = indent;
      const header = SECTION_RE.exec(stripped);
      if (header !== null) {
        const name = header[1] ?? '';
        option = undefined;
        if (name === INI_DEFAULT_SECTION) {
          current = this.defaults;
        } else {
          if (seenSections.has(name)) {
            throw new ConfigError(ConfigErrorCode.DuplicateSection, {
              origin: { kind: 'file', file, line: lineNo },
              section: name,
              problem: `section appears twice in this file (first on line ${firstLine.get(`[${name}]`) ?? '?'})`,
            });
          }
          seenSections.add(name);
          firstLine.set(`[${name}]`, lineNo);
          current = this.sectionMap.get(name);
          if (current === undefined) {
            current = new Map();
            this.sectionMap.set(name, current);
          }
        }
        sectionName = name;
        continue;
      }
      if (current === undefined || sectionName === undefined) {
        throw new ConfigError(ConfigErrorCode.MissingSectionHeader, {
          origin: { kind: 'file', file, line: lineNo },
          problem: `option line before any [section] header: ${JSON.stringify(stripped)}`,
        });
      }
      const match = OPTION_RE.exec(stripped);
      const key = match?.[1] ?? '';
      if (match === null || key === '') {
        throw new ConfigError(ConfigErrorCode.Syntax, {
          origin: { kind: 'file', file, line: lineNo },
          section: sectionName,
          problem: `expected "option = value", got ${JSON.stringify(stripped)}`,
        });
      }
      const name = rstrip(key).toLowerCase();
      const seenKey = `${sectionName}\u0000${name}`;
      if (seenOptions.has(seenKey)) {
        throw new ConfigError(ConfigErrorCode.DuplicateOption, {
          origin: { kind: 'file', file, line: lineNo },
          section: sectionName,
          option: name,
          problem: `option appears twice in this section (first on line ${firstLine.get(seenKey) ?? '?'})`,
        });
      }
      seenOptions.add(seenKey);
      firstLine.set(seenKey, lineNo);
      option = { lines: [(match[2] ?? '').trim()], file, line: lineNo };
      current.set(name, option);
    }
    this.joinPending();
  }

  /** Section names in first-seen order, without DEFAULT (as configparser's sections()). */
  sections(): readonly string[] {
    return [...this.sectionMap.keys()];
  }

  hasSection(section: string): boolean {
    return this.sectionMap.has(section);
  }

  /** Option names of a section including those inherited from DEFAULT; empty if the section is missing. */
  options(section: string): readonly string[] {
    const own = this.sectionMap.get(section);
    if (own === undefined) return [];
    return [...new Set([...own.keys(), ...this.defaults.keys()])];
  }

  /** Options of the DEFAULT section. */
  defaultOptions(): readonly string[] {
    return [...this.defaults.keys()];
  }

  /**
   * The entry for `option` in `section`, falling back to DEFAULT. Undefined when the section does
   * not exist at all (configparser raises NoSectionError there even if DEFAULT has the option).
   */
  getEntry(section: string, option: string): IniEntry | undefined {
    const key = option.toLowerCase();
    const source = section === INI_DEFAULT_SECTION ? this.defaults : this.sectionMap.get(section);
    if (source === undefined) return undefined;
    const value = source.get(key) ?? this.defaults.get(key);
    return value === undefined || isPending(value) ? undefined : value;
  }

  /** The value of `option` in `section` (or DEFAULT), undefined if absent. */
  get(section: string, option: string): string | undefined {
    return this.getEntry(section, option)?.value;
  }

  /** Multi-line values are joined with "\n" and right-stripped once a file is fully read. */
  private joinPending(): void {
    for (const section of [this.defaults, ...this.sectionMap.values()]) {
      for (const [key, value] of section) {
        if (isPending(value)) {
          section.set(key, {
            value: rstrip(value.lines.join('\n')),
            file: value.file,
            line: value.line,
          });
        }
      }
    }
  }
}

/** Parses one INI text into a fresh IniConfig. */
export function parseIni(text: string, file: string): IniConfig {
  const config = new IniConfig();
  config.read(text, file);
  return config;
}
