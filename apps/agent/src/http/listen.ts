/**
 * @module http/listen: the agent's listener — HTTPS that *requires* a client certificate from a
 * trusted CA at the TLS handshake (spec §4.1), or plain HTTP when `enable_agent_mtls = false`.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import { DEFAULT_TIMEOUTS } from '@keylime/server';

export interface AgentTls {
  readonly key: string;
  readonly cert: string;
  /** Trusted client CA certificates (PEM). */
  readonly clientCas: readonly string[];
}

export interface AgentListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function listenAgent(options: {
  readonly host: string;
  readonly port: number;
  readonly handler: RequestListener;
  readonly tls: AgentTls | undefined;
}): Promise<AgentListener> {
  const t = DEFAULT_TIMEOUTS;
  const common = {
    maxHeaderSize: 16 * 1024,
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
  };
  const server: http.Server =
    options.tls === undefined
      ? http.createServer(common, options.handler)
      : https.createServer(
          {
            ...common,
            key: options.tls.key,
            cert: options.tls.cert,
            ca: [...options.tls.clientCas],
            requestCert: true,
            // Mandatory client certificates, checked during the handshake (RK: verify peer + fail if none).
            rejectUnauthorized: true,
            minVersion: 'TLSv1.2',
            handshakeTimeout: t.handshakeMs,
          },
          options.handler,
        );
  server.setTimeout(t.requestMs + t.headersMs);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
