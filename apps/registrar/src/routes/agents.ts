/**
 * @module routes/agents: the registrar's agent routes per API major version (spec §3.1) — thin
 * handlers over registration/*; admin routes behind requireAdmin.
 */
import { Router } from 'express';
import type { Request, Response } from 'express';
import type { Logger } from '@keylime/core';
import { isValidAgentId } from '@keylime/protocol';
import { HttpError, jsonObjectBody, requireAdmin, route, sendEnvelope } from '@keylime/server';
import { activateAgent } from '../registration/activate';
import { registerAgent } from '../registration/register';
import type { RegistrationPolicy } from '../registration/register';
import { renderAgent } from '../registration/render';
import type { AgentStore } from '../store/agent-store';

export interface AgentRoutesDeps {
  readonly store: AgentStore;
  readonly policy: RegistrationPolicy;
  readonly logger: Logger;
}

function agentIdFrom(value: unknown): string {
  if (typeof value !== 'string' || !isValidAgentId(value)) {
    throw new HttpError(400, 'Invalid agent ID: expected 1-80 characters of [A-Za-z0-9_.-]');
  }
  return value;
}

function pathAgentId(req: Request): string {
  return agentIdFrom(req.params['agent_id']);
}

/** Builds the handlers once; the routers of each major version pick from them. */
function handlers(deps: AgentRoutesDeps) {
  const register = async (req: Request, res: Response, agentId: string): Promise<void> => {
    const blob = await registerAgent(agentId, jsonObjectBody(req), deps);
    sendEnvelope(res, 200, 'Success', { blob });
  };
  return {
    registerById: (req: Request, res: Response) => register(req, res, pathAgentId(req)),
    registerFromBody: (req: Request, res: Response) =>
      register(req, res, agentIdFrom(jsonObjectBody(req)['agent_id'])),
    activate: async (req: Request, res: Response): Promise<void> => {
      const agentId = pathAgentId(req);
      const authTag = jsonObjectBody(req)['auth_tag'];
      if (typeof authTag !== 'string' || authTag.length === 0 || authTag.length > 1024) {
        throw new HttpError(400, 'auth_tag is required and must be a string');
      }
      await activateAgent(agentId, authTag, deps);
      sendEnvelope(res, 200, 'Success', {});
    },
    list: async (_req: Request, res: Response): Promise<void> => {
      sendEnvelope(res, 200, 'Success', { uuids: await deps.store.listIds() });
    },
    show: async (req: Request, res: Response): Promise<void> => {
      const agentId = pathAgentId(req);
      const agent = await deps.store.get(agentId);
      if (!agent) throw new HttpError(404, `Agent with ID '${agentId}' not found`);
      if (!agent.active)
        throw new HttpError(404, `Agent with ID '${agentId}' has not been activated`);
      deps.logger.info(`GET returning 200 response for agent_id: ${agentId}`);
      sendEnvelope(res, 200, 'Success', renderAgent(agent));
    },
    remove: async (req: Request, res: Response): Promise<void> => {
      const agentId = pathAgentId(req);
      const removed = await deps.store.withLock(agentId, () => deps.store.remove(agentId));
      if (!removed) throw new HttpError(404, `Agent with ID '${agentId}' not found`);
      deps.logger.info(`Agent '${agentId}' deleted`);
      sendEnvelope(res, 200, 'Success', {});
    },
  };
}

/** The router for `/v2.x` (with upstream's non-RFC-9110 compatibility routes). */
export function v2Router(deps: AgentRoutesDeps): Router {
  const h = handlers(deps);
  const r = Router();
  route(r, '/agents', { get: [requireAdmin, h.list], post: h.registerFromBody });
  route(r, '/agents/:agent_id', {
    get: [requireAdmin, h.show],
    delete: [requireAdmin, h.remove],
    post: h.registerById,
    // What the Rust agent uses to activate.
    put: h.activate,
  });
  route(r, '/agents/:agent_id/activate', { put: h.activate, post: h.activate });
  return r;
}

/** The router for `/v3.0`: RFC 9110 routes only, as documented upstream. */
export function v3Router(deps: AgentRoutesDeps): Router {
  const h = handlers(deps);
  const r = Router();
  route(r, '/', { get: (_req, res) => sendEnvelope(res, 200, 'Success', {}) });
  route(r, '/agents', { get: [requireAdmin, h.list], post: h.registerFromBody });
  route(r, '/agents/:agent_id', {
    get: [requireAdmin, h.show],
    delete: [requireAdmin, h.remove],
  });
  route(r, '/agents/:agent_id/activate', { post: h.activate });
  return r;
}
