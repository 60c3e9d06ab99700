/**
 * @module testing/openssl-pki: a throwaway CA with server and client certificates made by the
 * openssl CLI, for tests that need real TLS independent of our own CA code.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestPki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A client certificate from a different CA (must be refused). */
  readonly strangerCert: string;
  readonly strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A self-signed P-256 certificate `<name>.crt` with key `<name>.key`, valid two days. */
function selfSignedP256(dir: string, name: string, extensions: readonly string[] = []): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    ...extensions.flatMap((e) => ['-addext', e]),
  ]);
}

function makeCa(dir: string, name: string): void {
  selfSignedP256(dir, name);
}

/**
 * A self-signed leaf (not a CA) for 127.0.0.1, like an agent's own mTLS certificate, written to
 * `dir` as `<name>.crt`/`<name>.key` and returned as PEM.
 */
export function createSelfSignedLeaf(dir: string, name: string): { cert: string; key: string } {
  selfSignedP256(dir, name, ['subjectAltName=IP:127.0.0.1', 'basicConstraints=critical,CA:FALSE']);
  return {
    cert: fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8'),
    key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  };
}

function makeLeaf(dir: string, ca: string, name: string, ext: string): void {
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

export function createTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'otherca');
  makeLeaf(dir, 'ca', 'server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  makeLeaf(dir, 'ca', 'client', 'subjectAltName=DNS:client\n');
  makeLeaf(dir, 'otherca', 'stranger', 'subjectAltName=DNS:stranger\n');
  const read = (f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');
  return {
    dir,
    caCert: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    strangerCert: read('stranger.crt'),
    strangerKey: read('stranger.key'),
  };
}
