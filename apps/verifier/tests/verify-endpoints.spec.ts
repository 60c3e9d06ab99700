import fs from 'node:fs';
import https from 'node:https';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the simulator is a test tool in tools/fleet, not a lib
import { SimulatedAgent, createFleetIdentity } from '../../../tools/fleet/simulated-agent';
import { enrolmentBody, startTestVerifier } from './support/harness';
import type { HttpResult, TestVerifier } from './support/harness';

// The stateless endpoints (verifier §1.7): public, nothing stored. Quotes come from a simulated
// agent (genuine TPMS_ATTEST signed by its software AK); the enrolled agent is never polled.
describe('stateless verification endpoints', () => {
  let v: TestVerifier;
  let agent: SimulatedAgent;

  beforeAll(async () => {
    v = await startTestVerifier({ env: { KEYLIME_VERIFIER_QUOTE_INTERVAL: '3600' } });
    agent = new SimulatedAgent({
      agentId: 'identity-agent',
      identity: await createFleetIdentity(),
    });
    // Port 1: nothing answers; only the enrolled AK matters here.
    const r = await v.request('POST', '/v2.6/agents/identity-agent', enrolmentBody(agent, 1));
    expect(r.status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await v.stop();
    fs.rmSync(v.dir, { recursive: true, force: true });
  });

  /** A TLS client without a client certificate (a third party). */
  function anonymous(method: string, urlPath: string, body?: unknown): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(
        {
          host: '127.0.0.1',
          port: v.port,
          path: urlPath,
          method,
          ca: v.caCert,
          servername: 'localhost',
          headers: data === undefined ? {} : { 'Content-Length': Buffer.byteLength(data) },
        },
        (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: t,
              json: () => JSON.parse(t) as ReturnType<HttpResult['json']>,
            }),
          );
        },
      );
      req.on('error', reject);
      if (data !== undefined) req.write(data);
      req.end();
    });
  }

  function identityUrl(params: Record<string, string>, version = '2.6'): string {
    return `/v${version}/verify/identity?${new URLSearchParams(params).toString()}`;
  }

  function quote(nonce: string, mask = 0x400): Record<string, unknown> {
    return agent.integrityQuote(nonce, mask, false, 0, '2.6');
  }

  describe('GET /verify/identity', () => {
    it('accepts a genuine quote over the nonce, without a client certificate', async () => {
      const q = String(quote('identityNonce1')['quote']);
      const r = await anonymous(
        'GET',
        identityUrl({
          agent_uuid: 'identity-agent',
          quote: q,
          nonce: 'identityNonce1',
          hash_alg: 'sha256',
        }),
      );
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ code: 200, status: 'Success', results: { valid: 1 } });
      // Served under every v2.x, as upstream's router does.
      const old = await anonymous(
        'GET',
        identityUrl(
          { agent_uuid: 'identity-agent', quote: q, nonce: 'identityNonce1', hash_alg: 'sha256' },
          '2.2',
        ),
      );
      expect(old.json().results).toEqual({ valid: 1 });
    });

    it('answers valid 0 with the joined failure contexts for another nonce or hash', async () => {
      const q = String(quote('identityNonce2')['quote']);
      const r = await anonymous(
        'GET',
        identityUrl({
          agent_uuid: 'identity-agent',
          quote: q,
          nonce: 'otherNonce',
          hash_alg: 'sha256',
        }),
      );
      expect(r.status).toBe(200);
      expect(r.json().results['valid']).toBe(0);
      expect(String(r.json().results['reason'])).toContain('{"message": "Quote data validation"');
      const md5 = await anonymous(
        'GET',
        identityUrl({
          agent_uuid: 'identity-agent',
          quote: q,
          nonce: 'identityNonce2',
          hash_alg: 'md5',
        }),
      );
      expect(md5.json().results).toEqual({
        valid: 0,
        reason:
          '{"message": "TPM Quote is using an unrecognized hash algorithm: md5", "data": "md5"}',
      });
    });

    it('answers 400 for a missing parameter and 404 for an unknown agent', async () => {
      const r = await anonymous('GET', identityUrl({ agent_uuid: 'identity-agent', nonce: 'n' }));
      expect(r.status).toBe(400);
      expect(r.json().status).toBe("missing query parameter 'quote'");
      const unknown = await anonymous(
        'GET',
        identityUrl({ agent_uuid: 'nobody', quote: 'x', nonce: 'n', hash_alg: 'sha256' }),
      );
      expect(unknown.status).toBe(404);
      expect(unknown.json().status).toBe('agent id not found');
      expect((await anonymous('POST', '/v2.6/verify/identity', {})).status).toBe(405);
    });
  });

  describe('POST /verify/evidence', () => {
    /** `tpm` evidence of the simulated agent: PCRs 10 and 15, its IMA list and policy. */
    function evidence(nonce: string, over: Record<string, unknown> = {}): Record<string, unknown> {
      const q = quote(nonce, 0x8400);
      return {
        quote: q['quote'],
        nonce,
        hash_alg: 'sha256',
        tpm_ek: 'unused: no PCR-16 binding in one-shot evidence',
        tpm_ak: agent.akTpm,
        tpm_policy: JSON.stringify({ '15': ['0'.repeat(64)], mask: '0x8400' }),
        runtime_policy: JSON.stringify(agent.runtimePolicy()),
        ima_measurement_list: q['ima_measurement_list'],
        ...over,
      };
    }

    it('valid evidence → valid true and the input echoed as claims', async () => {
      const data = evidence('evidenceNonce1');
      const r = await anonymous('POST', '/v2.6/verify/evidence', { type: 'tpm', data });
      expect(r.status).toBe(200);
      expect(r.json().results).toEqual({ valid: true, claims: data, failures: [] });
    });

    it('a PCR outside tpm_policy or a wrong nonce → valid false with upstream event ids', async () => {
      const pcr = await anonymous('POST', '/v2.6/verify/evidence', {
        type: 'tpm',
        data: evidence('evidenceNonce2', {
          tpm_policy: JSON.stringify({ '15': ['1'.repeat(64)], mask: '0x8400' }),
        }),
      });
      expect(pcr.status).toBe(200);
      const res = pcr.json().results;
      expect(res['valid']).toBe(false);
      expect(res['claims']).toEqual({});
      expect(res['failures']).toEqual([
        expect.objectContaining({ type: 'pcr_validation.invalid_pcr_15' }),
      ]);
      const nonce = await anonymous('POST', '/v2.6/verify/evidence', {
        type: 'tpm',
        data: evidence('evidenceNonce3', { nonce: 'notTheNonce' }),
      });
      expect(nonce.json().results['failures']).toEqual([
        expect.objectContaining({ type: 'qoute_validation.quote_validation' }),
      ]);
    });

    it('a file outside the runtime policy → ima.validation.ima-ng.not_in_allowlist', async () => {
      const tampered = new SimulatedAgent({ agentId: 'tampered', identity: agent.identity });
      const policy = JSON.stringify(tampered.runtimePolicy());
      tampered.tamper('/opt/evidence-evil');
      const q = tampered.integrityQuote('evidenceNonce4', 0x400, false, 0, '2.6');
      const r = await anonymous('POST', '/v2.6/verify/evidence', {
        type: 'tpm',
        data: {
          quote: q['quote'],
          nonce: 'evidenceNonce4',
          hash_alg: 'sha256',
          tpm_ek: 'x',
          tpm_ak: tampered.akTpm,
          runtime_policy: policy,
          ima_measurement_list: q['ima_measurement_list'],
        },
      });
      expect(r.status).toBe(200);
      const failures = r.json().results['failures'] as { type: string; context: unknown }[];
      expect(failures.map((f) => f.type)).toContain('ima.validation.ima-ng.not_in_allowlist');
    });

    it('input errors: 400 with default.missing_param / default.missing_policy, or a plain 400', async () => {
      const noAk = await anonymous('POST', '/v2.6/verify/evidence', {
        type: 'tpm',
        data: evidence('evidenceNonce5', { tpm_ak: '' }),
      });
      expect(noAk.status).toBe(400);
      expect(noAk.json()).toEqual({
        code: 400,
        status: 'Bad Request',
        results: {
          valid: false,
          claims: {},
          failures: [
            { type: 'default.missing_param', context: { message: 'missing parameter "tpm_ak"' } },
          ],
        },
      });
      const noPolicy = await anonymous('POST', '/v2.6/verify/evidence', {
        type: 'tpm',
        data: evidence('evidenceNonce6', { tpm_policy: '', runtime_policy: '' }),
      });
      expect(noPolicy.status).toBe(400);
      expect(noPolicy.json().results['failures']).toEqual([
        expect.objectContaining({ type: 'default.missing_policy' }),
      ]);
      const noType = await anonymous('POST', '/v2.6/verify/evidence', { data: {} });
      expect(noType.status).toBe(400);
      expect(noType.json().status).toBe("missing parameter 'type'");
      const noData = await anonymous('POST', '/v2.6/verify/evidence', { type: 'tpm' });
      expect(noData.json().status).toBe("missing parameter 'data'");
      expect((await anonymous('GET', '/v2.6/verify/evidence')).status).toBe(405);
    });

    it('a policy that does not parse → 500 as upstream', async () => {
      const r = await anonymous('POST', '/v2.6/verify/evidence', {
        type: 'tpm',
        data: evidence('evidenceNonce7', { runtime_policy: '{not json' }),
      });
      expect(r.status).toBe(500);
    });
  });

  describe('GET /metrics', () => {
    it('is for admins only: a client without a certificate gets 403, a POST 405', async () => {
      const r = await anonymous('GET', '/metrics');
      expect(r.status).toBe(403);
      // Upstream's JSON:API-style 403 body, as for every admin path.
      expect(JSON.parse(r.body)).toEqual({
        errors: [expect.objectContaining({ status: '403', title: 'Forbidden' })],
      });
      expect(r.body).not.toContain('keylime_verifier');
      const admin = await v.request('GET', '/metrics');
      expect(admin.status).toBe(200);
      expect(admin.body).toContain('keylime_verifier_agents 1\n');
      expect((await v.request('POST', '/metrics', {})).status).toBe(405);
    });
  });
});
