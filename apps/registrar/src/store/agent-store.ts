/**
 * @module agent-store: reads and writes registrations. Writes for one agent id are serialised in
 * this process, so check-validate-commit is atomic (upstream holds a per-agent lock likewise).
 */
import { QueryFailedError } from 'typeorm';
import type { DataSource, Repository } from 'typeorm';
import { RegistrarAgentRow } from './registrar-agent.entity';

/** A registration as the rest of the app sees it (the row without TypeORM). */
export type AgentRecord = {
  -readonly [K in keyof RegistrarAgentRow]: RegistrarAgentRow[K];
};

/** Raised when the database refuses a write because of a uniqueness constraint. */
export class DuplicateAgentError extends Error {
  constructor(agentId: string, options: { cause?: unknown } = {}) {
    super(`agent ${agentId} already exists`, options);
    this.name = 'DuplicateAgentError';
  }
}

export interface AgentStore {
  get(agentId: string): Promise<AgentRecord | undefined>;
  listIds(): Promise<string[]>;
  /** Inserts or updates. `isNew` → INSERT, so a concurrent insert of the same id fails. */
  save(record: AgentRecord, isNew: boolean): Promise<void>;
  remove(agentId: string): Promise<boolean>;
  /** Agent ids (other than `exceptId`) registered with exactly this ek_tpm. */
  idsWithEk(ekTpm: string, exceptId: string): Promise<string[]>;
  /** Runs `fn` with no other `withLock` of the same id running. */
  withLock<T>(agentId: string, fn: () => Promise<T>): Promise<T>;
}

function toRecord(row: RegistrarAgentRow): AgentRecord {
  return { ...row };
}

function isUniqueViolation(e: unknown): boolean {
  if (!(e instanceof QueryFailedError)) return false;
  const driverError: unknown = (e as { driverError?: unknown }).driverError;
  const code =
    typeof driverError === 'object' && driverError !== null && 'code' in driverError
      ? String(driverError.code)
      : '';
  // PostgreSQL unique_violation; better-sqlite3 constraint codes.
  return code === '23505' || code.startsWith('SQLITE_CONSTRAINT');
}

/** The store over a TypeORM data source. */
export function createAgentStore(dataSource: DataSource): AgentStore {
  const repo: Repository<RegistrarAgentRow> = dataSource.getRepository(RegistrarAgentRow);
  const locks = new Map<string, Promise<unknown>>();

  return {
    async get(agentId) {
      const row = await repo.findOneBy({ agentId });
      return row ? toRecord(row) : undefined;
    },
    async listIds() {
      const rows = await repo.find({ select: { agentId: true }, order: { agentId: 'ASC' } });
      return rows.map((r) => r.agentId);
    },
    async save(record, isNew) {
      try {
        if (isNew) await repo.insert({ ...record });
        else await repo.update({ agentId: record.agentId }, { ...record });
      } catch (e) {
        if (isUniqueViolation(e)) throw new DuplicateAgentError(record.agentId, { cause: e });
        throw e;
      }
    },
    async remove(agentId) {
      const result = await repo.delete({ agentId });
      return (result.affected ?? 0) > 0;
    },
    async idsWithEk(ekTpm, exceptId) {
      const rows = await repo.find({ select: { agentId: true }, where: { ekTpm } });
      return rows.map((r) => r.agentId).filter((id) => id !== exceptId);
    },
    async withLock(agentId, fn) {
      const previous = locks.get(agentId) ?? Promise.resolve();
      const run = previous.then(fn, fn);
      const settled = run.then(
        () => undefined,
        () => undefined,
      );
      locks.set(agentId, settled);
      try {
        return await run;
      } finally {
        // Drop the entry once nobody queued behind us (keeps the map from growing).
        if (locks.get(agentId) === settled) locks.delete(agentId);
      }
    },
  };
}
