/** @module main: entry point of `keylime_tenant` (filled in by the tenant issue). */
process.stderr.write('keylime_tenant: not implemented yet\n');
process.exitCode = 1;
