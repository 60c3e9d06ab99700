// The body of an attestation worker thread in tests: the verifier's TypeScript, loaded through
// @swc-node/register (production workers run the bundled main.js instead).
const path = require('node:path');
// Compiler options without importHelpers (no @swc/helpers here); @keylime/* resolve through the
// npm workspace links.
process.env.SWC_NODE_PROJECT = path.join(__dirname, 'tsconfig.worker-shim.json');
require('@swc-node/register');
const { workerData } = require('node:worker_threads');
const { runAttestationWorker } = require('../../src/attestation/attestation-worker.ts');
void runAttestationWorker(workerData);
