import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { Router } from 'express';
import type { Request, Response } from 'express';
import { silentLogger } from '@keylime/core';
import { SERVER_SUPPORTED_VERSIONS } from '@keylime/protocol';
import { createApp, finishApp, route, jsonObjectBody, sendEnvelope } from './app';
import { mountVersionedApi, apiVersion } from './versioning';
import { listen } from './https-server';
import type { RunningServer } from './https-server';
import { requireAdmin } from './admin';
import { HttpError } from './http-error';
import { createTestPki } from './testing/openssl-pki';
import type { TestPki } from './testing/openssl-pki';

interface Reply {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

function request(
  port: number,
  options: {
    method?: string;
    path: string;
    body?: string;
    headers?: Record<string, string>;
    tls?: https.RequestOptions;
  },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = options.tls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
        ...(options.tls ?? {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

function buildApp(requireJsonContentType: boolean) {
  const app = createApp({ logger: silentLogger, bodyLimitBytes: 1024, requireJsonContentType });
  mountVersionedApi(app, {
    supported: SERVER_SUPPORTED_VERSIONS,
    current: '2.6',
    routerFor: (major) => {
      if (major !== 2) return undefined;
      const r = Router();
      route(r, '/echo', {
        post: (req, res) =>
          sendEnvelope(res, 200, 'Success', { version: apiVersion(res), got: jsonObjectBody(req) }),
      });
      route(r, '/admin', {
        get: [
          requireAdmin,
          (_req: Request, res: Response) =>
            sendEnvelope(res, 200, 'Success', { admin: res.locals['adminIdentity'] }),
        ],
      });
      route(r, '/boom', {
        get: () => {
          throw new Error('secret internal detail');
        },
      });
      route(r, '/teapot', {
        get: () => {
          throw new HttpError(418, 'I am a teapot');
        },
      });
      return r;
    },
  });
  finishApp(app, silentLogger);
  return app;
}

describe('HTTPS server with client certificates', () => {
  let pki: TestPki;
  let server: RunningServer;

  beforeAll(async () => {
    pki = createTestPki();
    server = await listen({
      host: '127.0.0.1',
      port: 0,
      handler: buildApp(false),
      tls: { key: pki.serverKey, cert: pki.serverCert, clientCas: [pki.caCert] },
      timeouts: { headersMs: 500, requestMs: 1000 },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const withClient = (): https.RequestOptions => ({
    ca: pki.caCert,
    cert: pki.clientCert,
    key: pki.clientKey,
  });

  it('answers /version as upstream', async () => {
    const r = await request(server.port, { path: '/version', tls: { ca: pki.caCert } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({
      code: 200,
      status: 'Success',
      results: { current_version: '2.6', supported_versions: [...SERVER_SUPPORTED_VERSIONS] },
    });
  });

  it('routes /v2 to the latest minor and /v2.1 exactly; unsupported versions get 400', async () => {
    const body = JSON.stringify({ a: 1 });
    const r1 = await request(server.port, {
      method: 'POST',
      path: '/v2/echo',
      body,
      tls: withClient(),
    });
    expect(JSON.parse(r1.body).results).toEqual({ version: '2.6', got: { a: 1 } });
    const r2 = await request(server.port, {
      method: 'POST',
      path: '/v2.1/echo',
      body,
      tls: withClient(),
    });
    expect(JSON.parse(r2.body).results.version).toBe('2.1');
    const r3 = await request(server.port, { path: '/v2.9/echo', tls: withClient() });
    expect(r3.status).toBe(400);
    expect(JSON.parse(r3.body)).toEqual({
      code: 400,
      status: 'API Version not supported',
      results: {},
    });
  });

  it('admits a client with a certificate from the trusted CA and names it', async () => {
    const r = await request(server.port, { path: '/v2.6/admin', tls: withClient() });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).results).toEqual({ admin: 'client' });
  });

  it('refuses a client without a certificate with 403', async () => {
    const r = await request(server.port, { path: '/v2.6/admin', tls: { ca: pki.caCert } });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).errors[0].status).toBe('403');
  });

  it('refuses a certificate from another CA', async () => {
    const r = await request(server.port, {
      path: '/v2.6/admin',
      tls: { ca: pki.caCert, cert: pki.strangerCert, key: pki.strangerKey },
    });
    expect(r.status).toBe(403);
  });

  it('treats an Authorization header as not-admin even with a good certificate', async () => {
    const r = await request(server.port, {
      path: '/v2.6/admin',
      headers: { authorization: 'Bearer x' },
      tls: withClient(),
    });
    expect(r.status).toBe(403);
  });

  it('maps malformed JSON, oversized bodies, wrong content types, 404 and 405 to JSON envelopes', async () => {
    const bad = await request(server.port, {
      method: 'POST',
      path: '/v2/echo',
      body: '{"a":',
      headers: { 'content-type': 'application/json' },
      tls: withClient(),
    });
    expect([bad.status, JSON.parse(bad.body).status]).toEqual([
      400,
      'Malformed JSON in request body',
    ]);
    const big = await request(server.port, {
      method: 'POST',
      path: '/v2/echo',
      body: JSON.stringify({ a: 'x'.repeat(5000) }),
      tls: withClient(),
    });
    expect(big.status).toBe(413);
    const xml = await request(server.port, {
      method: 'POST',
      path: '/v2/echo',
      body: '<a/>',
      headers: { 'content-type': 'text/xml' },
      tls: withClient(),
    });
    expect(xml.status).toBe(415);
    const arr = await request(server.port, {
      method: 'POST',
      path: '/v2/echo',
      body: '[1]',
      tls: withClient(),
    });
    expect([arr.status, JSON.parse(arr.body).status]).toEqual([
      400,
      'Request body must be a JSON object',
    ]);
    const nf = await request(server.port, { path: '/v2/nothing', tls: withClient() });
    expect(JSON.parse(nf.body)).toEqual({ code: 404, status: 'Not Found', results: {} });
    const mna = await request(server.port, {
      method: 'DELETE',
      path: '/v2/echo',
      tls: withClient(),
    });
    expect(mna.status).toBe(405);
    expect(mna.headers['allow']).toBe('POST');
  });

  it('hides internal errors behind a 500 and passes HttpError statuses through', async () => {
    const boom = await request(server.port, { path: '/v2/boom', tls: withClient() });
    expect(boom.status).toBe(500);
    expect(boom.body).not.toContain('secret');
    const tea = await request(server.port, { path: '/v2/teapot', tls: withClient() });
    expect(JSON.parse(tea.body)).toEqual({ code: 418, status: 'I am a teapot', results: {} });
  });

  it('drops a client that never finishes its headers, and keeps serving others meanwhile', async () => {
    const slow = tls.connect({
      host: '127.0.0.1',
      port: server.port,
      ca: pki.caCert,
      servername: 'localhost',
    });
    await new Promise<void>((resolve) => slow.once('secureConnect', () => resolve()));
    slow.write('GET /version HTTP/1.1\r\nHost: x\r\n');
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      slow.on('close', () => resolve(Date.now() - t0));
      slow.on('error', () => undefined);
    });
    const other = await request(server.port, { path: '/version', tls: { ca: pki.caCert } });
    expect(other.status).toBe(200);
    const elapsed = await closed;
    expect(elapsed).toBeLessThan(5000);
  });
});

describe('plain HTTP with a required JSON content type', () => {
  it('refuses a body without Content-Type', async () => {
    const server = await listen({ host: '127.0.0.1', port: 0, handler: buildApp(true) });
    try {
      const r = await request(server.port, { method: 'POST', path: '/v2/echo', body: '{}' });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).status).toBe('Content-Type: application/json is required');
      const ok = await request(server.port, {
        method: 'POST',
        path: '/v2/echo',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(ok.status).toBe(200);
      const admin = await request(server.port, { path: '/v2/admin' });
      expect(admin.status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('reports a busy port as an error instead of crashing', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    await expect(listen({ host: '127.0.0.1', port, handler: buildApp(true) })).rejects.toThrow(
      /EADDRINUSE/,
    );
    blocker.close();
  });
});
