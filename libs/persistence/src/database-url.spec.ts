import path from 'node:path';
import { hasErrorCode } from '@keylime/core';
import { parseDatabaseUrl, redactUrl, describeTarget } from './database-url';
import { PersistenceErrorCode } from './errors';

describe('parseDatabaseUrl', () => {
  it('maps the sqlite keyword to the default file', () => {
    expect(parseDatabaseUrl('sqlite', '/var/lib/keylime/reg_data.sqlite')).toEqual({
      kind: 'sqlite',
      file: '/var/lib/keylime/reg_data.sqlite',
    });
  });

  it('reads SQLAlchemy sqlite URLs: three slashes relative, four absolute', () => {
    expect(parseDatabaseUrl('sqlite:////tmp/x/db.sqlite', '/d')).toEqual({
      kind: 'sqlite',
      file: '/tmp/x/db.sqlite',
    });
    expect(parseDatabaseUrl('sqlite:///rel/db.sqlite', '/d', '/base')).toEqual({
      kind: 'sqlite',
      file: path.resolve('/base/rel/db.sqlite'),
    });
  });

  it('refuses an in-memory database (it would not survive a restart)', () => {
    expect(() => parseDatabaseUrl('sqlite:///:memory:', '/d')).toThrow(/in-memory/);
  });

  it('accepts postgresql, postgres and driver-suffixed URLs', () => {
    for (const u of [
      'postgresql://u:p@db:5432/keylime',
      'postgres://u:p@db:5432/keylime',
      'postgresql+psycopg2://u:p@db:5432/keylime',
    ]) {
      expect(parseDatabaseUrl(u, '/d')).toEqual({
        kind: 'postgres',
        url: 'postgresql://u:p@db:5432/keylime',
      });
    }
  });

  it('refuses other schemes with a message that hides the password', () => {
    let err: unknown;
    try {
      parseDatabaseUrl('mysql://root:hunter2@db/keylime', '/d');
    } catch (e) {
      err = e;
    }
    expect(hasErrorCode(err, PersistenceErrorCode.BadUrl)).toBe(true);
    expect(String(err)).not.toContain('hunter2');
  });

  it('redacts passwords and describes targets', () => {
    expect(redactUrl('postgresql://u:secret@h:1/db')).toBe('postgresql://u:***@h:1/db');
    expect(describeTarget({ kind: 'postgres', url: 'postgresql://u:secret@h:1/db' })).toBe(
      'PostgreSQL database db at h:1',
    );
  });
});
