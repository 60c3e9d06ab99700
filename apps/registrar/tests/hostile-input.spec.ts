/**
 * Hostile input: every malformed request gets a clear 4xx and stores nothing; a stalled client
 * does not hold up others; optional policy (one EK, one agent id) is enforced.
 */
import net from 'node:net';
import { request } from './support/http';
import { startTestRegistrar } from './support/registrar';
import type { TestRegistrar } from './support/registrar';
import { authTagFor, createSoftTpm, softAk } from './support/soft-tpm';

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

describe('hostile input', () => {
  let reg: TestRegistrar;
  const tpm = createSoftTpm();
  const good = { aik_tpm: b64(tpm.akTpm), ek_tpm: b64(tpm.ekTpm) };

  beforeAll(async () => {
    reg = await startTestRegistrar({ extraConfig: { single_agent_per_ek: 'True' } });
  });
  afterAll(async () => {
    await reg.stop();
  });

  async function stored(): Promise<unknown> {
    const r = await request(reg.https, '/v2.6/agents/', { tls: reg.admin });
    return (r.json as { results: { uuids: string[] } }).results.uuids;
  }

  const post = (path: string, options: Parameters<typeof request>[2]) =>
    request(reg.http, path, { method: 'POST', ...options });

  it.each([
    [
      'malformed JSON',
      { raw: '{"aik_tpm": ', headers: { 'content-type': 'application/json' } },
      400,
    ],
    ['a JSON array', { body: [1, 2] }, 400],
    ['no Content-Type', { raw: JSON.stringify(good) }, 400],
    [
      'a text/plain body',
      { raw: JSON.stringify(good), headers: { 'content-type': 'text/plain' } },
      415,
    ],
    ['an oversized body', { body: { ...good, pad: 'x'.repeat(600 * 1024) } }, 413],
    ['no aik_tpm', { body: { ek_tpm: good.ek_tpm } }, 400],
    ['no ek_tpm', { body: { aik_tpm: good.aik_tpm } }, 400],
    ['aik_tpm not base64', { body: { ...good, aik_tpm: 'not*base64' } }, 400],
    ['aik_tpm as a number', { body: { ...good, aik_tpm: 12 } }, 400],
    [
      'a truncated TPM2B_PUBLIC',
      { body: { ...good, aik_tpm: b64(tpm.akTpm.subarray(0, 40)) } },
      400,
    ],
    [
      'trailing bytes after TPM2B_PUBLIC',
      { body: { ...good, aik_tpm: b64(Buffer.concat([tpm.akTpm, Buffer.from([0])])) } },
      400,
    ],
    ['an EK as AK', { body: { ...good, aik_tpm: good.ek_tpm } }, 400],
    ['a bad port', { body: { ...good, port: 70000 } }, 400],
    ['a bad ip', { body: { ...good, ip: 'a b; rm -rf' } }, 400],
    ['a garbage ekcert', { body: { ...good, ekcert: 'MIIBAAAA' } }, 400],
    [
      'a garbage mtls_cert',
      {
        body: {
          ...good,
          mtls_cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        },
      },
      400,
    ],
  ])('refuses %s and stores nothing', async (_what, options, status) => {
    const r = await post('/v2.6/agents/hostile-1', options);
    expect(r.status).toBe(status);
    expect(await stored()).toEqual([]);
  });

  it('names the missing AK attributes when the AK is not a restricted TPM signing key', async () => {
    const r = await post('/v2.6/agents/weak-ak', {
      body: { ...good, aik_tpm: b64(softAk(0x00040072)) },
    });
    expect(r.status).toBe(400);
    expect((r.json as { status: string }).status).toBe(
      'Could not register agent with invalid data: aik_tpm must be a restricted signing key generated in the TPM (fixedTPM, fixedParent, sensitiveDataOrigin, restricted, sign); missing: restricted',
    );
  });

  it('refuses an EK certificate whose key is not ek_tpm', async () => {
    const r = await post('/v2.6/agents/mismatch', {
      body: { ...good, ekcert: reg.pki.serverCert },
    });
    expect(r.status).toBe(400);
    expect((r.json as { status: string }).status).toMatch(
      /ek_tpm must contain the same public key found in ekcert/,
    );
  });

  it.each(['bad%20id', 'x'.repeat(81), 'semi;colon'])('refuses the agent id %s', async (id) => {
    expect((await post(`/v2.6/agents/${id}`, { body: good })).status).toBe(400);
    expect((await request(reg.https, `/v2.6/agents/${id}`, { tls: reg.admin })).status).toBe(400);
  });

  it('answers unknown versions, paths and methods with 4xx', async () => {
    expect((await request(reg.http, '/v9.9/agents/x')).status).toBe(400);
    expect((await request(reg.http, '/v1.0/agents/x')).status).toBe(404);
    expect((await request(reg.http, '/nothing')).status).toBe(404);
    expect((await request(reg.http, '/v2.6/agents/x', { method: 'PATCH', body: {} })).status).toBe(
      405,
    );
    expect((await request(reg.http, '/v2.6/agents/x', { method: 'PUT', body: {} })).status).toBe(
      400,
    );
    expect(
      (await request(reg.http, '/v2.6/agents/unknown', { method: 'PUT', body: { auth_tag: 'ab' } }))
        .status,
    ).toBe(404);
  });

  it('enforces one agent id per EK when configured', async () => {
    const first = await post('/v2.6/agents/ek-owner', { body: good });
    expect(first.status).toBe(200);
    const second = await post('/v2.6/agents/ek-thief', {
      body: { ...good, aik_tpm: b64(softAk()) },
    });
    expect(second.status).toBe(403);
    expect(await stored()).toEqual(['ek-owner']);
    const del = await request(reg.https, '/v2.6/agents/ek-owner', {
      method: 'DELETE',
      tls: reg.admin,
    });
    expect(del.status).toBe(200);
  });

  it('keeps serving while a client stalls mid-request', async () => {
    const stalled = net.connect(reg.http, '127.0.0.1');
    await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
    stalled.write(
      'POST /v2.6/agents/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"aik',
    );
    const slowHeaders = net.connect(reg.http, '127.0.0.1');
    slowHeaders.write('GET /version HTTP/1.1\r\nHost: x\r\n');
    try {
      const t0 = Date.now();
      const t = createSoftTpm();
      const r = await post('/v2.6/agents/fast', {
        body: { aik_tpm: b64(t.akTpm), ek_tpm: b64(t.ekTpm) },
      });
      expect(r.status).toBe(200);
      const blob = (r.json as { results: { blob: string } }).results.blob;
      const a = await request(reg.http, '/v2.6/agents/fast', {
        method: 'PUT',
        body: { auth_tag: authTagFor(t.activate(blob), 'fast') },
      });
      expect(a.status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      stalled.destroy();
      slowHeaders.destroy();
    }
    const ids = await stored();
    expect(ids).toEqual(['fast']);
  });
});
