#!/usr/bin/env node
// The README's first quick-start command: builds every role, then tells the whole story on them
// (tools/demo/story.ts): two machines on swtpms booted from a real event log, registrar, verifier,
// agents, policies from keylime-policy, enrolment with keylime_tenant, live attestation, a
// tampered file, its failure and the signed revocation. Leaves nothing running when it ends or is
// interrupted: Ctrl-C reaches every process of the group, and the story stops what it started.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const green = (s) => (tty ? `\x1b[32m${s}\x1b[0m` : s);
const red = (s) => (tty ? `\x1b[31m${s}\x1b[0m` : s);

let current;
let interrupted = false;
// The child in charge (nx, then the story) gets the same Ctrl-C and winds down; we wait for it.
process.on('SIGINT', () => {
  interrupted = true;
});
process.on('SIGTERM', () => {
  interrupted = true;
  current?.kill('SIGTERM');
});

function run(command, args, options) {
  return new Promise((resolve) => {
    current = spawn(command, args, { cwd: root, ...options });
    let output = '';
    current.stdout?.on('data', (c) => (output += c));
    current.stderr?.on('data', (c) => (output += c));
    current.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

process.stdout.write(
  `${bold('keylime-ts demo')}: two machines attested end to end on software TPMs\n\n`,
);
process.stdout.write(
  `${bold('→')} Building registrar, verifier, agent and tenant (cached after the first run)\n`,
);
const t0 = Date.now();
const build = await run(
  'npx',
  [
    'nx',
    'run-many',
    '-t',
    'build',
    '-p',
    'registrar,verifier,agent,tenant',
    '--output-style=static',
  ],
  {
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
if (interrupted) {
  process.stdout.write('\ninterrupted during the build; nothing was started\n');
  process.exit(130);
}
if (build.code !== 0) {
  process.stdout.write(build.output);
  process.stdout.write(`  ${red('✘')} build failed\n`);
  process.exit(1);
}
process.stdout.write(
  `  ${green('✔')} built dist/apps/{registrar,verifier,agent,tenant} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
);

// The story is TypeScript sharing the e2e harness (apps/e2e/src/system.ts).
const story = await run(
  process.execPath,
  ['-r', '@swc-node/register', path.join(root, 'tools/demo/story.ts')],
  { stdio: 'inherit' },
);
process.exit(story.code ?? (interrupted ? 130 : 1));
