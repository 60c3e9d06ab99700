import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { hasErrorCode } from '@keylime/core';
import { openDataSource } from './data-source';
import { ensureTable, Table, TableIndex, dialectOf, portableTypes } from './migration-helpers';
import { PersistenceErrorCode } from './errors';
import { startPrivatePostgres } from './testing';
import type { PrivatePostgres } from './testing';

@Entity({ name: 'widget' })
class Widget {
  @PrimaryColumn({ type: 'varchar', length: 40 })
  id!: string;

  @Column({ type: 'boolean', nullable: true })
  shiny!: boolean | null;

  @Column({ type: 'integer', nullable: true })
  count!: number | null;

  @Column({ type: 'text', nullable: true })
  note!: string | null;
}

class CreateWidget1700000000000 implements MigrationInterface {
  name = 'CreateWidget1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const t = portableTypes(dialectOf(queryRunner));
    expect(t.now).toBeTruthy();
    await ensureTable(
      queryRunner,
      new Table({
        name: 'widget',
        columns: [
          { name: 'id', type: 'varchar', length: '40', isPrimary: true },
          { name: 'shiny', type: 'boolean', isNullable: true },
          { name: 'count', type: 'integer', isNullable: true },
          { name: 'note', type: 'text', isNullable: true },
        ],
        indices: [new TableIndex({ name: 'ix_widget_note', columnNames: ['note'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('widget');
  }
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-persist-'));
}

async function roundTrip(databaseUrl: string, sqliteDefaultPath: string): Promise<void> {
  const first = await openDataSource({
    databaseUrl,
    sqliteDefaultPath,
    entities: [Widget],
    migrations: [CreateWidget1700000000000],
  });
  expect(first.applied).toEqual(['CreateWidget1700000000000']);
  await first.dataSource.getRepository(Widget).save({ id: 'a', shiny: true, count: 3, note: 'x' });
  await first.close();

  const second = await openDataSource({
    databaseUrl,
    sqliteDefaultPath,
    entities: [Widget],
    migrations: [CreateWidget1700000000000],
  });
  expect(second.applied).toEqual([]);
  const w = await second.dataSource.getRepository(Widget).findOneByOrFail({ id: 'a' });
  expect(w).toEqual({ id: 'a', shiny: true, count: 3, note: 'x' });
  await second.close();
}

describe('openDataSource on SQLite files', () => {
  it('creates the directory and file, migrates once, keeps records across reopen', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'sub', 'reg_data.sqlite');
    await roundTrip('sqlite', file);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('uses WAL and a busy timeout', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'db.sqlite');
    const ds = await openDataSource({
      databaseUrl: `sqlite:///${file}`,
      sqliteDefaultPath: '/nonexistent',
      entities: [Widget],
      migrations: [CreateWidget1700000000000],
      busyTimeoutMs: 1234,
    });
    const mode: { journal_mode: string }[] = await ds.dataSource.query('PRAGMA journal_mode');
    expect(mode[0]?.journal_mode).toBe('wal');
    const busy: { timeout: number }[] = await ds.dataSource.query('PRAGMA busy_timeout');
    expect(busy[0]?.timeout).toBe(1234);
    await ds.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('adopts a table created by someone else and adds missing columns', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'db.sqlite');
    const raw = new Database(file);
    raw.exec(
      "CREATE TABLE widget (id VARCHAR(40) PRIMARY KEY, count INTEGER); INSERT INTO widget VALUES ('old', 7)",
    );
    raw.close();
    const ds = await openDataSource({
      databaseUrl: 'sqlite',
      sqliteDefaultPath: file,
      entities: [Widget],
      migrations: [CreateWidget1700000000000],
    });
    const w = await ds.dataSource.getRepository(Widget).findOneByOrFail({ id: 'old' });
    expect(w).toEqual({ id: 'old', shiny: null, count: 7, note: null });
    await ds.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails with one clear line when the file cannot be opened', async () => {
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'not-a-dir'), '');
    const err = await openDataSource({
      databaseUrl: 'sqlite',
      sqliteDefaultPath: path.join(dir, 'not-a-dir', 'db.sqlite'),
      entities: [Widget],
      migrations: [],
    }).catch((e: unknown) => e);
    expect(hasErrorCode(err, PersistenceErrorCode.Unreachable)).toBe(true);
    expect(String((err as Error).message)).toMatch(/^cannot open SQLite database .*not-a-dir/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('openDataSource on PostgreSQL', () => {
  let pg: PrivatePostgres;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it('migrates and keeps records across reopen', async () => {
    await roundTrip(pg.url, '/unused');
  });

  it('reports an unreachable server without leaking the password', async () => {
    const port = pg.port === 1 ? 2 : 1;
    const err = await openDataSource({
      databaseUrl: `postgresql://keylime:topsecret@127.0.0.1:${port}/keylime`,
      sqliteDefaultPath: '/unused',
      entities: [Widget],
      migrations: [],
      connectTimeoutMs: 2000,
    }).catch((e: unknown) => e);
    expect(hasErrorCode(err, PersistenceErrorCode.Unreachable)).toBe(true);
    expect((err as Error).message).toMatch(
      /^cannot open PostgreSQL database keylime at 127\.0\.0\.1/,
    );
    expect((err as Error).message).not.toContain('topsecret');
  });

  it('creates extra databases for isolated tests', async () => {
    const url = await pg.createDatabase('second_db');
    const ds = await openDataSource({
      databaseUrl: url,
      sqliteDefaultPath: '/unused',
      entities: [Widget],
      migrations: [CreateWidget1700000000000],
    });
    expect(ds.applied).toHaveLength(1);
    await ds.close();
  });
});
