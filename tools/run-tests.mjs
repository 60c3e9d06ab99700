#!/usr/bin/env node
// The workspace test command (`npm test`): lint, typecheck, unit/integration tests and builds of
// every project, then the end-to-end suite against the built files; prints one closing line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = path.join(root, 'tmp', 'test-results');
fs.rmSync(resultsDir, { recursive: true, force: true });

const env = { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true', FORCE_COLOR: '0' };
const extra = process.argv.slice(2);
const started = Date.now();
const run = spawnSync(
  'npx',
  ['nx', 'run-many', '-t', 'lint,typecheck,test,build', '--skip-nx-cache', '--parallel=2', '--output-style=stream', ...extra],
  { cwd: root, env, stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
let skipped = 0;
const lines = [];
if (fs.existsSync(resultsDir)) {
  for (const f of fs.readdirSync(resultsDir).sort()) {
    const s = JSON.parse(fs.readFileSync(path.join(resultsDir, f), 'utf8'));
    passed += s.passed;
    failed += s.failed + s.suitesFailed;
    skipped += s.skipped;
    lines.push(`  ${s.project.padEnd(14)} ${String(s.passed).padStart(5)} passed ${String(s.failed).padStart(3)} failed`);
  }
}
console.log(`\nTest summary (${((Date.now() - started) / 1000).toFixed(0)} s):`);
for (const l of lines) console.log(l);
if (run.status !== 0 && failed === 0) failed = 1; // lint, typecheck or build failed
console.log(`Tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(run.status === 0 && failed === 0 ? 0 : 1);
