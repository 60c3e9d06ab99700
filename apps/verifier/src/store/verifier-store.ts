/**
 * @module verifier-store: every database access of the verifier. Writes go through one serial
 * queue (one writer, as SQLite wants); the attestation loop's per-quote updates are coalesced per
 * agent and flushed in one transaction every few milliseconds, so 5 000 attestations/s cost a few
 * hundred transactions, not 5 000. Agent updates are guarded by "state not TERMINATED/TENANT_FAILED"
 * as upstream does (verifier §2.2), which closes the DELETE/stop race.
 */
import type { DataSource, QueryRunner, Repository } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { In, IsNull, MoreThan, Not } from 'typeorm';
import type { Logger } from '@keylime/core';
import { openDataSource } from '@keylime/persistence';
import type { Dialect, OpenedDataSource } from '@keylime/persistence';
import { OperationalState } from '@keylime/protocol';
import { VERIFIER_MIGRATIONS } from './migrations';
import { pgArrayText } from './pg-array-text';
import { AGENT_TABLE, ALLOWLIST_TABLE, MBPOLICY_TABLE, verifierEntities } from './schema';
import type { AgentRow, AllowlistRow, MbPolicyRow } from './schema';
import { SerialQueue } from './serial-queue';

export type AgentPatch = Partial<Omit<AgentRow, 'agentId'>>;

export interface OpenStoreOptions {
  readonly databaseUrl: string;
  readonly sqliteDefaultPath: string;
  readonly autoMigrate: boolean;
  readonly poolSize?: number;
  readonly logger: Logger;
  /** Milliseconds between flushes of queued agent updates. */
  readonly flushIntervalMs?: number;
}

/** States the loop attests again after a restart (verifier §2.1): the reactivate set. */
export const RESUMABLE_STATES: ReadonlySet<OperationalState> = new Set([
  OperationalState.Start,
  OperationalState.GetQuote,
  OperationalState.GetQuoteRetry,
  OperationalState.ProvideV,
  OperationalState.ProvideVRetry,
]);

/** States a DB write of the attestation loop must not overwrite (verifier §2.2). */
const FINAL_STATES = [OperationalState.Terminated, OperationalState.TenantFailed];

interface QueuedPatch {
  patch: AgentPatch;
  guarded: boolean;
}

function dialectOfUrl(url: string): Dialect {
  return /^postgres(?:ql)?(?:\+\w+)?:\/\//.test(url) ? 'postgres' : 'sqlite';
}

interface Row {
  agentId: string;
  values: unknown[];
}

/** Which columns a patch sets (sorted by column name) and the property behind each. */
interface PatchShape {
  readonly columns: ColumnMetadata[];
  readonly props: string[];
  /** Per column: the driver stores the value as it is (see storedAsIs). */
  readonly asIs: boolean[];
}

/** Column types whose values TypeORM's drivers pass through unchanged when there is no transformer. */
const PASS_THROUGH_TYPES = new Set<unknown>([
  String,
  Number,
  'varchar',
  'character varying',
  'text',
  'integer',
  'int',
  'bigint',
  'smallint',
  'bytea',
  'blob',
]);

/**
 * Whether preparePersistentValue returns a value of this column unchanged. Skipping the call for
 * those matters at 5 000 rows a second: TypeORM's PostgreSQL driver builds an array per call.
 */
function storedAsIs(column: ColumnMetadata): boolean {
  return column.transformer === undefined && PASS_THROUGH_TYPES.has(column.type);
}

function cmp(a: ColumnMetadata, b: ColumnMetadata): number {
  return a.databaseName < b.databaseName ? -1 : a.databaseName > b.databaseName ? 1 : 0;
}

/** Keeps single statements (and the arrays they carry) moderate. */
const PG_MAX_ROWS = 1_000;

/** The guard of applyPatch, as SQL over `prefix`operational_state. */
function guardSql(prefix: string, placeholders: string[]): string {
  return `(${prefix}"operational_state" IS NULL OR ${prefix}"operational_state" NOT IN (${placeholders.join(', ')}))`;
}

/** The part of a pg client the batched write uses (named statements are prepared once per connection). */
interface PgClient {
  query(config: {
    name: string;
    text: string;
    values: unknown[];
  }): Promise<{ rows: { agent_id: string }[] }>;
}

/** Statement names by SQL text: one text per (columns, guard), so a handful in practice. */
const pgStatementNames = new Map<string, string>();

function pgStatementName(sql: string): string {
  let name = pgStatementNames.get(sql);
  if (name !== undefined) return name;
  // Bounded like the patch shapes the SQL comes from; past that, unnamed (parsed each time).
  if (pgStatementNames.size >= 256) return '';
  name = `keylime_flush_${pgStatementNames.size + 1}`;
  pgStatementNames.set(sql, name);
  return name;
}

/**
 * One UPDATE … FROM unnest(column arrays) per chunk; returns the agent ids whose row was updated.
 * The text depends only on the columns and the guard, so it is a named statement, parsed and
 * planned once per connection, with one array parameter per column (not one per value).
 */
async function updatePostgres(
  runner: QueryRunner,
  columns: ColumnMetadata[],
  guarded: boolean,
  rows: Row[],
): Promise<Set<string>> {
  const hit = new Set<string>();
  const types = ['varchar', ...columns.map((c) => String(c.type))];
  const names = ['agent_id', ...columns.map((c) => c.databaseName)].map((n) => `"${n}"`);
  const set = columns.map((c) => `"${c.databaseName}" = x."${c.databaseName}"`).join(', ');
  let sql =
    `UPDATE "${AGENT_TABLE}" AS v SET ${set} ` +
    `FROM unnest(${types.map((t, i) => `$${i + 1}::${t}[]`).join(', ')}) AS x(${names.join(', ')}) ` +
    'WHERE v."agent_id" = x."agent_id"';
  if (guarded) {
    const ph = FINAL_STATES.map((_, i) => `$${types.length + i + 1}::integer`);
    sql += ` AND ${guardSql('v.', ph)}`;
  }
  sql += ' RETURNING v."agent_id"';
  const name = pgStatementName(sql);
  // The transaction's connection (TypeORM's runner has no named statements).
  const client = await (runner as unknown as { connect(): Promise<PgClient> }).connect();
  for (let start = 0; start < rows.length; start += PG_MAX_ROWS) {
    const part = rows.length <= PG_MAX_ROWS ? rows : rows.slice(start, start + PG_MAX_ROWS);
    const values: unknown[] = types.map(() => new Array<unknown>(part.length));
    for (let r = 0; r < part.length; r++) {
      const row = part[r] as Row;
      (values[0] as unknown[])[r] = row.agentId;
      for (let c = 0; c < columns.length; c++) (values[c + 1] as unknown[])[r] = row.values[c];
    }
    for (let c = 0; c < values.length; c++) {
      const text = pgArrayText(values[c] as unknown[]);
      if (text !== undefined) values[c] = text;
    }
    if (guarded) values.push(...FINAL_STATES);
    const result = await client.query({ name, text: sql, values });
    for (const rec of result.rows) hit.add(rec.agent_id);
  }
  return hit;
}

/** The parts of a better-sqlite3 connection the batched write uses. */
interface SqliteConnection {
  prepare(sql: string): { run(...params: unknown[]): { changes: number } };
}

type SqliteStatement = ReturnType<SqliteConnection['prepare']>;

/** Prepared UPDATEs per connection, by SQL text (a handful of column sets in practice). */
const sqliteStatements = new WeakMap<object, Map<string, SqliteStatement>>();

/**
 * One prepared statement run per row, inside the caller's transaction (SQLite has one connection,
 * so the statement runs in it). better-sqlite3 directly, not through TypeORM's query runner: at
 * 5 000 rows/s the runner's per-call objects were ≈ 6% of all the verifier's allocation.
 */
function updateSqlite(
  runner: QueryRunner,
  columns: ColumnMetadata[],
  guarded: boolean,
  rows: Row[],
): Set<string> {
  const hit = new Set<string>();
  const set = columns.map((c) => `"${c.databaseName}" = ?`).join(', ');
  let sql = `UPDATE "${AGENT_TABLE}" SET ${set} WHERE "agent_id" = ?`;
  if (guarded)
    sql += ` AND ${guardSql(
      '',
      FINAL_STATES.map(() => '?'),
    )}`;
  const db = (runner.connection.driver as unknown as { databaseConnection: SqliteConnection })
    .databaseConnection;
  let cache = sqliteStatements.get(db);
  if (!cache) sqliteStatements.set(db, (cache = new Map<string, SqliteStatement>()));
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    // Bounded like the patch shapes the SQL comes from.
    if (cache.size < 256) cache.set(sql, stmt);
  }
  for (const r of rows) {
    const info = guarded
      ? stmt.run(...r.values, r.agentId, ...FINAL_STATES)
      : stmt.run(...r.values, r.agentId);
    if (info.changes > 0) hit.add(r.agentId);
  }
  return hit;
}

/**
 * The ids a query returns when asked for the given ids in chunks (distinct ids, 500 at a time:
 * below either database's bound-parameter limit).
 */
async function idsFound(
  ids: Iterable<number>,
  find: (chunk: number[]) => Promise<{ id: number }[]>,
): Promise<Set<number>> {
  const all = [...new Set(ids)];
  const out = new Set<number>();
  for (let i = 0; i < all.length; i += 500)
    for (const r of await find(all.slice(i, i + 500))) out.add(r.id);
  return out;
}

/** The verifier's tables behind a small, typed API. */
export class VerifierStore {
  private readonly writes = new SerialQueue();
  private readonly pending = new Map<string, QueuedPatch>();
  private readonly shapes = new Map<string, PatchShape>();
  private timer: NodeJS.Timeout | undefined;
  /** The batch being written, if any. */
  private inFlight: Promise<void> | undefined;
  /** The batch that will take every queued patch once the one in flight is written. */
  private nextBatch: Promise<void> | undefined;
  private batches = 0;
  /** Called with the ids whose guarded update hit a final state or a deleted row. */
  onGuardMiss: (agentId: string) => void = () => undefined;
  /**
   * Runs first in every flush: with attestation workers, the main thread's store makes them write
   * their queued updates, so an API read or write after a flush sees every quote so far.
   */
  beforeFlush: (() => Promise<void>) | undefined;

  private constructor(
    private readonly opened: OpenedDataSource,
    private readonly flushIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  static async open(options: OpenStoreOptions): Promise<VerifierStore> {
    const dialect = dialectOfUrl(options.databaseUrl);
    const opened = await openDataSource({
      databaseUrl: options.databaseUrl,
      sqliteDefaultPath: options.sqliteDefaultPath,
      entities: verifierEntities(dialect),
      migrations: VERIFIER_MIGRATIONS,
      autoMigrate: options.autoMigrate,
      logger: options.logger,
      ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }),
    });
    return new VerifierStore(opened, options.flushIntervalMs ?? 50, options.logger);
  }

  get dataSource(): DataSource {
    return this.opened.dataSource;
  }

  private agents(): Repository<AgentRow> {
    return this.opened.dataSource.getRepository<AgentRow>(AGENT_TABLE);
  }

  private allowlists(): Repository<AllowlistRow> {
    return this.opened.dataSource.getRepository<AllowlistRow>(ALLOWLIST_TABLE);
  }

  private mbpolicies(): Repository<MbPolicyRow> {
    return this.opened.dataSource.getRepository<MbPolicyRow>(MBPOLICY_TABLE);
  }

  // ---- agents -------------------------------------------------------------------------------

  async getAgent(agentId: string): Promise<AgentRow | undefined> {
    return (await this.agents().findOneBy({ agentId })) ?? undefined;
  }

  /** Rows, optionally only those of one verifier id, ordered by agent id. */
  async listAgents(verifierId?: string): Promise<AgentRow[]> {
    return this.agents().find({
      where: verifierId === undefined ? {} : { verifierId },
      order: { agentId: 'ASC' },
    });
  }

  /**
   * Only the named columns of the rows, optionally of one verifier id, ordered by agent id: the
   * bulk status of 10 000 agents needs neither their PEMs nor their IMA state.
   */
  async listAgentColumns<K extends keyof AgentRow>(
    columns: readonly K[],
    verifierId?: string,
  ): Promise<Pick<AgentRow, K>[]> {
    const select: Partial<Record<keyof AgentRow, true>> = {};
    for (const c of columns) select[c] = true;
    return this.agents().find({
      select,
      where: verifierId === undefined ? {} : { verifierId },
      order: { agentId: 'ASC' },
    });
  }

  async listAgentIds(verifierId?: string): Promise<string[]> {
    const rows = await this.agents().find({
      select: { agentId: true },
      where: verifierId === undefined ? {} : { verifierId },
      order: { agentId: 'ASC' },
    });
    return rows.map((r) => r.agentId);
  }

  insertAgent(row: AgentRow): Promise<void> {
    return this.writes.run(async () => {
      await this.agents().insert(row);
    });
  }

  /** Immediate update; `guarded` skips rows in TERMINATED/TENANT_FAILED. Returns rows changed. */
  async updateAgent(agentId: string, patch: AgentPatch, guarded = true): Promise<number> {
    // A later immediate write must not be overtaken by an older queued one.
    await this.flush();
    return this.writes.run(() => this.applyPatch(this.agents(), agentId, patch, guarded));
  }

  /** Queues a patch (merged with earlier queued ones for the agent) for the next batch flush. */
  queueUpdate(agentId: string, patch: AgentPatch, guarded = true): void {
    const prev = this.pending.get(agentId);
    if (prev) {
      Object.assign(prev.patch, patch);
      prev.guarded = prev.guarded && guarded;
    } else {
      this.pending.set(agentId, { patch: { ...patch }, guarded });
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch((e: unknown) =>
        this.logger.error(`Writing agent updates failed: ${String(e)}`),
      );
    }, this.flushIntervalMs);
  }

  /**
   * Writes every queued patch; resolves when they are in the database. Callers share the next
   * batch, so a flush waits for at most the batch in flight and that one, however many timers and
   * API reads flush at once. (Each caller once queued its own turn: where a write took longer than
   * the flush interval, the turns piled up without bound and an API read waited over a minute.)
   */
  async flush(): Promise<void> {
    if (this.beforeFlush) await this.beforeFlush();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.size > 0 || this.nextBatch) await (this.nextBatch ??= this.writeNextBatch());
    else if (this.inFlight) await this.inFlight;
  }

  /** Batches written so far (for tests and statistics). */
  get batchesWritten(): number {
    return this.batches;
  }

  /** Waits for the batch in flight, then takes every queued patch as the next batch and writes it. */
  private async writeNextBatch(): Promise<void> {
    // Always awaits once, even with nothing in flight: the caller must have stored this promise as
    // nextBatch before it is cleared here.
    do await this.inFlight?.catch(() => undefined);
    while (this.inFlight);
    // From here on, new patches belong to a later batch.
    this.nextBatch = undefined;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.entries()];
    this.pending.clear();
    const misses: string[] = [];
    const written = this.writes.run(async () => {
      await this.opened.dataSource.transaction(async (m) => {
        const runner = m.queryRunner;
        if (!runner) throw new Error('transaction without a query runner');
        misses.push(...(await this.writeBatch(runner, batch)));
      });
    });
    this.inFlight = written;
    try {
      await written;
      this.batches++;
    } finally {
      if (this.inFlight === written) this.inFlight = undefined;
    }
    for (const id of misses) this.onGuardMiss(id);
  }

  /**
   * Writes a flush batch without TypeORM's per-row query building: on PostgreSQL one
   * UPDATE … FROM (VALUES …) per group of patches with the same columns and guard (one round trip
   * instead of one per agent), on SQLite one cached prepared statement per row. Values go through
   * the driver's preparePersistentValue, so the stored text/bytes equal what TypeORM writes.
   * Returns the guarded agents whose row was not updated.
   */
  private async writeBatch(
    runner: QueryRunner,
    batch: ReadonlyArray<[string, QueuedPatch]>,
  ): Promise<string[]> {
    // Groups by (guard, shape): shapes are cached objects, so no key string is built per row.
    const groups = [new Map<PatchShape, Row[]>(), new Map<PatchShape, Row[]>()];
    const misses: string[] = [];
    const driver = runner.connection.driver;
    const postgres = driver.options.type === 'postgres';
    for (const [agentId, q] of batch) {
      const shape = this.shapeOf(q.patch);
      if (shape === undefined) {
        // Nothing to set: keep TypeORM's own behaviour for this odd case.
        const repo = runner.manager.getRepository<AgentRow>(AGENT_TABLE);
        const n = await this.applyPatch(repo, agentId, q.patch, q.guarded);
        if (n === 0 && q.guarded) misses.push(agentId);
        continue;
      }
      const patch = q.patch as Record<string, unknown>;
      const values: unknown[] = new Array(shape.columns.length);
      for (let i = 0; i < values.length; i++) {
        const value = patch[shape.props[i] as string];
        const stored: unknown = shape.asIs[i]
          ? value
          : driver.preparePersistentValue(value, shape.columns[i] as ColumnMetadata);
        // better-sqlite3 binds no booleans (TypeORM's runner maps them the same way).
        values[i] = !postgres && typeof stored === 'boolean' ? Number(stored) : stored;
      }
      const group = groups[q.guarded ? 1 : 0] as Map<PatchShape, Row[]>;
      let rows = group.get(shape);
      if (!rows) group.set(shape, (rows = []));
      rows.push({ agentId, values });
    }
    for (const guarded of [false, true]) {
      for (const [shape, rows] of groups[guarded ? 1 : 0] as Map<PatchShape, Row[]>) {
        const hit = postgres
          ? await updatePostgres(runner, shape.columns, guarded, rows)
          : updateSqlite(runner, shape.columns, guarded, rows);
        if (guarded) for (const r of rows) if (!hit.has(r.agentId)) misses.push(r.agentId);
      }
    }
    return misses;
  }

  /**
   * The columns a patch sets, sorted by column name, with the property behind each; cached by the
   * patch's property names (a few shapes in practice). Undefined properties are left out, as
   * TypeORM does. Undefined when nothing is left.
   */
  private shapeOf(patch: AgentPatch): PatchShape | undefined {
    const all = patch as Record<string, unknown>;
    let props = Object.keys(all);
    for (const p of props) {
      if (all[p] === undefined) {
        props = props.filter((k) => all[k] !== undefined);
        break;
      }
    }
    if (props.length === 0) return undefined;
    const id = props.join(',');
    let shape = this.shapes.get(id);
    if (shape === undefined) {
      const metadata = this.opened.dataSource.getMetadata(AGENT_TABLE);
      const cells = props.map((prop) => {
        const column = metadata.findColumnWithPropertyName(prop);
        if (!column) throw new Error(`verifiermain has no property ${prop}`);
        return { prop, column };
      });
      cells.sort((a, b) => cmp(a.column, b.column));
      const columns = cells.map((c) => c.column);
      shape = { columns, props: cells.map((c) => c.prop), asIs: columns.map(storedAsIs) };
      // Bounded: patch shapes come from a few code paths, not from input.
      if (this.shapes.size < 256) this.shapes.set(id, shape);
    }
    return shape;
  }

  private async applyPatch(
    repo: Repository<AgentRow>,
    agentId: string,
    patch: AgentPatch,
    guarded: boolean,
  ): Promise<number> {
    let q = repo.createQueryBuilder().update().set(patch).where('agent_id = :agentId', { agentId });
    if (guarded) {
      q = q.andWhere('(operational_state IS NULL OR operational_state NOT IN (:...final))', {
        final: FINAL_STATES,
      });
    }
    const r = await q.execute();
    return r.affected ?? 0;
  }

  /**
   * Deletes the agent row, then the runtime and measured-boot policy rows named after the agent
   * (verifier §1.5: named, shared policies survive) unless another agent still uses them.
   */
  async deleteAgent(agentId: string): Promise<boolean> {
    await this.flush();
    this.pending.delete(agentId);
    return this.writes.run(() =>
      this.opened.dataSource.transaction(async (m) => {
        const agents = m.getRepository<AgentRow>(AGENT_TABLE);
        const r = await agents.delete({ agentId });
        if ((r.affected ?? 0) === 0) return false;
        const al = await m
          .getRepository<AllowlistRow>(ALLOWLIST_TABLE)
          .findOneBy({ name: agentId });
        if (al && (await agents.countBy({ imaPolicyId: al.id })) === 0) {
          await m.getRepository<AllowlistRow>(ALLOWLIST_TABLE).delete({ id: al.id });
        }
        const mb = await m.getRepository<MbPolicyRow>(MBPOLICY_TABLE).findOneBy({ name: agentId });
        if (mb && (await agents.countBy({ mbPolicyId: mb.id })) === 0) {
          await m.getRepository<MbPolicyRow>(MBPOLICY_TABLE).delete({ id: mb.id });
        }
        return true;
      }),
    );
  }

  /**
   * At start-up: rows of this verifier in the reactivate set {1,3,4,5,6} are reset to START and
   * returned (verifier §2.1); the caller resumes attesting them.
   */
  async resumeAgents(verifierId: string): Promise<AgentRow[]> {
    await this.flush();
    const active = [...RESUMABLE_STATES];
    return this.writes.run(async () => {
      const rows = await this.agents().find({
        where: { verifierId, operationalState: In(active) },
        order: { agentId: 'ASC' },
      });
      if (rows.length > 0) {
        await this.agents().update(
          { verifierId, operationalState: In(active) },
          { operationalState: OperationalState.Start },
        );
      }
      for (const r of rows) r.operationalState = OperationalState.Start;
      return rows;
    });
  }

  // ---- the status's policy flags ------------------------------------------------------------

  /** Of these runtime policy ids, those whose row has generator > 1 (a status flag). */
  allowlistIdsWithGenerator(ids: Iterable<number>): Promise<Set<number>> {
    return idsFound(ids, (chunk) =>
      this.allowlists().find({
        select: { id: true },
        where: { id: In(chunk), generator: MoreThan(1) },
      }),
    );
  }

  /** Of these measured-boot policy ids, those whose row holds a policy (a status flag). */
  mbPolicyIdsWithContent(ids: Iterable<number>): Promise<Set<number>> {
    return idsFound(ids, (chunk) =>
      this.mbpolicies().find({
        select: { id: true },
        where: { id: In(chunk), mbPolicy: Not(IsNull()) },
      }),
    );
  }

  // ---- runtime policies (allowlists) --------------------------------------------------------

  async getAllowlist(name: string): Promise<AllowlistRow | undefined> {
    return (await this.allowlists().findOneBy({ name })) ?? undefined;
  }

  async getAllowlistById(id: number): Promise<AllowlistRow | undefined> {
    return (await this.allowlists().findOneBy({ id })) ?? undefined;
  }

  async listAllowlistNames(): Promise<string[]> {
    const rows = await this.allowlists().find({ select: { name: true }, order: { id: 'ASC' } });
    return rows.map((r) => r.name);
  }

  insertAllowlist(row: Omit<AllowlistRow, 'id'>): Promise<AllowlistRow> {
    return this.writes.run(() => this.allowlists().save({ ...row }) as Promise<AllowlistRow>);
  }

  updateAllowlist(
    name: string,
    patch: Partial<Omit<AllowlistRow, 'id' | 'name'>>,
  ): Promise<number> {
    return this.writes.run(
      async () => (await this.allowlists().update({ name }, patch)).affected ?? 0,
    );
  }

  /** `in-use` when an agent references it (verifier §1.6: 409). */
  deleteAllowlist(name: string): Promise<'deleted' | 'missing' | 'in-use'> {
    return this.writes.run(async () => {
      const row = await this.allowlists().findOneBy({ name });
      if (!row) return 'missing';
      if ((await this.agents().countBy({ imaPolicyId: row.id })) > 0) return 'in-use';
      await this.allowlists().delete({ id: row.id });
      return 'deleted';
    });
  }

  // ---- measured-boot policies ---------------------------------------------------------------

  async getMbPolicy(name: string): Promise<MbPolicyRow | undefined> {
    return (await this.mbpolicies().findOneBy({ name })) ?? undefined;
  }

  async getMbPolicyById(id: number): Promise<MbPolicyRow | undefined> {
    return (await this.mbpolicies().findOneBy({ id })) ?? undefined;
  }

  async listMbPolicyNames(): Promise<string[]> {
    const rows = await this.mbpolicies().find({ select: { name: true }, order: { id: 'ASC' } });
    return rows.map((r) => r.name);
  }

  insertMbPolicy(row: Omit<MbPolicyRow, 'id'>): Promise<MbPolicyRow> {
    return this.writes.run(() => this.mbpolicies().save({ ...row }) as Promise<MbPolicyRow>);
  }

  updateMbPolicy(name: string, mbPolicy: string | null): Promise<number> {
    return this.writes.run(
      async () => (await this.mbpolicies().update({ name }, { mbPolicy })).affected ?? 0,
    );
  }

  deleteMbPolicy(name: string): Promise<'deleted' | 'missing' | 'in-use'> {
    return this.writes.run(async () => {
      const row = await this.mbpolicies().findOneBy({ name });
      if (!row) return 'missing';
      if ((await this.agents().countBy({ mbPolicyId: row.id })) > 0) return 'in-use';
      await this.mbpolicies().delete({ id: row.id });
      return 'deleted';
    });
  }

  async close(): Promise<void> {
    await this.flush();
    await this.writes.idle();
    await this.opened.close();
  }
}
