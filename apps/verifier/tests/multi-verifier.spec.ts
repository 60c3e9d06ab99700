import fs from 'node:fs';
import { startPrivatePostgres } from '@keylime/persistence/src/testing';
import type { PrivatePostgres } from '@keylime/persistence/src/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import {
  SimulatedAgent,
  createFleetIdentity,
  serveSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { RunningSimulatedAgent } from '../../../tools/fleet/simulated-agent';
import { engineOf, enrolmentBody, startTestVerifier, waitFor } from './support/harness';
import type { TestVerifier } from './support/harness';

// Two verifiers with different `uuid`s share one PostgreSQL database (verifier §7.1): each
// attests only its own agents, lists filter by verifier id, and a restart resumes only its own.
describe('several verifiers on one PostgreSQL database', () => {
  let pg: PrivatePostgres;
  let v1: TestVerifier;
  let v2: TestVerifier;
  const served: RunningSimulatedAgent[] = [];
  const agents = new Map<string, SimulatedAgent>();

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    const common = {
      KEYLIME_VERIFIER_DATABASE_URL: pg.url,
      KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.3',
    };
    v1 = await startTestVerifier({ env: { ...common, KEYLIME_VERIFIER_UUID: 'v1' } });
    // Same CA for both, as a real deployment shares cv_ca: copy v1's directory before v2 starts.
    const dir2 = `${v1.dir}-2`;
    fs.cpSync(`${v1.dir}/cv_ca`, `${dir2}/cv_ca`, { recursive: true });
    v2 = await startTestVerifier({ dir: dir2, env: { ...common, KEYLIME_VERIFIER_UUID: 'v2' } });
    const identity = await createFleetIdentity();
    for (const [id, v] of [
      ['agent-of-v1', v1],
      ['agent-of-v2', v2],
    ] as const) {
      const agent = new SimulatedAgent({ agentId: id, identity });
      const s = await serveSimulatedAgent(agent, v1.caCert);
      served.push(s);
      agents.set(id, agent);
      expect(
        (await v.request('POST', `/v2.6/agents/${id}`, enrolmentBody(agent, s.port))).status,
      ).toBe(200);
    }
  }, 60_000);

  afterAll(async () => {
    await v1.stop();
    await v2.stop();
    await Promise.all(served.map((s) => s.close()));
    await pg.stop();
    fs.rmSync(v1.dir, { recursive: true, force: true });
    fs.rmSync(v2.dir, { recursive: true, force: true });
  });

  it('each verifier attests only the agents of its verifier id', async () => {
    for (const [id, v] of [
      ['agent-of-v1', v1],
      ['agent-of-v2', v2],
    ] as const) {
      const st = await waitFor(async () => {
        const s = (await v.request('GET', `/v2.6/agents/${id}`)).json().results;
        return (s['attestation_count'] as number) >= 2 ? s : undefined;
      });
      expect(st['operational_state']).toBe(3);
    }
    expect(engineOf(v1).runtime('agent-of-v2')).toBeUndefined();
    expect(engineOf(v2).runtime('agent-of-v1')).toBeUndefined();
  });

  it('lists by verifier id and refuses to delete another verifier’s agent', async () => {
    expect((await v1.request('GET', '/v2.6/agents/?verifier=v2')).json().results).toEqual({
      uuids: [['agent-of-v2']],
    });
    expect((await v2.request('GET', '/v2.6/agents/')).json().results['uuids']).toHaveLength(2);
    const bulk = (await v1.request('GET', '/v2.6/agents/?bulk=1&verifier=v1')).json().results;
    expect(Object.keys(bulk)).toEqual(['agent-of-v1']);
    expect((await v1.request('DELETE', '/v2.6/agents/agent-of-v2')).status).toBe(404);
    expect((await v1.request('PUT', '/v2.6/agents/agent-of-v2/stop')).status).toBe(400);
  });

  it('a restarted verifier resumes only its own agents', async () => {
    const dir = v2.dir;
    await v2.stop();
    v2 = await startTestVerifier({
      dir,
      env: {
        KEYLIME_VERIFIER_DATABASE_URL: pg.url,
        KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.3',
        KEYLIME_VERIFIER_UUID: 'v2',
      },
    });
    expect(engineOf(v2).size).toBe(1);
    expect(engineOf(v2).runtime('agent-of-v2')).toBeDefined();
  });
});
