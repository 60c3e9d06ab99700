/** @module http: a small HTTP(S) client for the registrar tests (no keep-alive, raw bodies). */
import http from 'node:http';
import https from 'node:https';

export interface Reply {
  readonly status: number;
  readonly text: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  readonly json: unknown;
}

export interface TlsClient {
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly body?: unknown;
  /** Raw body text; sent as is. */
  readonly raw?: string | Buffer;
  readonly headers?: Record<string, string>;
  readonly tls?: TlsClient;
}

export function request(port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  const body =
    options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = {
    ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const mod = options.tls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers,
        agent: false,
        ...(options.tls ? { ...options.tls, checkServerIdentity: () => undefined } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
