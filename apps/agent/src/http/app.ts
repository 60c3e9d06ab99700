/**
 * @module http/app: the agent's HTTP surface as RK lays it out (spec §1.1, §2.3, §2.4, §4.1):
 * `/version`, one scope per enabled `/v2.x`, `400 API version not supported: vX.Y` for any other
 * version, RK's fallback answers elsewhere — every answer in the JSON envelope.
 */
import type { Express, Router } from 'express';
import type { Logger } from '@keylime/core';
import { compareApiVersions, parseApiVersion } from '@keylime/protocol';
import { createApp, finishApp, route, sendEnvelope } from '@keylime/server';
import { scopeFallback, strictRouter } from './scope';

export interface AgentScopes {
  readonly keys: Router;
  readonly quotes: Router;
  readonly notifications: Router;
  /** `/agent`, served from API 2.2 on. */
  readonly agent: Router;
}

export interface AgentAppOptions {
  readonly logger: Logger;
  /** Enabled API versions, ascending. */
  readonly apiVersions: readonly string[];
  readonly scopes: AgentScopes;
  /** Request body limit; payloads travel in `/keys/ukey`. */
  readonly bodyLimitBytes: number;
}

const AGENT_SCOPE_SINCE = { major: 2, minor: 2 };

function versionRouter(version: string, scopes: AgentScopes): Router {
  const router = strictRouter();
  router.use((_req, res, next) => {
    res.locals['apiVersion'] = version;
    next();
  });
  router.use('/keys', scopes.keys);
  router.use('/notifications', scopes.notifications);
  router.use('/quotes', scopes.quotes);
  const parsed = parseApiVersion(version);
  if (parsed !== undefined && compareApiVersions(parsed, AGENT_SCOPE_SINCE) >= 0)
    router.use('/agent', scopes.agent);
  router.use(
    scopeFallback(
      {
        GET: 'Not Implemented: Use /agent, /keys, or /quotes interfaces',
        POST: 'Not Implemented: Use /keys or /notifications interfaces',
      },
      'Method is not supported',
    ),
  );
  return router;
}

export function createAgentApp(options: AgentAppOptions): Express {
  const { apiVersions, logger } = options;
  const app = createApp({
    logger,
    bodyLimitBytes: options.bodyLimitBytes,
    requireJsonContentType: true,
  });
  app.set('case sensitive routing', true);
  app.set('strict routing', true);

  const latest = apiVersions[apiVersions.length - 1] ?? '';
  const top = strictRouter();
  route(top, '/version', {
    get: (_req, res) => {
      sendEnvelope(res, 200, 'Success', {
        supported_version: latest,
        supported_versions: [...apiVersions],
      });
    },
  });
  app.use(top);

  for (const version of apiVersions)
    app.use(`/v${version}`, versionRouter(version, options.scopes));

  // Any other /vX.Y… (RK matches /v{major}.{minor}{tail}*): the verifier renegotiates on this text.
  app.use((req, res, next) => {
    const m = /^\/v(\d+)\.(\d+)/.exec(req.path);
    if (m === null) {
      next();
      return;
    }
    const text = `v${Number(m[1])}.${Number(m[2])}`;
    logger.warn(`${req.method} returning 400 response. API version not supported: ${text}`);
    sendEnvelope(res, 400, `API version not supported: ${text}`);
  });

  const hint = `Not Implemented: Use ${apiVersions.map((v) => `/${v}`).join(', ')} or /version interfaces`;
  app.use(scopeFallback({ GET: hint, POST: hint }, 'Method is not supported'));
  finishApp(app, logger);
  return app;
}
