/**
 * @module activate: activation (spec §3.5) — the agent proves it could run ActivateCredential by
 * returning HMAC-SHA384 over its id keyed with the credential. A wrong tag deletes the pending
 * registration; the answer says nothing about the expected tag.
 */
import type { Logger } from '@keylime/core';
import { HttpError } from '@keylime/server';
import type { AgentStore } from '../store/agent-store';
import { authTagMatches } from './challenge';

export async function activateAgent(
  agentId: string,
  authTag: string,
  deps: { readonly store: AgentStore; readonly logger: Logger },
): Promise<void> {
  const { store, logger } = deps;
  await store.withLock(agentId, async () => {
    const agent = await store.get(agentId);
    if (!agent) throw new HttpError(404, `Agent with ID '${agentId}' not found`);
    const accepted = agent.key !== null && authTagMatches(agent.key, agentId, authTag);
    if (accepted) {
      await store.save({ ...agent, active: true }, false);
      logger.info(`PUT activated: ${agentId}`);
      return;
    }
    await store.remove(agentId);
    logger.warn(
      `Auth tag for agent '${agentId}' does not match expected value; registration deleted`,
    );
    throw new HttpError(
      400,
      `Auth tag for agent '${agentId}' does not match expected value. The agent has been deleted from the database and will need to be restarted to reattempt registration`,
    );
  });
}
