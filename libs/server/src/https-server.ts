/**
 * @module https-server: starts HTTP or HTTPS (optionally with client certificates) with
 * timeouts that keep a slow or stalled client from holding resources.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { RequestListener } from 'node:http';

export interface TlsServerMaterial {
  readonly key: string;
  readonly cert: string;
  readonly keyPassphrase?: string;
  /** Trusted client CAs (PEM). Undefined → no client certificates are requested. */
  readonly clientCas?: readonly string[];
}

export interface ServerTimeouts {
  /** Time to receive all request headers. */
  readonly headersMs: number;
  /** Time to receive the whole request. */
  readonly requestMs: number;
  /** Idle time on a kept-alive connection between requests. */
  readonly keepAliveMs: number;
  /** Time to finish the TLS handshake. */
  readonly handshakeMs: number;
}

export const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersMs: 10_000,
  requestMs: 60_000,
  keepAliveMs: 15_000,
  handshakeMs: 10_000,
};

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: RequestListener;
  /** Undefined → plain HTTP (the registrar's agent-facing port). */
  readonly tls?: TlsServerMaterial;
  readonly timeouts?: Partial<ServerTimeouts>;
  readonly maxHeaderBytes?: number;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/** Starts listening; resolves once the port is bound (rejects with EADDRINUSE etc.). */
export async function listen(options: ListenOptions): Promise<RunningServer> {
  const t = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const common = {
    maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024,
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
  };
  let server: http.Server;
  if (options.tls) {
    const tls = options.tls;
    server = https.createServer(
      {
        ...common,
        key: tls.key,
        cert: tls.cert,
        ...(tls.keyPassphrase ? { passphrase: tls.keyPassphrase } : {}),
        ...(tls.clientCas ? { ca: [...tls.clientCas], requestCert: true } : { requestCert: false }),
        // Certificates are optional at the TLS layer, as upstream (CERT_OPTIONAL): routes decide.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
        handshakeTimeout: t.handshakeMs,
      },
      options.handler,
    );
  } else {
    server = http.createServer(common, options.handler);
  }
  // Idle sockets (no request in flight) are closed by keepAliveTimeout; this bounds the rest.
  server.setTimeout(t.requestMs + t.headersMs);

  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    host: options.host,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Details of the client certificate a TLS request presented, if it verified. */
export interface ClientIdentity {
  readonly commonName: string;
}

/**
 * The verified client identity of a request, or undefined (plain HTTP, no certificate, or one
 * that did not chain to a trusted client CA).
 */
export function verifiedClient(socket: unknown): ClientIdentity | undefined {
  const s = socket as Partial<TLSSocket>;
  if (typeof s.getPeerCertificate !== 'function' || s.authorized !== true) return undefined;
  const cert = s.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  return { commonName: Array.isArray(cn) ? String(cn[0]) : String(cn ?? '') };
}

/** True when the request arrived over TLS. */
export function isTlsSocket(socket: unknown): boolean {
  return typeof (socket as Partial<TLSSocket>).getPeerCertificate === 'function';
}
