/**
 * @module young-generation: small, fixed young generations for the verifier's isolates. Workers
 * settle at WORKER_SEMI_SPACE_MB; the main thread (REST API, no attestation) stays at V8's initial
 * 1 MiB semi-space. At 10 000 agents V8's own sizing grows every isolate's young generation to
 * 32 MiB and, on an idle thread, never gives it back (docs/performance.md, "Memory").
 */
import v8 from 'node:v8';

/**
 * Each attestation worker's semi-space, MiB. At 10 000 agents, 2 MiB cut RSS from ≈ 25 to 16–20 KiB
 * per agent for ≈ 5–10% more CPU per attestation; 4 MiB gave 20.9 KiB.
 */
export const WORKER_SEMI_SPACE_MB = 2;

const SEMI_SPACE_FLAGS = [
  '--semi-space-growth-factor',
  '--max-semi-space-size',
  '--min-semi-space-size',
];

/** Whether the operator set a V8 flag on the command line or in NODE_OPTIONS. */
export function operatorSetFlag(
  flag: string,
  execArgv: readonly string[],
  nodeOptions: string,
): boolean {
  // V8 reads `_` and `-` alike in flag names.
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) =>
    a.replace(/_/g, '-').startsWith(flag),
  );
}

/** The sizing applies unless the operator set any semi-space flag (then it is all theirs and V8's). */
export function youngGenerationTunable(execArgv: readonly string[], nodeOptions: string): boolean {
  return !SEMI_SPACE_FLAGS.some((f) => operatorSetFlag(f, execArgv, nodeOptions));
}

/** Before the first worker: a worker's isolate reads the size flags when it is created. */
export function sizeWorkerYoungGenerations(): void {
  v8.setFlagsFromString(`--min-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
  v8.setFlagsFromString(`--max-semi-space-size=${WORKER_SEMI_SPACE_MB}`);
  keepMainYoungGeneration();
}

/**
 * Stops the main isolate's semi-space from growing: the growth factor is read whenever a semi-space
 * would grow, and 1 keeps it. V8 raises the factor back to at least 2 each time it sets up a new
 * isolate's heap, so this runs again once every worker (and every respawned one) is running.
 */
export function keepMainYoungGeneration(): void {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
