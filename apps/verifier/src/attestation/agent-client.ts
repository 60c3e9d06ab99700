/**
 * @module agent-client: HTTPS calls from the verifier to one pull agent (verifier §1.8): a keep-alive
 * mTLS connection per agent (verifier client cert; trust = configured CAs plus the agent's own
 * mtls_cert; no hostname check; TLS ≥ 1.2), a hard timeout per request and a cap on the response
 * size, so a hanging, slow or flooding agent costs one bounded request and never the loop.
 */
import http from 'node:http';
import https from 'node:https';

/** The verifier's client identity for calls to agents. */
export interface ClientTls {
  readonly cert: string;
  readonly key: string;
  readonly passphrase?: string;
  /** Trusted server CAs (PEM); empty with verifyPeer false = `trusted_server_ca = all`. */
  readonly cas: readonly string[];
  readonly verifyPeer: boolean;
}

export interface AgentEndpoint {
  readonly ip: string;
  readonly port: number;
  /** Agent's self-signed server certificate, or null/"disabled" for plain HTTP. */
  readonly mtlsCert: string | null;
}

export type AgentResponse =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly statusText: string;
      readonly results: unknown;
    }
  /** Connection, TLS or timeout problem: upstream's 599 (408 for a timeout), both retried. */
  | { readonly kind: 'unreachable'; readonly code: 408 | 599; readonly reason: string }
  | { readonly kind: 'too-large'; readonly limit: number }
  | { readonly kind: 'malformed'; readonly status: number; readonly reason: string };

export interface AgentClientOptions {
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

function hostFor(ip: string): string {
  return ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
}

/** One agent's connection pool and request helpers. */
export class AgentClient {
  private readonly agent: http.Agent;
  private readonly secure: boolean;

  constructor(
    readonly endpoint: AgentEndpoint,
    tls: ClientTls | undefined,
    private readonly options: AgentClientOptions,
  ) {
    const cert = endpoint.mtlsCert;
    this.secure = tls !== undefined && cert !== null && cert !== 'disabled' && cert !== '';
    if (this.secure && tls) {
      this.agent = new https.Agent({
        keepAlive: true,
        maxSockets: 2,
        cert: tls.cert,
        key: tls.key,
        ...(tls.passphrase ? { passphrase: tls.passphrase } : {}),
        ca: [...tls.cas, cert as string],
        rejectUnauthorized: tls.verifyPeer,
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.2',
      });
    } else {
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
    }
  }

  get(path: string): Promise<AgentResponse> {
    return this.request('GET', path, undefined);
  }

  post(path: string, body: unknown): Promise<AgentResponse> {
    return this.request('POST', path, JSON.stringify(body));
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, body: string | undefined): Promise<AgentResponse> {
    const { timeoutMs, maxResponseBytes } = this.options;
    const mod = this.secure ? https : http;
    return new Promise<AgentResponse>((resolve) => {
      let settled = false;
      const done = (r: AgentResponse): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const req = mod.request(
        {
          host: hostFor(this.endpoint.ip).replace(/^\[|\]$/g, ''),
          port: this.endpoint.port,
          method,
          path,
          agent: this.agent,
          headers:
            body === undefined
              ? {}
              : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          const declared = Number(res.headers['content-length'] ?? '0');
          if (declared > maxResponseBytes) {
            req.destroy();
            done({ kind: 'too-large', limit: maxResponseBytes });
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxResponseBytes) {
              req.destroy();
              done({ kind: 'too-large', limit: maxResponseBytes });
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => done(parseEnvelope(res.statusCode ?? 0, Buffer.concat(chunks))));
          res.on('error', (e) => done({ kind: 'unreachable', code: 599, reason: e.message }));
        },
      );
      // One deadline for the whole exchange (connect, TLS, headers, body): request_timeout.
      const timer = setTimeout(() => {
        req.destroy();
        done({ kind: 'unreachable', code: 408, reason: `no answer within ${timeoutMs} ms` });
      }, timeoutMs);
      req.on('error', (e) => done({ kind: 'unreachable', code: 599, reason: e.message }));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

function parseEnvelope(status: number, bytes: Buffer): AgentResponse {
  let json: unknown;
  try {
    json = bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'malformed', status, reason: 'response body is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { kind: 'malformed', status, reason: 'response body is not a JSON object' };
  }
  const o = json as Record<string, unknown>;
  return {
    kind: 'response',
    status,
    statusText: typeof o['status'] === 'string' ? o['status'] : '',
    results: o['results'],
  };
}
