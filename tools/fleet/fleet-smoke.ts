/**
 * @module fleet-smoke: a first throughput figure for the fleet benchmark — one in-process verifier
 * (real HTTPS, SQLite) attesting N simulated agents served from this same process.
 * Run: `node -r @swc-node/register tools/fleet/fleet-smoke.ts [agents=200] [seconds=10] [interval=1]`.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@keylime/core';
import { startVerifier } from '../../apps/verifier/src/verifier';
import { SimulatedAgent, createFleetIdentity, serveSimulatedAgent } from './simulated-agent';
import type { RunningSimulatedAgent } from './simulated-agent';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? '200');
  const seconds = Number(process.argv[3] ?? '10');
  const interval = process.argv[4] ?? '1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-fleet-'));
  const verifier = await startVerifier({
    logger: silentLogger,
    configOptions: {
      env: {
        KEYLIME_DIR: dir,
        KEYLIME_VERIFIER_PORT: '0',
        KEYLIME_VERIFIER_QUOTE_INTERVAL: interval,
      },
      etcDirs: [path.join(dir, 'etc')],
    },
  });
  const ca = path.join(dir, 'cv_ca');
  const caCert = fs.readFileSync(path.join(ca, 'cacert.crt'), 'utf8');
  const agent = new https.Agent({
    ca: caCert,
    cert: fs.readFileSync(path.join(ca, 'client-cert.crt')),
    key: fs.readFileSync(path.join(ca, 'client-private.pem')),
    keepAlive: true,
    maxSockets: 16,
  });
  const identity = await createFleetIdentity();
  const served: RunningSimulatedAgent[] = [];
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const a = new SimulatedAgent({ agentId: `fleet-${i}`, identity });
    const s = await serveSimulatedAgent(a, caCert);
    served.push(s);
    const body = JSON.stringify({
      v: null,
      cloudagent_ip: '127.0.0.1',
      cloudagent_port: s.port,
      tpm_policy: '{"mask": "0x400"}',
      runtime_policy: Buffer.from(JSON.stringify(a.runtimePolicy())).toString('base64'),
      mb_policy: null,
      ima_sign_verification_keys: '',
      metadata: '{}',
      revocation_key: '',
      accept_tpm_hash_algs: ['sha256'],
      accept_tpm_encryption_algs: ['ecc', 'rsa'],
      accept_tpm_signing_algs: ['ecdsa', 'rsassa'],
      ak_tpm: a.akTpm,
      mtls_cert: identity.tlsCertPem,
      supported_version: '2.6',
    });
    await new Promise<void>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: verifier.server.port,
          path: `/v2.6/agents/fleet-${i}`,
          method: 'POST',
          agent,
          servername: 'localhost',
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`enrol ${i}: ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  const enrolled = Date.now();
  const engine = verifier.engine;
  if (!engine) throw new Error('fleet-smoke runs the verifier without attestation workers');
  const start = engine.attestations;
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const done = engine.attestations - start;
  console.log(
    `agents ${n}, enrol ${((enrolled - t0) / 1000).toFixed(1)} s, quote_interval ${interval} s: ` +
      `${(done / seconds).toFixed(0)} attestations/s (verifier + simulator in one process, ` +
      `CPU ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)} % of one core)`,
  );
  agent.destroy();
  await verifier.stop();
  await Promise.all(served.map((s) => s.close()));
  fs.rmSync(dir, { recursive: true, force: true });
}

void main();
