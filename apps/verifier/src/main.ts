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
import {
  keepMainYoungGeneration,
  operatorSetFlag,
  sizeWorkerYoungGenerations,
  youngGenerationTunable,
} from './young-generation';

const execArgv = process.execArgv;
const nodeOptions = process.env['NODE_OPTIONS'] ?? '';
const tuneYoungGenerations = youngGenerationTunable(execArgv, nodeOptions);

if (!isWorkerInit(workerData)) {
  // V8 lets the old generation grow to about twice the live set before a full GC; with one
  // connection and one runtime per agent that headroom was ≈ 9 KiB per agent. A 30% growth step
  // keeps it near a third. Process-wide, so the workers get it too.
  if (!operatorSetFlag('--heap-growing-percent', execArgv, nodeOptions))
    v8.setFlagsFromString('--heap-growing-percent=30');
  if (tuneYoungGenerations) sizeWorkerYoungGenerations();
}

if (isWorkerInit(workerData)) {
  void runAttestationWorker(workerData);
} else {
  void runService({
    name: 'keylime.verifier',
    start: (logger) =>
      startVerifier({
        logger,
        workerScript: __filename,
        ...(tuneYoungGenerations ? { onWorkerStarted: keepMainYoungGeneration } : {}),
      }),
  });
}
