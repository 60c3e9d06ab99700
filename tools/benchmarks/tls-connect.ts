/**
 * @module tls-connect: what a TLS connection per quote would cost the verifier, against a request
 * on a kept-alive connection (docs/performance.md, "Memory"). An mTLS server (P-256 certificates,
 * client certificate required) runs in a child process; the client opens N connections one after
 * another — full handshake, or resuming the previous session from its ticket — sends one request,
 * reads the answer and closes, for TLS 1.3 and 1.2. Printed: client CPU per connection.
 * Run: `tools/bench tls-connect [--connections N]`.
 */
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { createTestPki } from '@keylime/server/src/testing/openssl-pki';
import { positiveIntArg } from './support/process';

interface ServerPki {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

const ANSWER = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}';

function runServer(pki: ServerPki): void {
  const server = tls.createServer(
    { cert: pki.cert, key: pki.key, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
    (sock) => {
      sock.on('data', () => sock.end(ANSWER));
      sock.on('error', () => undefined);
    },
  );
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port));
}

function connectOnce(
  port: number,
  context: tls.SecureContext,
  session: Buffer | undefined,
  onSession: (s: Buffer) => void,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({
      host: '127.0.0.1',
      port,
      secureContext: context,
      rejectUnauthorized: false,
      ...(session ? { session } : {}),
    });
    let reused = false;
    sock.on('session', onSession);
    sock.once('secureConnect', () => {
      reused = sock.isSessionReused();
      sock.write('GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    });
    sock.on('data', () => undefined);
    sock.on('end', () => {
      sock.destroy();
      resolve(reused);
    });
    sock.on('error', reject);
  });
}

async function main(): Promise<void> {
  const n = positiveIntArg('--connections', 400);
  const pki = createTestPki();
  const server = fork(__filename, ['--server'], {
    execArgv: ['-r', '@swc-node/register'],
    env: {
      ...process.env,
      TLS_CONNECT_PKI: JSON.stringify({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert }),
    },
  });
  try {
    const port = await new Promise<number>((r) => server.once('message', (m) => r(m as number)));
    console.log(`tls-connect: ${n} mTLS connections (P-256), one request each, client CPU only`);
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const context = tls.createSecureContext({
        cert: pki.clientCert,
        key: pki.clientKey,
        ca: pki.caCert,
        minVersion: version,
        maxVersion: version,
      });
      for (const resume of [false, true]) {
        let session: Buffer | undefined;
        const keep = (s: Buffer): void => {
          session = s;
        };
        const once = (): Promise<boolean> =>
          connectOnce(port, context, resume ? session : undefined, keep);
        for (let w = 0; w < 20; w++) await once(); // warm-up, and a session to resume
        let reused = 0;
        const cpu0 = process.cpuUsage();
        for (let c = 0; c < n; c++) if (await once()) reused++;
        const cpu = process.cpuUsage(cpu0);
        const us = (cpu.user + cpu.system) / n;
        console.log(
          `  ${version} ${resume ? 'resumed' : 'full   '}  ${us.toFixed(0).padStart(6)} µs/connection  (${reused}/${n} resumed)`,
        );
      }
    }
  } finally {
    server.kill();
  }
}

if (process.argv.includes('--server')) {
  runServer(JSON.parse(process.env['TLS_CONNECT_PKI'] ?? '{}') as ServerPki);
} else {
  main().catch((e: unknown) => {
    console.error(`tls-connect: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
