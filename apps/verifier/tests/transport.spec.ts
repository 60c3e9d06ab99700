import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import { Subscriber } from 'zeromq';
import { verifyRevocationMessage } from '@keylime/crypto';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import {
  SimulatedAgent,
  createFleetIdentity,
  serveSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { FleetIdentity, RunningSimulatedAgent } from '../../../tools/fleet/simulated-agent';
import {
  agentStatus,
  attestedAtLeast,
  enrolmentBody,
  startTestVerifier,
  waitFor,
} from './support/harness';
import type { TestVerifier } from './support/harness';
import { freePort } from '@keylime/persistence/src/testing';

// How the loop reaches agents and the outside world: plain-HTTP agents with
// enable_agent_mtls = false (verifier §1.8), version renegotiation on "API version not supported"
// (agent-registrar-tenant §2.4), and the ZeroMQ revocation channel (verifier §6.4).

describe('agent transport, version renegotiation and ZeroMQ notifications', () => {
  let v: TestVerifier;
  let identity: FleetIdentity;
  let zmqPort: number;
  let sub: Subscriber;
  const served: RunningSimulatedAgent[] = [];
  const revocation = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const revocationKey = revocation.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

  beforeAll(async () => {
    identity = await createFleetIdentity();
    zmqPort = await freePort();
    v = await startTestVerifier({
      env: {
        KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.3',
        KEYLIME_VERIFIER_ENABLE_AGENT_MTLS: 'False',
        KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS: "['zeromq']",
        KEYLIME_VERIFIER_REVOCATIONS_ZMQ_IP: '127.0.0.1',
        KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT: String(zmqPort),
      },
    });
    sub = new Subscriber({ receiveTimeout: 8000 });
    sub.connect(`tcp://127.0.0.1:${zmqPort}`);
    sub.subscribe();
  }, 60_000);

  afterAll(async () => {
    sub.close();
    await v.stop();
    await Promise.all(served.map((s) => s.close()));
    fs.rmSync(v.dir, { recursive: true, force: true });
  });

  /** Enrols a plain-HTTP agent the way the tenant does when agent mTLS is off. */
  async function enrol(
    id: string,
    apiVersions?: readonly string[],
    body: Record<string, unknown> = {},
  ): Promise<SimulatedAgent> {
    const agent = new SimulatedAgent({
      agentId: id,
      identity,
      ...(apiVersions ? { apiVersions } : {}),
    });
    const s = await serveSimulatedAgent(agent, null);
    served.push(s);
    const r = await v.request(
      'POST',
      `/v2.6/agents/${id}`,
      enrolmentBody(agent, s.port, { mtls_cert: 'disabled', ...body }),
    );
    expect(r.status).toBe(200);
    return agent;
  }

  const status = (id: string): Promise<Record<string, unknown>> => agentStatus(v, id);

  const attested = (id: string, count: number): Promise<Record<string, unknown>> =>
    attestedAtLeast(v, id, count);

  it('attests a plain-HTTP agent (enable_agent_mtls = false) and delivers V', async () => {
    const agent = await enrol('plain');
    const s = await attested('plain', 2);
    expect(s['operational_state']).toBe(3);
    expect(agent.vkeys).toHaveLength(1);
  });

  it('renegotiates when the agent refuses the enrolled version: /version, store, retry', async () => {
    const agent = await enrol('old-agent', ['2.1', '2.2']);
    await attested('old-agent', 2);
    expect(agent.versionsRequested[0]).toBe('2.6');
    expect(agent.versionsRequested.slice(1).every((x) => x === '2.2')).toBe(true);
    await v.verifier.store.flush();
    expect((await v.verifier.store.getAgent('old-agent'))?.supportedVersion).toBe('2.2');
  });

  it('no common version → FAILED with internal.verifier.version_not_supported', async () => {
    await enrol('ancient-agent', ['1.0']);
    const s = await waitFor(async () => {
      const st = await status('ancient-agent');
      return st['operational_state'] === 7 ? st : undefined;
    });
    expect(s['last_event_id']).toBe('internal.verifier.version_not_supported');
  });

  it('publishes the signed revocation envelope on the ZeroMQ PUB socket', async () => {
    const agent = await enrol('zmq-victim', undefined, { revocation_key: revocationKey });
    await attested('zmq-victim', 1);
    agent.tamper('/opt/zmq-evil');
    // Other agents' notifications may arrive first; take the one about this agent.
    let envelope: { msg: string; signature: string } | undefined;
    let text = '';
    while (envelope === undefined) {
      const [frame] = await sub.receive();
      text = String(frame);
      const e = JSON.parse(text) as { msg: string; signature: string };
      if (e.msg.includes('"agent_id": "zmq-victim"')) envelope = e;
    }
    // The frame is upstream's json.dumps of the envelope (Python separators).
    expect(text.startsWith('{"msg": "')).toBe(true);
    expect(verifyRevocationMessage(revocation.publicKey, envelope.msg, envelope.signature)).toBe(
      true,
    );
    const msg = JSON.parse(envelope.msg) as Record<string, unknown>;
    expect(msg['type']).toBe('revocation');
    expect(msg['event_id']).toBe('ima.validation.ima-ng.not_in_allowlist');
    expect(String(msg['context'])).toContain('/opt/zmq-evil');
  });
});
