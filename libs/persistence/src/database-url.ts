/**
 * @module database-url: resolves upstream's `database_url` values (the `sqlite` keyword and
 * SQLAlchemy URLs) into what TypeORM needs (spec/agent-registrar-tenant.md §8.1).
 */
import path from 'node:path';
import { KeylimeError } from '@keylime/core';
import { PersistenceErrorCode } from './errors';

export type DatabaseTarget =
  | { readonly kind: 'sqlite'; readonly file: string }
  | { readonly kind: 'postgres'; readonly url: string };

/**
 * `sqlite` → `sqliteDefaultPath`; `sqlite:///rel/path` (relative to `baseDir`),
 * `sqlite:////abs/path`; `postgresql://…`, `postgres://…` or `postgresql+<driver>://…`
 * (SQLAlchemy's driver suffix is dropped). Anything else throws KL_PERSISTENCE_BAD_URL.
 */
export function parseDatabaseUrl(
  databaseUrl: string,
  sqliteDefaultPath: string,
  baseDir: string = process.cwd(),
): DatabaseTarget {
  const url = databaseUrl.trim();
  if (url === '' || url === 'sqlite') {
    return { kind: 'sqlite', file: path.resolve(sqliteDefaultPath) };
  }
  const sqlite = /^sqlite(?:\+\w+)?:\/\/\/(.*)$/.exec(url);
  if (sqlite) {
    const rest = (sqlite[1] ?? '').split('?')[0] ?? '';
    if (rest === '' || rest === ':memory:') {
      throw new KeylimeError(
        PersistenceErrorCode.BadUrl,
        `database_url "${url}": an in-memory SQLite database would lose every record on restart`,
      );
    }
    // SQLAlchemy: three slashes + relative path, four slashes = absolute path.
    return { kind: 'sqlite', file: path.resolve(baseDir, rest) };
  }
  const pg = /^(postgres(?:ql)?)(?:\+[\w-]+)?:\/\/(.+)$/.exec(url);
  if (pg) {
    const normalized = `postgresql://${pg[2] ?? ''}`;
    try {
      new URL(normalized);
    } catch {
      throw new KeylimeError(
        PersistenceErrorCode.BadUrl,
        `database_url "${redactUrl(url)}" is not a valid PostgreSQL URL`,
      );
    }
    return { kind: 'postgres', url: normalized };
  }
  throw new KeylimeError(
    PersistenceErrorCode.BadUrl,
    `database_url "${redactUrl(url)}" is not supported: use "sqlite", "sqlite:////path/file.sqlite" or "postgresql://user:password@host:port/db"`,
  );
}

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
}

/** A short printable description of a target (no password). */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') return `SQLite database ${target.file}`;
  try {
    const u = new URL(target.url);
    return `PostgreSQL database ${u.pathname.replace(/^\//, '') || '(default)'} at ${u.host}`;
  } catch {
    return `PostgreSQL database ${redactUrl(target.url)}`;
  }
}
