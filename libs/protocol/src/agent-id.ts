/** @module agent-id: the agent identifier rule (upstream `keylime/common/validators.py`). */

/** Upstream accepts `[\w.-]+`; the database column holds 80 characters, so we cap there. */
const AGENT_ID_RE = /^[A-Za-z0-9_.-]{1,80}$/;

export const AGENT_ID_MAX_LENGTH = 80;

export function isValidAgentId(id: string): boolean {
  return AGENT_ID_RE.test(id);
}
