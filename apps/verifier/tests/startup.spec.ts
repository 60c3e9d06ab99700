import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@keylime/core';
import { startVerifier } from '../src/verifier';
import type { RunningVerifier } from '../src/verifier';

const repoRoot = path.resolve(__dirname, '../../..');

function get(port: number, tls: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/version', agent: false, ...tls },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('verifier start-up', () => {
  let workDir: string;
  let verifier: RunningVerifier;

  beforeAll(async () => {
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-verifier-'));
    verifier = await startVerifier({
      logger: silentLogger,
      configOptions: {
        env: { KEYLIME_DIR: workDir, KEYLIME_VERIFIER_PORT: '0' },
        etcDirs: [path.join(workDir, 'etc')],
      },
    });
  }, 30_000);

  afterAll(async () => {
    await verifier.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('generates the Keylime CA in KEYLIME_DIR/cv_ca under upstream file names', () => {
    const files = fs.readdirSync(path.join(workDir, 'cv_ca')).sort();
    for (const f of [
      'cacert.crt',
      'server-cert.crt',
      'server-private.pem',
      'client-cert.crt',
      'client-private.pem',
      'cacrl.der',
      'private.yml',
    ]) {
      expect(files).toContain(f);
    }
    const mode = fs.statSync(path.join(workDir, 'cv_ca', 'client-private.pem')).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it('answers GET /version over HTTPS to a client holding the generated client certificate', async () => {
    const ca = path.join(workDir, 'cv_ca');
    const r = await get(verifier.server.port, {
      ca: fs.readFileSync(path.join(ca, 'cacert.crt')),
      cert: fs.readFileSync(path.join(ca, 'client-cert.crt')),
      key: fs.readFileSync(path.join(ca, 'client-private.pem')),
      servername: 'localhost',
    });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).results.current_version).toBe('2.6');
  });

  it('refuses a client without a certificate on admin routes', async () => {
    const ca = fs.readFileSync(path.join(workDir, 'cv_ca', 'cacert.crt'));
    const r = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: verifier.server.port,
          path: '/v2.6/agents/',
          agent: false,
          ca,
          servername: 'localhost',
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    // Admin-only; until the agents routes exist the router answers 404, after that 403.
    expect([403, 404]).toContain(r);
  });

  it('reuses the generated CA on restart', async () => {
    const before = fs.readFileSync(path.join(workDir, 'cv_ca', 'cacert.crt'), 'utf8');
    const again = await startVerifier({
      logger: silentLogger,
      configOptions: {
        env: { KEYLIME_DIR: workDir, KEYLIME_VERIFIER_PORT: '0' },
        etcDirs: [path.join(workDir, 'etc')],
      },
    });
    await again.stop();
    expect(fs.readFileSync(path.join(workDir, 'cv_ca', 'cacert.crt'), 'utf8')).toBe(before);
  });
});

describe('verifier with a broken configuration', () => {
  it('prints one line naming the option and exits 2', () => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-verifier-bad-'));
    const conf = path.join(workDir, 'verifier.conf');
    fs.writeFileSync(conf, '[verifier]\nquote_interval = often\n');
    const run = spawnSync(
      process.execPath,
      ['-r', '@swc-node/register', 'apps/verifier/src/main.ts'],
      {
        cwd: repoRoot,
        env: { ...process.env, KEYLIME_DIR: workDir, KEYLIME_VERIFIER_CONFIG: conf },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(conf);
    expect(lines[0]).toContain('quote_interval');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    fs.rmSync(workDir, { recursive: true, force: true });
  }, 40_000);
});
