/**
 * @module webhook: a revocation webhook receiver on a free port (what an operator's alerting
 * endpoint sees) and the check of a revocation envelope's RSA-PSS signature (verifier spec §6.4).
 */
import { X509Certificate, constants, verify } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** The envelope every notification channel carries. */
export interface RevocationEnvelope {
  readonly msg: string;
  readonly signature: string;
}

export interface WebhookReceiver {
  readonly url: string;
  /** Envelopes received so far, in order. */
  readonly received: readonly RevocationEnvelope[];
  close(): Promise<void>;
}

function isEnvelope(value: unknown): value is RevocationEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v['msg'] === 'string' && typeof v['signature'] === 'string';
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: RevocationEnvelope[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      try {
        const parsed: unknown = JSON.parse(body);
        if (isEnvelope(parsed)) received.push(parsed);
        res.writeHead(isEnvelope(parsed) ? 200 : 400).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/revocation`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * True when `signature` is base64 RSA-PSS (SHA-256, MGF1-SHA-256, maximum salt) over the UTF-8
 * bytes of `msg` by the key of the RevocationNotifier certificate `certPem`.
 */
export function revocationSignatureValid(envelope: RevocationEnvelope, certPem: string): boolean {
  const key = new X509Certificate(certPem).publicKey;
  const modulusBits = key.asymmetricKeyDetails?.modulusLength ?? 2048;
  // Maximum salt = emLen - hLen - 2 (RFC 8017 §9.1.1), with emLen = ceil((modBits - 1) / 8).
  const saltLength = Math.ceil((modulusBits - 1) / 8) - 32 - 2;
  return verify(
    'sha256',
    Buffer.from(envelope.msg, 'utf8'),
    { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
    Buffer.from(envelope.signature, 'base64'),
  );
}
