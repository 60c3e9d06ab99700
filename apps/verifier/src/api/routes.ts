/**
 * @module routes: the v2 REST surface of the verifier (verifier §1.2) — paths, methods, admin
 * authorization and envelopes; the work is done in the handler modules.
 */
import { Router } from 'express';
import type { Request, Response } from 'express';
import { requireAdmin, route, sendEnvelope } from '@keylime/server';
import {
  deleteAgent,
  enrolAgent,
  getAgentStatus,
  listAgents,
  reactivateAgent,
  stopAgent,
} from './agent-handlers';
import type { AgentHandlerDeps } from './agent-handlers';
import {
  createMbPolicy,
  createRuntimePolicy,
  deleteMbPolicy,
  deleteRuntimePolicy,
  getMbPolicy,
  getRuntimePolicy,
  listMbPolicies,
  listRuntimePolicies,
  replaceMbPolicy,
  replaceRuntimePolicy,
} from './policy-handlers';
import type { PolicyHandlerDeps } from './policy-handlers';
import { verifyEvidence, verifyIdentity } from './verify-handlers';
import type { VerifyAnswer, VerifyHandlerDeps } from './verify-handlers';

function param(req: Request, name: string): string {
  const v: unknown = req.params[name];
  return typeof v === 'string' ? v : '';
}

function query(req: Request, name: string): string | undefined {
  const v: unknown = (req.query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/** Builds the router for API major version 2. */
export function v2Router(
  agents: AgentHandlerDeps,
  policies: PolicyHandlerDeps,
  verify?: VerifyHandlerDeps,
): Router {
  const r = Router({ strict: false });
  if (verify) {
    // Public (§1.1): any TLS client may ask; served under every v2.x as upstream's router does.
    const answer = (res: Response, a: VerifyAnswer): void =>
      sendEnvelope(res, a.code, a.status, a.results);
    route(r, '/verify/identity', {
      get: async (req, res) => {
        const q = (name: string): [string, string | undefined] => [name, query(req, name)];
        const params = Object.fromEntries(['agent_uuid', 'quote', 'nonce', 'hash_alg'].map(q));
        answer(res, await verifyIdentity(verify, params));
      },
    });
    route(r, '/verify/evidence', {
      post: (req, res) => answer(res, verifyEvidence(verify, req.body)),
    });
  }
  r.use(requireAdmin);
  const ok = (res: Response, results: unknown = {}): void =>
    sendEnvelope(res, 200, 'Success', results);
  const created = (res: Response): void => sendEnvelope(res, 201, 'Created', {});

  route(r, '/agents', {
    get: async (req, res) => {
      const bulk = query(req, 'bulk');
      ok(res, await listAgents(agents, query(req, 'verifier'), bulk !== undefined && bulk !== ''));
    },
  });
  route(r, '/agents/:agentId', {
    get: async (req, res) => ok(res, await getAgentStatus(agents, param(req, 'agentId'))),
    post: async (req, res) => {
      await enrolAgent(agents, param(req, 'agentId'), req.body);
      ok(res);
    },
    delete: async (req, res) => {
      const code = await deleteAgent(agents, param(req, 'agentId'));
      sendEnvelope(res, code, code === 200 ? 'Success' : 'Accepted', {});
    },
  });
  route(r, '/agents/:agentId/reactivate', {
    put: async (req, res) => {
      await reactivateAgent(agents, param(req, 'agentId'));
      ok(res);
    },
  });
  route(r, '/agents/:agentId/stop', {
    put: async (req, res) => {
      await stopAgent(agents, param(req, 'agentId'));
      ok(res);
    },
  });

  route(r, '/allowlists', {
    get: async (_req, res) => ok(res, await listRuntimePolicies(policies)),
  });
  route(r, '/allowlists/:name', {
    get: async (req, res) => ok(res, await getRuntimePolicy(policies, param(req, 'name'))),
    post: async (req, res) => {
      await createRuntimePolicy(policies, param(req, 'name'), req.body);
      created(res);
    },
    put: async (req, res) => {
      await replaceRuntimePolicy(policies, param(req, 'name'), req.body);
      created(res);
    },
    delete: async (req, res) => {
      await deleteRuntimePolicy(policies, param(req, 'name'));
      res.status(204).end();
    },
  });

  route(r, '/mbpolicies', { get: async (_req, res) => ok(res, await listMbPolicies(policies)) });
  route(r, '/mbpolicies/:name', {
    get: async (req, res) => ok(res, await getMbPolicy(policies, param(req, 'name'))),
    post: async (req, res) => {
      await createMbPolicy(policies, param(req, 'name'), req.body);
      created(res);
    },
    put: async (req, res) => {
      await replaceMbPolicy(policies, param(req, 'name'), req.body);
      created(res);
    },
    delete: async (req, res) => {
      await deleteMbPolicy(policies, param(req, 'name'));
      res.status(204).end();
    },
  });
  return r;
}
