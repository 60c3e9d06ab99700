#!/usr/bin/env node
// The README's first quick-start command: builds every role, starts the services on free local
// ports with a throw-away KEYLIME_DIR, shows each one answering, then stops everything.
// Leaves nothing running when it ends or is interrupted.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tty = process.stdout.isTTY;
const green = (s) => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s) => (tty ? `\x1b[31m${s}\x1b[0m` : s);
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const children = [];
let workDir;

function step(text) {
  process.stdout.write(`${bold('→')} ${text}\n`);
}
function ok(text) {
  process.stdout.write(`  ${green('✔')} ${text}\n`);
}

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  process.stdout.write('\ninterrupted, stopping services\n');
  cleanup();
  process.exit(130);
});
process.on('exit', cleanup);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function startService(name, file, env) {
  const log = fs.openSync(path.join(workDir, `${name}.log`), 'a');
  const child = spawn(process.execPath, [path.join(root, file)], {
    cwd: workDir,
    env: { ...process.env, KEYLIME_DIR: workDir, ...env },
    stdio: ['ignore', log, log],
  });
  children.push(child);
  return child;
}

function get(url, tls) {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { agent: false, timeout: 2000, ...tls }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor(what, child, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}; see its log`);
    try {
      const r = await probe();
      if (r.status === 200) return JSON.parse(r.body);
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main() {
  const started = Date.now();
  step('Building registrar, verifier, agent and tenant');
  const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '-p', 'registrar,verifier,agent,tenant', '--output-style=static'], {
    cwd: root,
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (build.status !== 0) {
    process.stdout.write(build.stdout + build.stderr);
    throw new Error('build failed');
  }
  ok('built dist/apps/{registrar,verifier,agent,tenant}');

  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-demo-'));
  // Our own empty config files, so a host's /etc/keylime does not leak into the demo.
  for (const c of ['verifier', 'registrar', 'ca', 'tenant']) fs.writeFileSync(path.join(workDir, `${c}.conf`), `[${c}]\n`);
  const verifierPort = await freePort();
  const regPort = await freePort();
  const regTlsPort = await freePort();

  step(`Starting the verifier (KEYLIME_DIR=${workDir})`);
  const verifier = startService('verifier', 'dist/apps/verifier/main.js', {
    KEYLIME_VERIFIER_CONFIG: path.join(workDir, 'verifier.conf'),
    KEYLIME_CA_CONFIG: path.join(workDir, 'ca.conf'),
    KEYLIME_VERIFIER_PORT: String(verifierPort),
  });
  const cvCa = path.join(workDir, 'cv_ca');
  const clientTls = () => ({
    ca: fs.readFileSync(path.join(cvCa, 'cacert.crt')),
    cert: fs.readFileSync(path.join(cvCa, 'client-cert.crt')),
    key: fs.readFileSync(path.join(cvCa, 'client-private.pem')),
    servername: 'localhost',
  });
  const vVersion = await waitFor('verifier', verifier, () => get(`https://127.0.0.1:${verifierPort}/version`, clientTls()));
  ok(`verifier generated the Keylime CA in ${cvCa}`);
  ok(`verifier answers https://127.0.0.1:${verifierPort}/version over mTLS: API ${vVersion.results.current_version}`);

  step('Starting the registrar');
  const registrar = startService('registrar', 'dist/apps/registrar/main.js', {
    KEYLIME_REGISTRAR_CONFIG: path.join(workDir, 'registrar.conf'),
    KEYLIME_REGISTRAR_PORT: String(regPort),
    KEYLIME_REGISTRAR_TLS_PORT: String(regTlsPort),
  });
  try {
    const rVersion = await waitFor('registrar', registrar, () => get(`http://127.0.0.1:${regPort}/version`), 15_000);
    ok(`registrar answers http://127.0.0.1:${regPort}/version (agents): API ${rVersion.results.current_version}`);
    await waitFor('registrar', registrar, () => get(`https://127.0.0.1:${regTlsPort}/version`, clientTls()), 15_000);
    ok(`registrar answers https://127.0.0.1:${regTlsPort}/version (tenant, mTLS)`);
  } catch (e) {
    process.stdout.write(`  ${red('✘')} registrar: ${e.message}\n`);
    process.exitCode = 1;
  }

  step('Stopping services');
  cleanup();
  ok(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((e) => {
  process.stdout.write(`  ${red('✘')} ${e.message}\n`);
  if (workDir) {
    for (const f of fs.readdirSync(workDir).filter((f) => f.endsWith('.log'))) {
      process.stdout.write(`--- ${f}\n${fs.readFileSync(path.join(workDir, f), 'utf8').split('\n').slice(-15).join('\n')}\n`);
    }
  }
  cleanup();
  process.exit(1);
});
