/**
 * The tenant-facing API over real HTTPS: admin routes need a client certificate from the trusted
 * CA (403 JSON:API body otherwise), GET shows only activated agents with upstream's keys in
 * upstream's order, DELETE removes; the v3.0 routes behave as documented upstream.
 */
import { X509Certificate } from 'node:crypto';
import { request } from './support/http';
import { startTestRegistrar } from './support/registrar';
import type { TestRegistrar } from './support/registrar';
import { authTagFor, createSoftTpm } from './support/soft-tpm';
import type { SoftTpm } from './support/soft-tpm';

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

async function registerAndActivate(
  reg: TestRegistrar,
  agentId: string,
  tpm: SoftTpm,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const r = await request(reg.http, `/v2.6/agents/${agentId}`, {
    method: 'POST',
    body: {
      aik_tpm: b64(tpm.akTpm),
      ek_tpm: b64(tpm.ekTpm),
      ip: '127.0.0.1',
      port: 9002,
      ...extra,
    },
  });
  expect(r.status).toBe(200);
  const blob = (r.json as { results: { blob: string } }).results.blob;
  const tag = authTagFor(tpm.activate(blob), agentId);
  const a = await request(reg.http, `/v2.6/agents/${agentId}`, {
    method: 'PUT',
    body: { auth_tag: tag },
  });
  expect(a.status).toBe(200);
  expect(a.json).toEqual({ code: 200, status: 'Success', results: {} });
}

describe('tenant API over HTTPS', () => {
  let reg: TestRegistrar;
  const id = 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000';
  const tpm = createSoftTpm();

  beforeAll(async () => {
    reg = await startTestRegistrar();
  });
  afterAll(async () => {
    await reg.stop();
  });

  it('answers /version on both ports, as upstream', async () => {
    const expected = {
      code: 200,
      status: 'Success',
      results: {
        current_version: '2.6',
        supported_versions: ['1.0', '2.0', '2.1', '2.2', '2.3', '2.4', '2.5', '2.6', '3.0'],
      },
    };
    expect((await request(reg.http, '/version')).json).toEqual(expected);
    expect((await request(reg.https, '/version', { tls: reg.anonymous })).json).toEqual(expected);
  });

  it('refuses admin routes without a client certificate (403, JSON:API body) and over HTTP (400)', async () => {
    for (const path of ['/v2.6/agents/', `/v2.6/agents/${id}`]) {
      const r = await request(reg.https, path, { tls: reg.anonymous });
      expect(r.status).toBe(403);
      expect(r.json).toEqual({
        errors: [{ status: '403', title: 'Forbidden', detail: expect.any(String) }],
      });
      const s = await request(reg.https, path, { tls: reg.stranger });
      expect(s.status).toBe(403);
      const h = await request(reg.http, path);
      expect(h.status).toBe(400);
    }
    const d = await request(reg.https, `/v2.6/agents/${id}`, {
      method: 'DELETE',
      tls: reg.anonymous,
    });
    expect(d.status).toBe(403);
    const withAuth = await request(reg.https, '/v2.6/agents/', {
      tls: reg.admin,
      headers: { authorization: 'Bearer x' },
    });
    expect(withAuth.status).toBe(403);
  });

  it('lists, hides until activated, shows with upstream keys in order, deletes', async () => {
    const list0 = await request(reg.https, '/v2.6/agents/', { tls: reg.admin });
    expect(list0.json).toEqual({ code: 200, status: 'Success', results: { uuids: [] } });

    const mtls = reg.pki.serverCert;
    const r = await request(reg.http, `/v2.1/agents/${id}`, {
      method: 'POST',
      body: {
        aik_tpm: b64(tpm.akTpm),
        ek_tpm: b64(tpm.ekTpm),
        ip: '10.0.0.7',
        port: '9002',
        mtls_cert: mtls,
      },
    });
    expect(r.status).toBe(200);
    const list1 = await request(reg.https, '/v2/agents', { tls: reg.admin });
    expect(list1.json).toEqual({ code: 200, status: 'Success', results: { uuids: [id] } });
    const hidden = await request(reg.https, `/v2.6/agents/${id}`, { tls: reg.admin });
    expect(hidden.status).toBe(404);
    expect(hidden.json).toEqual({
      code: 404,
      status: `Agent with ID '${id}' has not been activated`,
      results: {},
    });

    const blob = (r.json as { results: { blob: string } }).results.blob;
    const tag = authTagFor(tpm.activate(blob), id);
    const a = await request(reg.http, `/v2.1/agents/${id}/activate`, {
      method: 'PUT',
      body: { auth_tag: tag },
    });
    expect(a.status).toBe(200);

    const shown = await request(reg.https, `/v2.6/agents/${id}`, { tls: reg.admin });
    expect(shown.status).toBe(200);
    const results = (shown.json as { results: Record<string, unknown> }).results;
    expect(Object.keys(results)).toEqual([
      'agent_id',
      'ek_tpm',
      'ekcert',
      'aik_tpm',
      'ip',
      'port',
      'mtls_cert',
      'regcount',
    ]);
    expect(results).toEqual({
      agent_id: id,
      ek_tpm: b64(tpm.ekTpm),
      ekcert: null,
      aik_tpm: b64(tpm.akTpm),
      ip: '10.0.0.7',
      port: 9002,
      mtls_cert: new X509Certificate(mtls).toString(),
      regcount: 1,
    });
    expect(shown.text.startsWith('{"code":200,"status":"Success","results":{"agent_id"')).toBe(
      true,
    );

    const del = await request(reg.https, `/v2.6/agents/${id}`, {
      method: 'DELETE',
      tls: reg.admin,
    });
    expect(del.json).toEqual({ code: 200, status: 'Success', results: {} });
    const gone = await request(reg.https, `/v2.6/agents/${id}`, { tls: reg.admin });
    expect(gone.json).toEqual({
      code: 404,
      status: `Agent with ID '${id}' not found`,
      results: {},
    });
    const del2 = await request(reg.https, `/v2.6/agents/${id}`, {
      method: 'DELETE',
      tls: reg.admin,
    });
    expect(del2.status).toBe(404);
  });

  it('registers and activates over HTTPS too, and through every activation route', async () => {
    for (const [i, route] of (
      ['PUT /agents/ID', 'PUT /agents/ID/activate', 'POST /agents/ID/activate'] as const
    ).entries()) {
      const agentId = `route-${i}`;
      const t = createSoftTpm();
      const r = await request(reg.https, `/v2.6/agents/${agentId}`, {
        method: 'POST',
        tls: reg.anonymous,
        body: { aik_tpm: b64(t.akTpm), ek_tpm: b64(t.ekTpm), mtls_cert: 'disabled' },
      });
      expect(r.status).toBe(200);
      const tag = authTagFor(
        t.activate((r.json as { results: { blob: string } }).results.blob),
        agentId,
      );
      const [method, pathTemplate] = route.split(' ') as [string, string];
      const a = await request(reg.https, `/v2.6${pathTemplate.replace('ID', agentId)}`, {
        method,
        tls: reg.anonymous,
        body: { auth_tag: tag },
      });
      expect(a.status).toBe(200);
      const shown = await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin });
      expect((shown.json as { results: { mtls_cert: unknown } }).results.mtls_cert).toBe(
        'disabled',
      );
    }
  });

  it('serves the documented v3.0 routes (id in the body, POST activate, version probe)', async () => {
    expect((await request(reg.http, '/v3.0/')).json).toEqual({
      code: 200,
      status: 'Success',
      results: {},
    });
    const t = createSoftTpm();
    const agentId = 'v3-agent';
    const r = await request(reg.http, '/v3.0/agents', {
      method: 'POST',
      body: { agent_id: agentId, aik_tpm: b64(t.akTpm), ek_tpm: b64(t.ekTpm) },
    });
    expect(r.status).toBe(200);
    const tag = authTagFor(
      t.activate((r.json as { results: { blob: string } }).results.blob),
      agentId,
    );
    const put = await request(reg.http, `/v3.0/agents/${agentId}`, {
      method: 'PUT',
      body: { auth_tag: tag },
    });
    expect(put.status).toBe(405);
    const a = await request(reg.http, `/v3.0/agents/${agentId}/activate`, {
      method: 'POST',
      body: { auth_tag: tag },
    });
    expect(a.status).toBe(200);
    const shown = await request(reg.https, `/v3/agents/${agentId}`, { tls: reg.admin });
    expect(shown.status).toBe(200);
    // v2 collection route with the id in the body works as upstream too
    const t2 = createSoftTpm();
    const r2 = await request(reg.http, '/v2.6/agents', {
      method: 'POST',
      body: { agent_id: 'body-id', aik_tpm: b64(t2.akTpm), ek_tpm: b64(t2.ekTpm) },
    });
    expect(r2.status).toBe(200);
  });

  it('counts re-registrations and deactivates until the new challenge is answered', async () => {
    const agentId = 'rereg';
    const t = createSoftTpm();
    await registerAndActivate(reg, agentId, t);
    const again = await request(reg.http, `/v2.6/agents/${agentId}`, {
      method: 'POST',
      body: { aik_tpm: b64(t.akTpm), ek_tpm: b64(t.ekTpm) },
    });
    expect(again.status).toBe(200);
    expect((await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin })).status).toBe(
      404,
    );
    await registerAndActivate(reg, agentId, t);
    const shown = await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin });
    expect((shown.json as { results: { regcount: number; ip: string } }).results).toMatchObject({
      regcount: 3,
      ip: '127.0.0.1',
    });
    expect(reg.logs.some((l) => /keylime\.registrar - INFO - PUT activated: rereg$/.test(l))).toBe(
      true,
    );
    expect(reg.logs.some((l) => / - INFO - Sent 200 in \d+(ns|μs|ms|s)$/.test(l))).toBe(true);
  });
});
