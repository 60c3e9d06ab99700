/** @module ca: entry point of `keylime_ca` (filled in by the tenant issue). */
process.stderr.write('keylime_ca: not implemented yet\n');
process.exitCode = 1;
