/** @module main: entry point of `keylime_registrar`. */
process.stderr.write('keylime_registrar: starting\n');
