/** @module main: entry point of `keylime_agent` — the composition root. */
import { Command } from 'commander';
import { runService } from '@keylime/server';
import { startAgent } from './agent';

// Upstream's keylime_agent takes no options; configuration comes from agent.conf and KEYLIME_AGENT_*.
new Command('keylime_agent')
  .description(
    'Keylime agent: TPM-backed pull agent (API 2.1-2.6). Configured by /etc/keylime/agent.conf ' +
      '(or KEYLIME_AGENT_CONFIG), KEYLIME_AGENT_<OPTION> variables, KEYLIME_DIR and TCTI.',
  )
  .helpOption('-h, --help')
  .parse(process.argv);

void runService({ name: 'keylime.agent', start: (logger) => startAgent({ logger }) });
