import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@keylime/core';
import { OperationalState } from '@keylime/protocol';
import { startPrivatePostgres } from '@keylime/persistence/src/testing';
import type { PrivatePostgres } from '@keylime/persistence/src/testing';
import { VerifierStore } from '../src/store/verifier-store';
import type { AgentPatch } from '../src/store/verifier-store';
import type { AgentRow } from '../src/store/schema';

// The batched flush (raw UPDATE … FROM VALUES on PostgreSQL, prepared statement per row on SQLite)
// must store exactly what TypeORM's per-agent UPDATE stores, with the same guard.
const backends: [string, boolean][] = [
  ['sqlite', false],
  ['postgresql', true],
];

function agentRow(agentId: string, o: Partial<AgentRow> = {}): AgentRow {
  return {
    agentId,
    v: 'v-key',
    ip: '127.0.0.1',
    port: 9002,
    verifierId: 'default',
    verifierIp: '127.0.0.1',
    verifierPort: 8881,
    operationalState: OperationalState.GetQuote,
    publicKey: null,
    tpmPolicy: JSON.stringify('{}'),
    metaData: '{}',
    imaPolicyId: null,
    mbPolicyId: null,
    imaSignVerificationKeys: '',
    revocationKey: '',
    acceptTpmHashAlgs: '["sha256"]',
    acceptTpmEncryptionAlgs: '["ecc"]',
    acceptTpmSigningAlgs: '["ecschnorr"]',
    hashAlg: 'sha256',
    encAlg: 'ecc',
    signAlg: 'ecschnorr',
    boottime: 0,
    imaPcrs: '[]',
    pcr10: null,
    nextImaMlEntry: 0,
    severityLevel: null,
    lastEventId: null,
    learnedImaKeyrings: '{}',
    supportedVersion: '2.1',
    akTpm: 'ak',
    mtlsCert: null,
    attestationCount: 0,
    lastReceivedQuote: 0,
    lastSuccessfulAttestation: 0,
    tpmClockinfo: null,
    acceptAttestations: true,
    consecutiveAttestationFailures: 0,
    ...o,
  };
}

const success = (i: number): AgentPatch => ({
  attestationCount: i + 1,
  lastReceivedQuote: 1_700_000_000 + i,
  lastSuccessfulAttestation: 1_700_000_000 + i,
  operationalState: OperationalState.GetQuote,
  tpmClockinfo: JSON.stringify({ clock: i, reset_count: 0 }),
  pcr10: Buffer.from([i & 0xff, 0, 0xff]),
  nextImaMlEntry: i * 3,
  learnedImaKeyrings: JSON.stringify({ '.ima': [`k${i}`] }),
  consecutiveAttestationFailures: 0,
  severityLevel: null,
  lastEventId: undefined,
});

describe.each(backends)('verifier store batch flush on %s', (_name, usePostgres) => {
  let pg: PrivatePostgres | undefined;
  let dir: string;
  let store: VerifierStore;
  let seq = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verifier-store-'));
    if (usePostgres) pg = await startPrivatePostgres();
  }, 60_000);

  beforeEach(async () => {
    seq += 1;
    const databaseUrl = pg ? await pg.createDatabase(`flush${seq}`) : 'sqlite';
    store = await VerifierStore.open({
      databaseUrl,
      sqliteDefaultPath: path.join(dir, `v${seq}.sqlite`),
      autoMigrate: true,
      logger: silentLogger,
      flushIntervalMs: 60_000,
    });
  });

  afterEach(async () => {
    await store.close();
  });

  afterAll(async () => {
    await pg?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('flushes several agents in one batch, equal to the per-agent TypeORM update', async () => {
    const ids = ['a0', 'a1', 'a2', 'a3'];
    for (const id of ids) {
      await store.insertAgent(agentRow(id));
      await store.insertAgent(agentRow(`ref-${id}`));
    }
    await store.insertAgent(agentRow('dead', { operationalState: OperationalState.Terminated }));
    await store.insertAgent(
      agentRow('failed', { operationalState: OperationalState.TenantFailed }),
    );
    await store.insertAgent(agentRow('forced', { operationalState: OperationalState.Terminated }));
    const misses: string[] = [];
    store.onGuardMiss = (id) => misses.push(id);

    // Reference rows through the old path (TypeORM's UPDATE per agent).
    for (const [i, id] of ids.entries()) await store.updateAgent(`ref-${id}`, success(i));
    // Array-text syntax inside a value: quotes, a backslash, braces, a comma.
    const awkward = '{"path":"C:\\\\keys \\"q\\" {1,2}"}';
    await store.updateAgent('ref-a3', { acceptAttestations: false, metaData: awkward });

    ids.forEach((id, i) => store.queueUpdate(id, success(i)));
    // A different column set in the same batch, merged with the earlier patch.
    store.queueUpdate('a3', { acceptAttestations: false, metaData: awkward });
    store.queueUpdate('dead', success(7));
    store.queueUpdate('failed', { attestationCount: 99 });
    store.queueUpdate('gone', success(8));
    store.queueUpdate(
      'forced',
      { attestationCount: 5, operationalState: OperationalState.Start },
      false,
    );
    await store.flush();

    for (const id of ids) {
      const got = await store.getAgent(id);
      const ref = await store.getAgent(`ref-${id}`);
      expect(got).toEqual({ ...ref, agentId: id });
    }
    const a1 = await store.getAgent('a1');
    expect(a1?.attestationCount).toBe(2);
    expect(a1?.pcr10).toEqual(Buffer.from([1, 0, 0xff]));
    expect(a1?.tpmClockinfo).toBe('{"clock":1,"reset_count":0}');
    expect(a1?.acceptAttestations).toBe(true);
    expect((await store.getAgent('a3'))?.acceptAttestations).toBe(false);
    expect((await store.getAgent('a3'))?.metaData).toBe(awkward);

    // Final states are not overwritten by guarded writes; unguarded ones still apply.
    expect(await store.getAgent('dead')).toEqual(
      agentRow('dead', { operationalState: OperationalState.Terminated }),
    );
    expect(await store.getAgent('failed')).toEqual(
      agentRow('failed', { operationalState: OperationalState.TenantFailed }),
    );
    const forced = await store.getAgent('forced');
    expect(forced?.attestationCount).toBe(5);
    expect(forced?.operationalState).toBe(OperationalState.Start);
    expect(misses.sort()).toEqual(['dead', 'failed', 'gone']);
  });

  it('lets concurrent flushes share a batch, so a flush under load waits for two at most', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `load-${i}`);
    for (const id of ids) await store.insertAgent(agentRow(id));
    await store.insertAgent(agentRow('probe'));
    // A loaded verifier: every tick a quote result is queued and someone flushes (timers, reads).
    const last = new Map<string, number>();
    const flushes: Promise<void>[] = [];
    let running = true;
    let n = 0;
    const producer = (async () => {
      while (running) {
        const id = ids[n % ids.length] ?? '';
        n += 1;
        store.queueUpdate(id, { attestationCount: n });
        last.set(id, n);
        flushes.push(store.flush());
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));

    store.queueUpdate('probe', { attestationCount: 42 });
    const before = store.batchesWritten;
    await store.flush();
    // The batch in flight, then the one that took the probe's patch.
    expect(store.batchesWritten - before).toBeLessThanOrEqual(2);
    running = false;
    await producer;
    await Promise.all(flushes);
    expect((await store.getAgent('probe'))?.attestationCount).toBe(42);
    // Every agent holds the last patch queued for it: nothing lost or reordered under load.
    for (const [id, count] of last)
      expect((await store.getAgent(id))?.attestationCount).toBe(count);
  });

  it('writes batches larger than one statement chunk', async () => {
    const n = 1_234;
    const ids = Array.from({ length: n }, (_, i) => `bulk-${String(i).padStart(5, '0')}`);
    for (const id of ids) await store.insertAgent(agentRow(id));
    await store.updateAgent(ids[10] ?? '', { operationalState: OperationalState.Terminated });
    const misses: string[] = [];
    store.onGuardMiss = (id) => misses.push(id);
    ids.forEach((id, i) => store.queueUpdate(id, success(i)));
    await store.flush();
    const rows = await store.listAgents('default');
    expect(rows).toHaveLength(n);
    for (const [i, r] of rows.entries()) {
      if (i === 10) {
        expect(r.attestationCount).toBe(0);
        continue;
      }
      expect(r.attestationCount).toBe(i + 1);
      expect(r.nextImaMlEntry).toBe(i * 3);
    }
    expect(misses).toEqual([ids[10]]);
  }, 60_000);
});
