import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRevocationMessage } from '@keylime/crypto';
import { DataPcrBinding } from '@keylime/tpm';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import {
  SimulatedAgent,
  createFleetIdentity,
  serveSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import type {
  FleetIdentity,
  Misbehaviour,
  RunningSimulatedAgent,
} from '../../../tools/fleet/simulated-agent';
import {
  engineOf,
  enrolmentBody,
  readMetrics,
  startTestVerifier,
  waitFor,
} from './support/harness';
import type { TestVerifier } from './support/harness';

// The full pull loop over real HTTPS/mTLS against simulated agents that produce genuine quotes
// (verifier §2.2, §3, §4, §6.4), with a real SQLite file. quote_interval 0.5 s.
const QUOTE_INTERVAL_MS = 500;

interface Webhook {
  readonly url: string;
  readonly received: { msg: string; signature: string }[];
  close(): Promise<void>;
}

function startWebhook(): Promise<Webhook> {
  const received: { msg: string; signature: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { msg: string; signature: string });
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/revocation`,
        received,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

describe('attestation loop against simulated agents', () => {
  let v: TestVerifier;
  let identity: FleetIdentity;
  let webhook: Webhook;
  const served: RunningSimulatedAgent[] = [];
  const revocation = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const revocationKey = revocation.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  let env: Record<string, string>;

  beforeAll(async () => {
    identity = await createFleetIdentity();
    webhook = await startWebhook();
    env = {
      KEYLIME_VERIFIER_QUOTE_INTERVAL: String(QUOTE_INTERVAL_MS / 1000),
      KEYLIME_VERIFIER_RETRY_INTERVAL: '0.2',
      KEYLIME_VERIFIER_MAX_RETRIES: '1',
      KEYLIME_VERIFIER_REQUEST_TIMEOUT: '1.0',
      KEYLIME_VERIFIER_MAX_UPLOAD_SIZE: String(1 << 20),
      KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS: "['agent', 'webhook']",
      KEYLIME_VERIFIER_REVOCATIONS_WEBHOOK_URL: webhook.url,
    };
    v = await startTestVerifier({ env });
  }, 60_000);

  afterAll(async () => {
    await v.stop();
    await Promise.all(served.map((s) => s.close()));
    await webhook.close();
    fs.rmSync(v.dir, { recursive: true, force: true });
  });

  async function enrol(
    id: string,
    options: {
      akKind?: 'rsa' | 'ecc';
      misbehaviour?: Misbehaviour;
      body?: Record<string, unknown>;
    } = {},
  ): Promise<SimulatedAgent> {
    const agent = new SimulatedAgent({ agentId: id, identity, akKind: options.akKind ?? 'ecc' });
    agent.misbehaviour = options.misbehaviour ?? 'none';
    const s = await serveSimulatedAgent(agent, v.caCert);
    served.push(s);
    const r = await v.request(
      'POST',
      `/v2.6/agents/${id}`,
      enrolmentBody(agent, s.port, { revocation_key: revocationKey, ...options.body }),
    );
    expect(r.status).toBe(200);
    return agent;
  }

  async function status(id: string): Promise<Record<string, unknown>> {
    return (await v.request('GET', `/v2.6/agents/${id}`)).json().results;
  }

  async function untilState(
    id: string,
    state: number,
    timeoutMs = 8000,
  ): Promise<Record<string, unknown>> {
    return waitFor(async () => {
      const s = await status(id);
      return s['operational_state'] === state ? s : undefined;
    }, timeoutMs);
  }

  it('attests a good agent (ECC AK): GET_QUOTE, counts grow, V delivered once to the agent', async () => {
    const agent = await enrol('good-ecc');
    const s = await waitFor(async () => {
      const st = await status('good-ecc');
      return (st['attestation_count'] as number) >= 3 ? st : undefined;
    });
    expect(s['operational_state']).toBe(3);
    expect(s['attestation_status']).toBe('PASS');
    expect(s['hash_alg']).toBe('sha256');
    expect(s['enc_alg']).toBe('ecc256');
    expect(s['sign_alg']).toBe('ecdsa');
    expect(s['last_event_id']).toBeNull();
    expect(agent.vkeys).toHaveLength(1);
    expect(agent.vkeys[0]?.equals(Buffer.alloc(32, 7))).toBe(true);
    // V delivered: its encryption is not kept in memory.
    expect(engineOf(v).runtime('good-ecc')?.provideV).toBe(false);
    expect(engineOf(v).runtime('good-ecc')?.encryptedV).toBeUndefined();
  });

  it('attests an RSA AK agent', async () => {
    await enrol('good-rsa', { akKind: 'rsa' });
    const s = await waitFor(async () => {
      const st = await status('good-rsa');
      return (st['attestation_count'] as number) >= 2 ? st : undefined;
    });
    expect(s['sign_alg']).toBe('rsassa');
  });

  it('IMA tamper: failure event and signed revocation notifications within two quote intervals', async () => {
    const victim = await enrol('tamper');
    const listener = await enrol('listener');
    await waitFor(async () =>
      ((await status('tamper'))['attestation_count'] as number) >= 1 ? true : undefined,
    );
    await waitFor(async () =>
      ((await status('listener'))['attestation_count'] as number) >= 1 ? true : undefined,
    );
    const hooksBefore = webhook.received.length;
    const t0 = Date.now();
    victim.tamper('/opt/evil.sh');
    const failed = await untilState('tamper', 9, 2 * QUOTE_INTERVAL_MS + 1500);
    const got = await waitFor(
      () => listener.revocations.find((n) => n.msg.includes('"agent_id": "tamper"')),
      2000,
      20,
    );
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeLessThanOrEqual(2 * QUOTE_INTERVAL_MS + 1000);
    expect(failed['last_event_id']).toBe('ima.validation.ima-ng.not_in_allowlist');
    expect(failed['severity_level']).toBe(6);
    expect(failed['attestation_status']).toBe('FAIL');
    const msg = JSON.parse(got.msg) as Record<string, unknown>;
    expect(msg['type']).toBe('revocation');
    expect(msg['event_id']).toBe('ima.validation.ima-ng.not_in_allowlist');
    expect(msg['severity_label']).toBe('emergency');
    expect(String(msg['context'])).toContain('/opt/evil.sh');
    expect(verifyRevocationMessage(revocation.publicKey, got.msg, got.signature)).toBe(true);
    const hook = await waitFor(
      () => webhook.received.slice(hooksBefore).find((n) => n.msg.includes('"agent_id": "tamper"')),
      3000,
      20,
    );
    expect(verifyRevocationMessage(revocation.publicKey, hook.msg, hook.signature)).toBe(true);
  });

  it.each<[string, Misbehaviour, string]>([
    ['bad signature', 'bad-signature', 'qoute_validation.quote_validation'],
    ['wrong nonce', 'wrong-nonce', 'qoute_validation.quote_validation'],
    ['log that does not replay', 'log-not-replaying', 'ima.pcr_mismatch'],
    ['oversized log', 'oversized-log', 'qoute_validation.invalid_data'],
  ])('hostile agent: %s → INVALID_QUOTE with %s', async (name, misbehaviour, eventId) => {
    const id = `hostile-${misbehaviour}`;
    await enrol(id, { misbehaviour });
    const s = await untilState(id, 9);
    expect(s['last_event_id']).toBe(eventId);
    expect(s['attestation_count']).toBe(0);
    expect(name).toBeTruthy();
  });

  it('hostile agent: replayed (stale) quote → INVALID_QUOTE', async () => {
    const agent = await enrol('hostile-replay');
    await waitFor(async () =>
      ((await status('hostile-replay'))['attestation_count'] as number) >= 1 ? true : undefined,
    );
    agent.misbehaviour = 'replay-quote';
    const s = await untilState('hostile-replay', 9);
    expect(s['last_event_id']).toBe('qoute_validation.quote_validation');
  });

  it('hostile agent: PCR value not in tpm_policy → pcr_validation.invalid_pcr_15', async () => {
    const agent = new SimulatedAgent({ agentId: 'hostile-pcr', identity });
    agent.pcrs.set(15, Buffer.alloc(32, 0xab));
    const s = await serveSimulatedAgent(agent, v.caCert);
    served.push(s);
    const tpmPolicy = JSON.stringify({ '15': ['0'.repeat(64)], mask: '0x8400' });
    expect(
      (
        await v.request(
          'POST',
          '/v2.6/agents/hostile-pcr',
          enrolmentBody(agent, s.port, { tpm_policy: tpmPolicy }),
        )
      ).status,
    ).toBe(200);
    const st = await untilState('hostile-pcr', 9);
    expect(st['last_event_id']).toBe('pcr_validation.invalid_pcr_15');
  });

  it('hanging and erroring agents end FAILED (not_reachable) while the loop keeps attesting others', async () => {
    const before = (await status('good-ecc'))['attestation_count'] as number;
    await enrol('hostile-hang', { misbehaviour: 'hang' });
    await enrol('hostile-500', { misbehaviour: 'http-500' });
    const hung = await untilState('hostile-hang', 7, 10_000);
    expect(hung['last_event_id']).toBe('internal.verifier.not_reachable');
    const e500 = await untilState('hostile-500', 7);
    expect(e500['last_event_id']).toBe('internal.verifier.not_reachable');
    expect((await status('good-ecc'))['attestation_count'] as number).toBeGreaterThan(before + 2);
  });

  it('a slow agent within request_timeout still passes', async () => {
    const agent = await enrol('slow', { misbehaviour: 'slow' });
    agent.slowMs = 300;
    const s = await waitFor(async () => {
      const st = await status('slow');
      return (st['attestation_count'] as number) >= 2 ? st : undefined;
    });
    expect(s['operational_state']).toBe(3);
  });

  it('quote_interval is the rest after each verdict (upstream): a slow agent is asked every interval plus its delay', async () => {
    const slowMs = 300;
    const agent = await enrol('periodic', { misbehaviour: 'slow' });
    agent.slowMs = slowMs;
    // The first quote is followed by V delivery; count the gaps between the quotes after it.
    await waitFor(() => (agent.quoteRequestTimes.length >= 6 ? true : undefined), 10_000);
    const t = agent.quoteRequestTimes;
    const gaps = t.slice(2, 6).map((x, i) => x - (t[i + 1] as number));
    // A fixed-period schedule (next request one interval after the previous one) would give 500 ms.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(QUOTE_INTERVAL_MS + slowMs - 20);
    expect((await status('periodic'))['operational_state']).toBe(3);

    // GET /metrics: the slow agent's verdicts land at or above its delay in the histogram.
    const { value } = await readMetrics(v);
    const h = 'keylime_verifier_quote_verdict_seconds';
    const count = value(`${h}_count`);
    expect(count).toBe(value(`${h}_bucket{le="+Inf"}`));
    expect(count).toBeGreaterThanOrEqual(value('keylime_verifier_attestations_total'));
    const slowVerdicts = count - value(`${h}_bucket{le="0.3"}`);
    expect(slowVerdicts).toBeGreaterThanOrEqual(gaps.length);
    expect(value(`${h}_sum`)).toBeGreaterThanOrEqual((slowVerdicts * slowMs) / 1000);
    expect(value('keylime_verifier_agents')).toBeGreaterThanOrEqual(1);
  });

  it('DELETE while a request is in flight answers 202 and the agent disappears', async () => {
    const agent = await enrol('deleting', { misbehaviour: 'slow' });
    agent.slowMs = 700;
    await waitFor(async () =>
      ((await status('deleting'))['attestation_count'] as number) >= 1 ? true : undefined,
    );
    // Wait for the next request to be in flight.
    const served0 = agent.quotesServed;
    await waitFor(() => (engineOf(v).runtime('deleting')?.inFlight ? true : undefined), 3000, 10);
    const d = await v.request('DELETE', '/v2.6/agents/deleting');
    expect([200, 202]).toContain(d.status);
    await waitFor(async () =>
      (await v.request('GET', '/v2.6/agents/deleting')).status === 404 ? true : undefined,
    );
    expect(agent.quotesServed).toBeLessThanOrEqual(served0 + 1);
  });

  it('a new payload key: V is encrypted again under it and delivered, then dropped from memory', async () => {
    const agent = await enrol('rekey');
    const rt = await waitFor(() => {
      const r = engineOf(v).runtime('rekey');
      return r !== undefined && agent.vkeys.length === 1 && r.state === 3 ? r : undefined;
    });
    expect(rt.encryptedV).toBeUndefined();
    const other = await createFleetIdentity('rekeyed');
    // Between two steps: the agent's next quote carries the new key (and PCR 16 binds it).
    await waitFor(
      () => {
        if (rt.inFlight) return undefined;
        Object.assign(agent, {
          identity: {
            ...agent.identity,
            nkPrivate: other.nkPrivate,
            nkPublicPem: other.nkPublicPem,
          },
        });
        rt.wantPubkey = true; // as after a retry: ask for the key with the next quote
        return true;
      },
      5000,
      5,
    );
    // The simulated agent decrypts with its new key: an old ciphertext would fail there.
    await waitFor(() => (agent.vkeys.length >= 2 ? true : undefined));
    expect(agent.vkeys[1]?.equals(Buffer.alloc(32, 7))).toBe(true);
    await waitFor(() => (rt.state === 3 && !rt.provideV ? true : undefined));
    expect(rt.payloadKey?.equals(DataPcrBinding.of(other.nkPublicPem))).toBe(true);
    // Neither the new key's PEM nor V's encryption stays in memory.
    expect(rt.payloadKeyPemForV).toBeUndefined();
    expect(rt.encryptedV).toBeUndefined();
    expect((await status('rekey'))['operational_state']).toBe(3);
  });

  it('a restarted verifier resumes every active agent from the database', async () => {
    const before = (await status('good-ecc'))['attestation_count'] as number;
    await v.stop();
    v = await startTestVerifier({ dir: v.dir, env });
    const s = await waitFor(async () => {
      const st = await status('good-ecc');
      return (st['attestation_count'] as number) >= before + 2 ? st : undefined;
    });
    expect(s['operational_state']).toBe(3);
    // V went out again to the resumed agent, and its encryption was dropped after delivery.
    expect(engineOf(v).runtime('good-ecc')?.provideV).toBe(false);
    expect(engineOf(v).runtime('good-ecc')?.encryptedV).toBeUndefined();
    expect(engineOf(v).runtime('good-ecc')?.payloadKeyPemForV).toBeUndefined();
    // Failed agents stay failed.
    expect((await status('tamper'))['operational_state']).toBe(9);
    expect((await status('hostile-hang'))['operational_state']).toBe(7);
  }, 30_000);
});
