/** @module main: entry point of `keylime_verifier`. */
process.stderr.write('keylime_verifier: starting\n');
