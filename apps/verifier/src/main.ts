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

/** Whether the operator set a V8 flag on the command line or in NODE_OPTIONS. */
function operatorSet(flag: string): boolean {
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  // V8 reads `_` and `-` alike in flag names.
  return given.some((a) => a.replace(/_/g, '-').startsWith(flag));
}

/**
 * Each attestation worker's semi-space, MiB. V8 grows it to 16 MiB under load (32 MiB of young
 * generation per worker), and the main thread kept the same after an enrolment burst, since V8
 * does not shrink an idle heap. At 10 000 agents, 2 MiB cut RSS from ≈ 25 to 16–20 KiB per agent
 * for ≈ 5–10% more CPU per attestation (docs/performance.md, "Memory"); 4 MiB gave 20.9 KiB.
 */
const WORKER_SEMI_SPACE_MB = 2;

if (!isWorkerInit(workerData)) {
  // V8 lets the old generation grow to about twice the live set before a full GC; with one
  // connection and one runtime per agent that headroom was ≈ 9 KiB per agent. A 30% growth step
  // keeps it near a third. Process-wide, so the workers get it too.
  if (!operatorSet('--heap-growing-percent')) v8.setFlagsFromString('--heap-growing-percent=30');
  // Small young generations. The main thread (REST API, no attestation) stays at V8's initial
  // 1 MiB semi-space: the growth factor is read whenever a semi-space would grow, and 1 stops the
  // main isolate's. The workers' isolates, created after this, read the size flags at creation and
  // settle at WORKER_SEMI_SPACE_MB (checked with v8.getHeapSpaceStatistics in both kinds of
  // thread). Any semi-space flag from the operator leaves all of this to V8 and the operator.
  if (
    !operatorSet('--semi-space-growth-factor') &&
    !operatorSet('--max-semi-space-size') &&
    !operatorSet('--min-semi-space-size')
  ) {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
    v8.setFlagsFromString(`--min-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
    v8.setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
  }
}

if (isWorkerInit(workerData)) {
  void runAttestationWorker(workerData);
} else {
  void runService({
    name: 'keylime.verifier',
    start: (logger) => startVerifier({ logger, workerScript: __filename }),
  });
}
