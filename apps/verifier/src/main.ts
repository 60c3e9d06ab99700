/** @module main: entry point of `keylime_verifier` — the composition root. */
import { runService } from '@keylime/server';
import { startVerifier } from './verifier';

void runService({ name: 'keylime.verifier', start: (logger) => startVerifier({ logger }) });
