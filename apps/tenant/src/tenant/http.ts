/**
 * @module tenant/http: HTTPS clients for the registrar, verifier and agent (spec §6.2): keep-alive
 * connections, the tenant's client certificate, trusted_server_ca (plus the agent's own mtls_cert
 * as an extra trust anchor), no hostname checks and TLS ≥ 1.2 as upstream; connection and TLS
 * failures become one readable line.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { TenantConfig } from '@keylime/config';
import { UserError, oneLineMessage } from './errors';
import type { Reporter } from './output';

/** The tenant's TLS identity and trust (upstream web_util.get_tls_options for the tenant). */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly passphrase: string | undefined;
  /** Trusted CA certificates (PEM); empty with verifyPeer means nothing is trusted. */
  readonly ca: readonly Buffer[];
  readonly caFiles: readonly string[];
  readonly verifyPeer: boolean;
}

function readOptional(file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * Upstream Tenant.__init__: "Setting up client TLS...", warnings for missing files, and TLS
 * only when both the client certificate and key exist.
 */
export function loadTenantTls(config: TenantConfig, out: Reporter): TlsMaterial | undefined {
  out.info('Setting up client TLS...', null);
  if (!config.enableAgentMtls) {
    out.warn(
      'Warning: agent mTLS is currently disabled, keys will be sent in the clear! This should only be used for testing.',
    );
  }
  const verifyPeer = config.trustedServerCa.verifyPeer;
  if (!verifyPeer) {
    out.warn(
      "Warning: server certificate verification is disabled as 'trusted_server_ca' option is set to 'all'. This should only be used for testing.",
    );
  }
  if (verifyPeer && config.trustedServerCa.files.length === 0)
    out.warn("No certificates provided in 'trusted_server_ca'");
  const cert = readOptional(config.clientCert);
  const key = readOptional(config.clientKey);
  if (config.clientCert !== undefined && cert === undefined) {
    out.warn(`Could not find file ${config.clientCert} provided in 'client_cert'`);
  }
  if (config.clientKey !== undefined && key === undefined) {
    out.warn(`Could not find file ${config.clientKey} provided in 'client_key'`);
  }
  if (cert === undefined || key === undefined) {
    out.warn('TLS is disabled.');
    return undefined;
  }
  const ca: Buffer[] = [];
  for (const file of config.trustedServerCa.files) {
    const pem = readOptional(file);
    if (pem === undefined) throw new UserError(`Cannot read trusted_server_ca certificate ${file}`);
    ca.push(pem);
  }
  out.info('TLS is enabled.', null);
  return {
    cert,
    key,
    passphrase: config.clientKeyPassword || undefined,
    ca,
    caFiles: config.trustedServerCa.files,
    verifyPeer,
  };
}

export interface HttpReply {
  readonly status: number;
  readonly text: string;
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** Why a request did not get an HTTP answer. */
export const TransportFailure = {
  Refused: 'refused',
  Timeout: 'timeout',
  UnknownCa: 'unknown-ca',
  UntrustedServer: 'untrusted-server',
  Other: 'other',
} as const;
export type TransportFailureValue = (typeof TransportFailure)[keyof typeof TransportFailure];

/** No HTTP answer (refused, timed out, TLS refused): callers may retry, or fail with the message. */
export class TransportError extends UserError {
  readonly kind: TransportFailureValue;
  constructor(kind: TransportFailureValue, message: string) {
    super(message);
    this.name = 'TransportError';
    this.kind = kind;
  }
}

const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** One line for a socket/TLS error towards `label` (e.g. "Verifier (127.0.0.1:8881)"). */
export function transportError(
  label: string,
  e: unknown,
  caFiles: readonly string[],
): TransportError {
  const raw = (e as { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : '';
  const msg = oneLineMessage(e);
  if (code === 'ECONNREFUSED')
    return new TransportError(
      TransportFailure.Refused,
      `Cannot connect to ${label}: connection refused`,
    );
  if (
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN'
  ) {
    return new TransportError(
      TransportFailure.Refused,
      `Cannot connect to ${label}: ${code === 'ENOTFOUND' ? 'unknown host' : 'host unreachable'}`,
    );
  }
  if (code === 'ETIMEDOUT' || code === 'KL_TIMEOUT')
    return new TransportError(TransportFailure.Timeout, `${label} timed out`);
  if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' || /alert unknown ca/i.test(msg)) {
    return new TransportError(
      TransportFailure.UnknownCa,
      `${label} does not accept the tenant's client certificate (TLS alert: unknown CA)`,
    );
  }
  if (UNTRUSTED_CODES.has(code)) {
    const trust = caFiles.length > 0 ? caFiles.join(', ') : '(none)';
    return new TransportError(
      TransportFailure.UntrustedServer,
      `The TLS certificate of ${label} is not trusted (${msg}); trusted_server_ca: ${trust}`,
    );
  }
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return new TransportError(TransportFailure.Refused, `Connection to ${label} was reset`);
  return new TransportError(TransportFailure.Other, `Request to ${label} failed: ${msg}`);
}

/** How to reach one service. */
export interface ClientOptions {
  /** "Verifier (127.0.0.1:8881)", used in messages. */
  readonly label: string;
  readonly host: string;
  readonly port: number | string;
  /** undefined = plain HTTP. */
  readonly tls: TlsMaterial | undefined;
  /** Extra trust anchors (the agent's self-signed mtls_cert). */
  readonly extraCa?: readonly string[];
  readonly timeoutMs: number;
}

/** A keep-alive JSON client for one service. */
export interface ServiceClient {
  readonly label: string;
  request(method: string, path: string, body?: unknown): Promise<HttpReply>;
  close(): void;
}

/** Brackets IPv6 literals for URLs (upstream bracketize_ipv6). */
export function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export function createServiceClient(options: ClientOptions): ServiceClient {
  const tls = options.tls;
  const agent = tls
    ? new https.Agent({
        keepAlive: true,
        maxSockets: 4,
        cert: tls.cert,
        key: tls.key,
        ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
        ca: [...tls.ca, ...(options.extraCa ?? []).map((p) => Buffer.from(p))],
        rejectUnauthorized: tls.verifyPeer,
        minVersion: 'TLSv1.2',
        // Upstream clients do not check host names; trust comes from the CA set alone.
        checkServerIdentity: () => undefined,
      })
    : new http.Agent({ keepAlive: true, maxSockets: 4 });
  const base = `${tls ? 'https' : 'http'}://${hostForUrl(options.host)}:${options.port}`;
  return {
    label: options.label,
    request(method, path, body) {
      return new Promise<HttpReply>((resolve, reject) => {
        const payload =
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
        const headers: Record<string, string | number> = { Accept: 'application/json' };
        if (payload !== undefined) {
          headers['Content-Type'] = 'application/json';
          headers['Content-Length'] = Buffer.byteLength(payload);
        }
        let url: URL;
        try {
          url = new URL(path, base);
        } catch {
          reject(new UserError(`Invalid address for ${options.label}: ${base}`));
          return;
        }
        const mod = tls ? https : http;
        const req = mod.request(url, { method, headers, agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text.length > 0 ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, text, json });
          });
          res.on('error', (e) => reject(transportError(options.label, e, tls?.caFiles ?? [])));
        });
        req.setTimeout(options.timeoutMs, () => {
          req.destroy(Object.assign(new Error('timed out'), { code: 'KL_TIMEOUT' }));
        });
        req.on('error', (e) => reject(transportError(options.label, e, tls?.caFiles ?? [])));
        if (payload !== undefined) req.write(payload);
        req.end();
      });
    },
    close: () => agent.destroy(),
  };
}

/** The `results` object of an envelope, or undefined. */
export function resultsOf(reply: HttpReply): Record<string, unknown> | undefined {
  const j = reply.json;
  if (typeof j !== 'object' || j === null || Array.isArray(j)) return undefined;
  const r = (j as Record<string, unknown>)['results'];
  return typeof r === 'object' && r !== null && !Array.isArray(r)
    ? (r as Record<string, unknown>)
    : undefined;
}

/** The envelope's `status` text, or the HTTP body, for messages. */
export function statusTextOf(reply: HttpReply): string {
  const j = reply.json;
  if (typeof j === 'object' && j !== null && !Array.isArray(j)) {
    const s = (j as Record<string, unknown>)['status'];
    if (typeof s === 'string') return s;
    const errors = (j as Record<string, unknown>)['errors'];
    if (
      Array.isArray(errors) &&
      typeof (errors[0] as Record<string, unknown> | undefined)?.['detail'] === 'string'
    ) {
      return String((errors[0] as Record<string, unknown>)['detail']);
    }
  }
  return reply.text.trim() === '' ? `HTTP ${reply.status}` : reply.text.trim();
}
