/** @module services.spec: the built verifier and registrar start, answer over (m)TLS, refuse bad options. */
import fs from 'node:fs';
import path from 'node:path';
import {
  BUILT,
  clientTls,
  createWorkspace,
  freePort,
  removeBuiltSnapshot,
  request,
  startBuilt,
  waitUntilAnswering,
} from './processes';
import type { Service, Workspace } from './processes';

describe('built services start from upstream config and answer /version', () => {
  let ws: Workspace;
  const services: Service[] = [];

  beforeAll(() => {
    ws = createWorkspace();
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    ws.remove();
    removeBuiltSnapshot();
  });

  it('verifier: generates cv_ca, answers over mTLS, refuses a client without certificate', async () => {
    const port = await freePort();
    const verifier = startBuilt('verifier', BUILT.verifier, ws, {
      KEYLIME_VERIFIER_PORT: String(port),
    });
    services.push(verifier);
    const url = `https://127.0.0.1:${port}/version`;
    await waitUntilAnswering(verifier, () => request(url, clientTls(ws)));
    expect(fs.existsSync(path.join(ws.dir, 'cv_ca', 'cacert.crt'))).toBe(true);
    const r = await request(url, clientTls(ws));
    expect(JSON.parse(r.body)).toMatchObject({
      code: 200,
      status: 'Success',
      results: { current_version: '2.6' },
    });
    const anonymous = await request(`https://127.0.0.1:${port}/v2.6/agents/`, {
      ca: clientTls(ws).ca,
      servername: 'localhost',
    });
    expect([403, 404]).toContain(anonymous.status);
    expect(verifier.output()).toContain('Starting Cloud Verifier');
  }, 60_000);

  it('registrar: reuses cv_ca, answers agents over HTTP and the tenant over mTLS', async () => {
    const port = await freePort();
    const tlsPort = await freePort();
    const registrar = startBuilt('registrar', BUILT.registrar, ws, {
      KEYLIME_REGISTRAR_PORT: String(port),
      KEYLIME_REGISTRAR_TLS_PORT: String(tlsPort),
    });
    services.push(registrar);
    const plain = await waitUntilAnswering(registrar, () =>
      request(`http://127.0.0.1:${port}/version`),
    );
    expect(JSON.parse(plain.body).results.current_version).toBe('2.6');
    const secure = await request(`https://127.0.0.1:${tlsPort}/version`, clientTls(ws));
    expect(secure.status).toBe(200);
    const list = await request(`https://127.0.0.1:${tlsPort}/v2.6/agents/`, clientTls(ws));
    expect(JSON.parse(list.body)).toEqual({ code: 200, status: 'Success', results: { uuids: [] } });
    const anonymous = await request(`https://127.0.0.1:${tlsPort}/v2.6/agents/`, {
      ca: clientTls(ws).ca,
      servername: 'localhost',
    });
    expect(anonymous.status).toBe(403);
  }, 60_000);

  it('a broken option stops the verifier with one line and exit code 2', async () => {
    const verifier = startBuilt('verifier-bad', BUILT.verifier, ws, {
      KEYLIME_VERIFIER_QUOTE_INTERVAL: 'soon',
    });
    const code = await new Promise<number | null>((resolve) =>
      verifier.child.once('exit', resolve),
    );
    expect(code).toBe(2);
    const lines = verifier.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/KEYLIME_VERIFIER_QUOTE_INTERVAL.*quote_interval/);
  }, 30_000);
});
