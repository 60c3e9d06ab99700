/** @module support/https: a small HTTPS client with a client certificate, for the agent and the registrar. */
import https from 'node:https';

export interface TlsClient {
  /** Trusted server certificate(s) (PEM). */
  readonly ca: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Parsed JSON body, or undefined. */
  readonly json: unknown;
}

/** One request; `body` objects are sent as JSON, strings raw (with `contentType`). */
export function request(
  tls: TlsClient,
  port: number,
  method: string,
  path: string,
  body?: unknown,
  contentType: string | undefined = 'application/json',
): Promise<HttpResult> {
  const payload =
    body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        ca: tls.ca,
        ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
        // Keylime clients do not check host names (spec §6.2).
        checkServerIdentity: () => undefined,
        agent: false,
        headers: {
          ...(payload === undefined ? {} : { 'Content-Length': Buffer.byteLength(payload) }),
          ...(payload !== undefined && contentType !== undefined
            ? { 'Content-Type': contentType }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
