import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import {
  SimulatedAgent,
  createFleetIdentity,
  serveSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { RunningSimulatedAgent } from '../../../tools/fleet/simulated-agent';
import { enrolmentBody, startTestVerifier, waitFor } from './support/harness';
import type { TestVerifier } from './support/harness';

// When the verifier cannot read an agent's policy from its own database, that is the verifier's
// fault, not the agent's: the agent is asked again later and judged once the database is back —
// never marked FAILED for it.
describe('a database that cannot be read', () => {
  let v: TestVerifier;
  let served: RunningSimulatedAgent | undefined;

  beforeAll(async () => {
    v = await startTestVerifier({
      env: {
        KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.2',
        KEYLIME_VERIFIER_RETRY_INTERVAL: '0.2',
        KEYLIME_VERIFIER_EXPONENTIAL_BACKOFF: 'False',
        KEYLIME_VERIFIER_MAX_RETRIES: '1000',
      },
    });
  }, 60_000);

  afterAll(async () => {
    await v.stop();
    await served?.close();
    fs.rmSync(v.dir, { recursive: true, force: true });
  });

  it('policy reads that fail delay the verdict instead of failing the agent', async () => {
    const agent = new SimulatedAgent({
      agentId: 'db-fault',
      identity: await createFleetIdentity(),
    });
    // Answer 500 at first, so the verifier holds the agent in retries without reading a policy.
    agent.misbehaviour = 'http-500';
    served = await serveSimulatedAgent(agent, v.caCert);
    const r = await v.request('POST', '/v2.6/agents/db-fault', enrolmentBody(agent, served.port));
    expect(r.status).toBe(200);
    await waitFor(() => (agent.versionsRequested.length >= 2 ? true : undefined));
    expect(agent.quotesServed).toBe(0);

    // A second connection takes the policy table away, as a broken database would.
    const db = new Database(path.join(v.dir, 'cv_data.sqlite'));
    try {
      db.exec('ALTER TABLE allowlists RENAME TO allowlists_away');
      agent.misbehaviour = 'none';
      // Quotes are fetched, but none can be judged.
      await waitFor(() => (agent.quotesServed >= 3 ? true : undefined));
      db.exec('ALTER TABLE allowlists_away RENAME TO allowlists');
    } finally {
      db.close();
    }

    const s = await waitFor(async () => {
      const st = (await v.request('GET', '/v2.6/agents/db-fault')).json().results;
      return (st['attestation_count'] as number) >= 2 ? st : undefined;
    });
    expect(s['operational_state']).toBe(3); // GET_QUOTE, never FAILED
    expect(s['attestation_status']).toBe('PASS');
    expect(s['last_event_id']).toBeNull();
  });
});
