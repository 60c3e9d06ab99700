/**
 * @module main: entry point of `keylime_verifier` — the composition root. The same bundle is the
 * body of the attestation worker threads: a worker starts with its `workerData`.
 */
import v8 from 'node:v8';
import { workerData } from 'node:worker_threads';
import { runService } from '@keylime/server';
import { runAttestationWorker } from './attestation/attestation-worker';
import { isWorkerInit } from './attestation/worker-protocol';
import { startVerifier } from './verifier';

// V8 lets the old generation grow to about twice the live set before a full GC; with one
// connection and one runtime per agent that headroom was ≈ 9 KiB per agent (docs/performance.md,
// "Memory"). A 30% growth step keeps it near a third. The flag is process-wide, so the attestation
// workers get it too; an explicit `node --heap-growing-percent=…` from the operator wins.
if (
  !isWorkerInit(workerData) &&
  !process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))
) {
  v8.setFlagsFromString('--heap-growing-percent=30');
}

if (isWorkerInit(workerData)) {
  void runAttestationWorker(workerData);
} else {
  void runService({
    name: 'keylime.verifier',
    start: (logger) => startVerifier({ logger, workerScript: __filename }),
  });
}
