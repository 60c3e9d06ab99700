/**
 * @module main: entry point of `keylime_verifier` — the composition root. The same bundle is the
 * body of the attestation worker threads: a worker starts with its `workerData`.
 */
import { workerData } from 'node:worker_threads';
import { runService } from '@keylime/server';
import { runAttestationWorker } from './attestation/attestation-worker';
import { isWorkerInit } from './attestation/worker-protocol';
import { startVerifier } from './verifier';

if (isWorkerInit(workerData)) {
  void runAttestationWorker(workerData);
} else {
  void runService({
    name: 'keylime.verifier',
    start: (logger) => startVerifier({ logger, workerScript: __filename }),
  });
}
