/** @module main: entry point of `keylime_agent` (filled in by the agent issue). */
process.stderr.write('keylime_agent: not implemented yet\n');
process.exitCode = 1;
