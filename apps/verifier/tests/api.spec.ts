import fs from 'node:fs';
import { startPrivatePostgres } from '@keylime/persistence/src/testing';
import type { PrivatePostgres } from '@keylime/persistence/src/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import { SimulatedAgent, createFleetIdentity } from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type { FleetIdentity } from '../../../tools/fleet/simulated-agent';
import { enrolmentBody, startTestVerifier } from './support/harness';
import type { TestVerifier } from './support/harness';

// The REST surface (verifier §1.2-§1.6) on SQLite and, once, on PostgreSQL. Nothing is polled:
// the agents point at a closed port and the loop's failures do not matter here.
const backends: [string, boolean][] = [
  ['sqlite', false],
  ['postgresql', true],
];

describe.each(backends)('verifier REST API on %s', (_name, usePostgres) => {
  let pg: PrivatePostgres | undefined;
  let v: TestVerifier;
  let identity: FleetIdentity;
  let agent: SimulatedAgent;
  const closedPort = 1;

  beforeAll(async () => {
    const env: Record<string, string> = { KEYLIME_VERIFIER_QUOTE_INTERVAL: '3600' };
    if (usePostgres) {
      pg = await startPrivatePostgres();
      env['KEYLIME_VERIFIER_DATABASE_URL'] = pg.url;
    }
    identity = await createFleetIdentity();
    agent = new SimulatedAgent({ agentId: 'api-agent', identity });
    v = await startTestVerifier({ env });
  }, 60_000);

  afterAll(async () => {
    await v.stop();
    await pg?.stop();
    fs.rmSync(v.dir, { recursive: true, force: true });
  });

  const body = (o: Record<string, unknown> = {}) => enrolmentBody(agent, closedPort, o);

  it('enrols an agent and shows upstream status fields', async () => {
    const r = await v.request('POST', '/v2.6/agents/a1', body({ metadata: '{"cert_serial": 3}' }));
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ code: 200, status: 'Success', results: {} });
    const s = await v.request('GET', '/v2.6/agents/a1');
    expect(s.status).toBe(200);
    const st = s.json().results;
    expect(Object.keys(st)).toEqual([
      'operational_state',
      'v',
      'ip',
      'port',
      'tpm_policy',
      'meta_data',
      'has_mb_refstate',
      'has_runtime_policy',
      'accept_tpm_hash_algs',
      'accept_tpm_encryption_algs',
      'accept_tpm_signing_algs',
      'hash_alg',
      'enc_alg',
      'sign_alg',
      'verifier_id',
      'verifier_ip',
      'verifier_port',
      'severity_level',
      'last_event_id',
      'attestation_count',
      'last_received_quote',
      'last_successful_attestation',
      'attestation_status',
      'attestation_period',
      'maximum_attestation_interval',
    ]);
    expect(st['tpm_policy']).toBe('{"mask":"0x400"}');
    expect(st['meta_data']).toBe('{"cert_serial": 3}');
    expect(st['has_runtime_policy']).toBe(1);
    expect(st['has_mb_refstate']).toBe(0);
    expect(st['verifier_id']).toBe('default');
    expect(st['attestation_period']).toBe('3600s');
    expect(st['maximum_attestation_interval']).toBe('18000s');
    expect(typeof st['operational_state']).toBe('number');
  });

  it('refuses a second enrolment of the same id with 409', async () => {
    const r = await v.request('POST', '/v2/agents/a1', body());
    expect(r.status).toBe(409);
  });

  it.each([
    ['no body fields', {}],
    ['tpm_policy missing', { tpm_policy: undefined }],
    ['tpm_policy not JSON', { tpm_policy: '{mask' }],
    ['bad mask', { tpm_policy: '{"mask": "zz"}' }],
    ['ak_tpm not a TPM2B_PUBLIC', { ak_tpm: Buffer.from('nonsense').toString('base64') }],
    ['mtls_cert missing', { mtls_cert: null }],
    ['mtls_cert disabled', { mtls_cert: 'disabled' }],
    [
      'mtls_cert garbage',
      { mtls_cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
    ],
    ['v not 32 bytes', { v: 'AAAA' }],
    ['port out of range', { cloudagent_port: 70000 }],
    ['runtime policy not base64', { runtime_policy: '***' }],
    [
      'runtime policy not a policy',
      { runtime_policy: Buffer.from('{"meta": 1}').toString('base64') },
    ],
    ['accept lists not lists', { accept_tpm_hash_algs: 'sha256' }],
    ['revocation_key not a key', { revocation_key: 'key' }],
    ['mb_policy key absent', { mb_policy: undefined }],
  ])('answers 400 to a malformed enrolment: %s', async (_what, o) => {
    const b = _what === 'no body fields' ? {} : body(o);
    const r = await v.request('POST', '/v2.6/agents/bad1', b);
    expect(r.status).toBe(400);
    expect(r.json().code).toBe(400);
  });

  it('answers 400 to a body that is not JSON and to an invalid agent id', async () => {
    expect((await v.request('POST', '/v2.6/agents/bad2', '{not json')).status).toBe(400);
    expect((await v.request('POST', '/v2.6/agents/bad%20id', body())).status).toBe(400);
    expect((await v.request('GET', '/v2.6/agents/bad%20id')).status).toBe(400);
  });

  it('lists ids as nested lists, filters by verifier id, and gives bulk status', async () => {
    await v.request('POST', '/v2.6/agents/a2', body());
    const list = await v.request('GET', '/v2.6/agents/?verifier=default');
    expect(list.json().results).toEqual({ uuids: [['a1'], ['a2']] });
    expect((await v.request('GET', '/v2.6/agents/?verifier=other')).json().results).toEqual({
      uuids: [],
    });
    expect(
      (await v.request('GET', '/v2.6/agents/?verifier=')).json().results['uuids'],
    ).toHaveLength(2);
    const bulk = (await v.request('GET', '/v2.6/agents/?bulk=True&verifier=default')).json()
      .results;
    expect(Object.keys(bulk)).toEqual(['a1', 'a2']);
    expect((bulk['a2'] as Record<string, unknown>)['verifier_id']).toBe('default');
  });

  it('stops and reactivates; unknown ids answer as upstream', async () => {
    expect((await v.request('PUT', '/v2.6/agents/a2/stop')).status).toBe(200);
    let st = (await v.request('GET', '/v2.6/agents/a2')).json().results;
    expect(st['operational_state']).toBe(10);
    expect(st['attestation_status']).toBe('FAIL');
    expect((await v.request('PUT', '/v2.6/agents/a2/reactivate')).status).toBe(200);
    st = (await v.request('GET', '/v2.6/agents/a2')).json().results;
    expect([1, 3, 4, 7]).toContain(st['operational_state']);
    expect((await v.request('PUT', '/v2.6/agents/nobody/stop')).status).toBe(400);
    expect((await v.request('PUT', '/v2.6/agents/nobody/reactivate')).status).toBe(400);
  });

  it('deletes agents and the policies named after them', async () => {
    expect((await v.request('PUT', '/v2.6/agents/a2/stop')).status).toBe(200);
    const d = await v.request('DELETE', '/v2.6/agents/a2');
    expect(d.status).toBe(200);
    expect((await v.request('GET', '/v2.6/agents/a2')).status).toBe(404);
    expect((await v.request('DELETE', '/v2.6/agents/a2')).status).toBe(404);
    expect((await v.request('GET', '/v2.6/allowlists/a2')).status).toBe(404);
    expect((await v.request('GET', '/v2.6/mbpolicies/a2')).status).toBe(404);
  });

  it('manages runtime policies with upstream codes and shapes', async () => {
    const policy = Buffer.from(JSON.stringify(agent.runtimePolicy())).toString('base64');
    expect((await v.request('POST', '/v2.6/allowlists/shared', {})).status).toBe(400);
    const c = await v.request('POST', '/v2.6/allowlists/shared', {
      runtime_policy: policy,
      tpm_policy: null,
    });
    expect(c.status).toBe(201);
    expect(c.json().status).toBe('Created');
    expect(
      (await v.request('POST', '/v2.6/allowlists/shared', { runtime_policy: policy })).status,
    ).toBe(409);
    const g = (await v.request('GET', '/v2.6/allowlists/shared')).json().results;
    expect(g).toEqual({
      name: 'shared',
      tmp_policy: null,
      runtime_policy: JSON.stringify(agent.runtimePolicy()),
    });
    expect(
      (await v.request('GET', '/v2.6/allowlists/')).json().results['runtimepolicy names'],
    ).toContain('shared');
    expect(
      (await v.request('PUT', '/v2.6/allowlists/nothere', { runtime_policy: policy })).status,
    ).toBe(404);
    expect(
      (await v.request('PUT', '/v2.6/allowlists/shared', { runtime_policy: policy })).status,
    ).toBe(201);
    // §1.3: a named policy with a body that exists → 409; a name without body that is missing → 404.
    expect(
      (await v.request('POST', '/v2.6/agents/a3', body({ runtime_policy_name: 'shared' }))).status,
    ).toBe(409);
    expect(
      (
        await v.request(
          'POST',
          '/v2.6/agents/a3',
          body({ runtime_policy_name: 'missing', runtime_policy: '' }),
        )
      ).status,
    ).toBe(404);
    expect(
      (
        await v.request(
          'POST',
          '/v2.6/agents/a3',
          body({ runtime_policy_name: 'shared', runtime_policy: '' }),
        )
      ).status,
    ).toBe(200);
    expect((await v.request('DELETE', '/v2.6/allowlists/shared')).status).toBe(409);
    await v.request('PUT', '/v2.6/agents/a3/stop');
    expect((await v.request('DELETE', '/v2.6/agents/a3')).status).toBe(200);
    // A named, shared policy survives its agent.
    const del = await v.request('DELETE', '/v2.6/allowlists/shared');
    expect(del.status).toBe(204);
    expect(del.body).toBe('');
    expect((await v.request('DELETE', '/v2.6/allowlists/shared')).status).toBe(404);
  });

  it('manages measured-boot policies with upstream codes and shapes', async () => {
    expect((await v.request('POST', '/v2.6/mbpolicies/mb1', { mb_policy: '{}' })).status).toBe(201);
    expect((await v.request('POST', '/v2.6/mbpolicies/mb1', { mb_policy: '{}' })).status).toBe(409);
    expect((await v.request('POST', '/v2.6/mbpolicies/mb2', { mb_policy: '{oops' })).status).toBe(
      400,
    );
    expect((await v.request('GET', '/v2.6/mbpolicies/mb1')).json().results).toEqual({
      name: 'mb1',
      mb_policy: '{}',
    });
    expect(
      (await v.request('GET', '/v2.6/mbpolicies/')).json().results['mbpolicy names'],
    ).toContain('mb1');
    expect((await v.request('PUT', '/v2.6/mbpolicies/nothere', { mb_policy: '{}' })).status).toBe(
      409,
    );
    expect((await v.request('PUT', '/v2.6/mbpolicies/mb1', { mb_policy: '{"a": 1}' })).status).toBe(
      201,
    );
    const r = await v.request('POST', '/v2.6/agents/a4', body({ mb_policy_name: 'mb1' }));
    expect(r.status).toBe(200);
    expect((await v.request('GET', '/v2.6/agents/a4')).json().results['has_mb_refstate']).toBe(1);
    expect((await v.request('DELETE', '/v2.6/mbpolicies/mb1')).status).toBe(409);
    expect(
      (await v.request('POST', '/v2.6/agents/a5', body({ mb_policy_name: 'nope' }))).status,
    ).toBe(404);
  });

  it("gives in the bulk listing each agent's own status, policy flags included", async () => {
    // The bulk listing reads each policy row once for all agents; agents here differ in their
    // measured-boot policy (a4 has one), so a flag leaking between agents shows. It also reads
    // only the status columns, so a column left out shows as a field that differs.
    const bulk = (await v.request('GET', '/v2.6/agents/?bulk=1')).json().results as Record<
      string,
      Record<string, unknown>
    >;
    expect(Object.keys(bulk).length).toBeGreaterThanOrEqual(2);
    // What the attestation loop may change between the two reads.
    const moving = new Set([
      'operational_state',
      'attestation_status',
      'attestation_count',
      'last_received_quote',
      'last_successful_attestation',
      'severity_level',
      'last_event_id',
      'hash_alg',
      'enc_alg',
      'sign_alg',
    ]);
    const settled = (st: Record<string, unknown>): [string, unknown][] =>
      Object.entries(st).filter(([k]) => !moving.has(k));
    const flags = new Set<unknown>();
    for (const [id, st] of Object.entries(bulk)) {
      const own = (await v.request('GET', `/v2.6/agents/${id}`)).json().results;
      expect(Object.keys(st)).toEqual(Object.keys(own));
      expect([id, settled(st)]).toEqual([id, settled(own)]);
      flags.add(st['has_mb_refstate']);
    }
    expect([...flags].sort()).toEqual([0, 1]);
  });

  it('leaves no policy rows behind when the measured-boot policy check refuses an enrolment', async () => {
    const names = async (): Promise<unknown> =>
      (await v.request('GET', '/v2.6/allowlists/')).json().results['runtimepolicy names'];
    const before = await names();
    expect(
      (await v.request('POST', '/v2.6/agents/t404', body({ mb_policy_name: 'missing' }))).status,
    ).toBe(404);
    expect((await v.request('GET', '/v2.6/allowlists/t404')).status).toBe(404);
    expect((await v.request('POST', '/v2.6/mbpolicies/taken', { mb_policy: '{}' })).status).toBe(
      201,
    );
    const named = body({
      runtime_policy_name: 'rp-t409',
      mb_policy_name: 'taken',
      mb_policy: '{}',
    });
    expect((await v.request('POST', '/v2.6/agents/t409', named)).status).toBe(409);
    expect((await v.request('GET', '/v2.6/allowlists/rp-t409')).status).toBe(404);
    expect(await names()).toEqual(before);
    // The same id and policy name enrol cleanly afterwards (no stale row is reused).
    expect(
      (await v.request('POST', '/v2.6/agents/t409', { ...named, mb_policy_name: '' })).status,
    ).toBe(200);
    expect((await v.request('GET', '/v2.6/allowlists/rp-t409')).status).toBe(200);
  });

  it('requires a client certificate on every v2 route and answers unknown versions with 400', async () => {
    expect((await v.request('GET', '/v9.9/agents/')).status).toBe(400);
    expect((await v.request('GET', '/version')).json().results['current_version']).toBe('2.6');
  });
});
