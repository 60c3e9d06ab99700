// The workers load the verifier's TypeScript through @swc/core's native binding. Loaded here
// first, it stays resident: otherwise the first worker's exit unloads it and the next worker that
// loads it crashes the process (the bundled verifier's workers do not use it).
import '@swc/core';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { verifyRevocationMessage } from '@keylime/crypto';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import {
  SimulatedAgent,
  createFleetIdentity,
  serveSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { FleetIdentity, RunningSimulatedAgent } from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import { fileDigest } from '../../../tools/fleet/ima-log';
import { shardOf } from '../src/attestation/attestation-workers';
import type { AttestationWorkers } from '../src/attestation/attestation-workers';
import {
  agentStatus,
  attestedAtLeast,
  enrolmentBody,
  readMetrics,
  startTestVerifier,
  waitFor,
} from './support/harness';
import type { TestVerifier } from './support/harness';

// The attestation loop in worker threads (`num_workers = 2`): agents are sharded over the
// workers, the API still sees every quote (flush before reads), stop/delete/reactivate reach the
// owning worker, a policy change reaches every worker, a revocation raised in one worker is sent
// to agents attested by the other, and a restart resumes every agent in its worker.

const SHIM = path.join(__dirname, 'support', 'attestation-worker-shim.cjs');

/** Agent ids that land on worker 0 and on worker 1 of two. */
function idsFor(prefix: string): [string, string] {
  let zero: string | undefined;
  let one: string | undefined;
  for (let i = 0; zero === undefined || one === undefined; i++) {
    const id = `${prefix}-${i}`;
    if (shardOf(id, 2) === 0) zero ??= id;
    else one ??= id;
  }
  return [zero, one];
}

describe('attestation in worker threads', () => {
  let v: TestVerifier;
  let identity: FleetIdentity;
  const served: RunningSimulatedAgent[] = [];
  const revocation = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const revocationKey = revocation.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const env = {
    KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.3',
    KEYLIME_VERIFIER_NUM_WORKERS: '2',
    KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS: "['agent']",
  };
  const start = (dir?: string): Promise<TestVerifier> =>
    startTestVerifier({ ...(dir ? { dir } : {}), env, extra: { workerScript: SHIM } });

  beforeAll(async () => {
    identity = await createFleetIdentity();
    v = await start();
  }, 60_000);

  afterAll(async () => {
    await v.stop();
    await Promise.all(served.map((s) => s.close()));
    fs.rmSync(v.dir, { recursive: true, force: true });
  });

  function workers(): AttestationWorkers {
    const w = v.verifier.workers;
    if (!w) throw new Error('expected attestation workers');
    return w;
  }

  async function enrol(id: string, body: Record<string, unknown> = {}): Promise<SimulatedAgent> {
    const agent = new SimulatedAgent({ agentId: id, identity });
    const s = await serveSimulatedAgent(agent, v.caCert);
    served.push(s);
    const r = await v.request('POST', `/v2.6/agents/${id}`, enrolmentBody(agent, s.port, body));
    expect(r.status).toBe(200);
    return agent;
  }

  const status = (id: string): Promise<Record<string, unknown>> => agentStatus(v, id);

  const attested = (id: string, count: number): Promise<Record<string, unknown>> =>
    attestedAtLeast(v, id, count);

  it('shards agents over two workers and the API sees every quote at once', async () => {
    expect(v.verifier.engine).toBeUndefined();
    expect(workers().count).toBe(2);
    const [a, b] = idsFor('shard');
    const agentA = await enrol(a);
    const agentB = await enrol(b);
    await attested(a, 3);
    await attested(b, 3);
    expect((await workers().stats()).agents).toBe(2);
    // V went out once per agent, from whichever worker owns it.
    expect(agentA.vkeys).toHaveLength(1);
    expect(agentB.vkeys).toHaveLength(1);
    // A read after the flush reports at least what the agent has served before it.
    const served = agentA.quotesServed;
    expect((await status(a))['attestation_count'] as number).toBeGreaterThanOrEqual(served - 1);

    // GET /metrics adds up both workers: two agents, and a verdict time for every quote.
    const attestedBefore = agentA.quotesServed + agentB.quotesServed;
    const { response, value } = await readMetrics(v);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(value('keylime_verifier_agents')).toBe(2);
    const total = value('keylime_verifier_attestations_total');
    // Each worker attested its agent at least three times; a quote still in flight may be missing.
    expect(total).toBeGreaterThanOrEqual(6);
    expect(total).toBeLessThanOrEqual(attestedBefore + 2);
    expect(value('keylime_verifier_quote_verdict_seconds_count')).toBeGreaterThanOrEqual(total);
  });

  it('stop, reactivate and delete reach the worker that owns the agent', async () => {
    const [a] = idsFor('ctl');
    const agent = await enrol(a);
    await attested(a, 1);
    expect((await v.request('PUT', `/v2.6/agents/${a}/stop`)).status).toBe(200);
    expect((await status(a))['operational_state']).toBe(10); // TENANT_FAILED
    const stoppedAt = agent.quotesServed;
    await new Promise((r) => setTimeout(r, 1000));
    expect(agent.quotesServed).toBe(stoppedAt);
    expect((await v.request('PUT', `/v2.6/agents/${a}/reactivate`)).status).toBe(200);
    await waitFor(() => (agent.quotesServed > stoppedAt + 1 ? true : undefined));
    const del = await v.request('DELETE', `/v2.6/agents/${a}`);
    expect([200, 202]).toContain(del.status);
    await waitFor(async () =>
      (await v.request('GET', `/v2.6/agents/${a}`)).status === 404 ? true : undefined,
    );
    const gone = agent.quotesServed;
    await new Promise((r) => setTimeout(r, 1000));
    expect(agent.quotesServed).toBeLessThanOrEqual(gone + 1);
  });

  it('a revocation raised in one worker reaches an agent attested by the other', async () => {
    const [victimId, peerId] = idsFor('revoke');
    const victim = await enrol(victimId, { revocation_key: revocationKey });
    const peer = await enrol(peerId, { revocation_key: revocationKey });
    await attested(victimId, 1);
    await attested(peerId, 1);
    victim.tamper('/opt/worker-evil');
    const received = await waitFor(() =>
      peer.revocations.find((r) => r.msg.includes(`"agent_id": "${victimId}"`)),
    );
    expect(verifyRevocationMessage(revocation.publicKey, received.msg, received.signature)).toBe(
      true,
    );
    const s = await status(victimId);
    expect(s['operational_state']).toBe(9); // INVALID_QUOTE
    expect(s['last_event_id']).toBe('ima.validation.ima-ng.not_in_allowlist');
    // The failed agent itself is not told.
    expect(victim.revocations.some((r) => r.msg.includes(`"agent_id": "${victimId}"`))).toBe(false);
  });

  it('a named policy replaced through the API is used by every worker', async () => {
    const [a, b] = idsFor('policy');
    const agentA = new SimulatedAgent({ agentId: a, identity });
    const agentB = new SimulatedAgent({ agentId: b, identity });
    // One policy for both (their boot_aggregates differ): the union of what each measures.
    const policyFor = (extra: Record<string, string[]>): string => {
      const pa = agentA.runtimePolicy();
      const pb = agentB.runtimePolicy();
      const digests = {
        ...(pa['digests'] as Record<string, string[]>),
        ...(pb['digests'] as Record<string, string[]>),
        ...extra,
      };
      digests['boot_aggregate'] = [agentA.bootAggregate(), agentB.bootAggregate()];
      return Buffer.from(JSON.stringify({ ...pa, digests })).toString('base64');
    };
    const created = await v.request('POST', '/v2.6/allowlists/shared-policy', {
      runtime_policy: policyFor({}),
    });
    expect(created.status).toBe(201);
    for (const agent of [agentA, agentB]) {
      const s = await serveSimulatedAgent(agent, v.caCert);
      served.push(s);
      const body = enrolmentBody(agent, s.port, {
        runtime_policy: '',
        runtime_policy_name: 'shared-policy',
      });
      expect((await v.request('POST', `/v2.6/agents/${agent.agentId}`, body)).status).toBe(200);
    }
    await attested(a, 2);
    await attested(b, 2);
    // Both workers have compiled and cached the policy. Replace it with one that also allows
    // the file the agents are about to measure: a worker still using its cached copy would fail.
    const file = '/usr/bin/added-by-policy-update';
    const put = await v.request('PUT', '/v2.6/allowlists/shared-policy', {
      runtime_policy: policyFor({ [file]: [fileDigest(file, 666)] }),
    });
    expect(put.status).toBe(201);
    agentA.tamper(file);
    agentB.tamper(file);
    const counts = [
      (await status(a))['attestation_count'] as number,
      (await status(b))['attestation_count'] as number,
    ];
    await attested(a, (counts[0] ?? 0) + 2);
    await attested(b, (counts[1] ?? 0) + 2);
    for (const id of [a, b]) {
      const st = await status(id);
      expect(st['operational_state']).toBe(3);
      expect(st['attestation_status']).toBe('PASS');
    }
  });

  it('a restart resumes every active agent in its worker', async () => {
    const [a, b] = idsFor('resume');
    const agentA = await enrol(a);
    const agentB = await enrol(b);
    await attested(a, 1);
    await attested(b, 1);
    const before = (await workers().stats()).agents;
    const dir = v.dir;
    await v.stop();
    const [quotesA, quotesB] = [agentA.quotesServed, agentB.quotesServed];
    v = await start(dir);
    expect((await workers().stats()).agents).toBe(before);
    await waitFor(() =>
      agentA.quotesServed > quotesA + 1 && agentB.quotesServed > quotesB + 1 ? true : undefined,
    );
  }, 30_000);
});
