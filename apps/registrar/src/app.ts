/**
 * @module app: the registrar's express application — request log lines as upstream writes them,
 * /version, the v2 and v3 routers, envelope errors. One app serves both listeners: over plain
 * HTTP the admin routes answer 400 (requireAdmin), as upstream's "HTTPS required".
 */
import express from 'express';
import type { Express, NextFunction, Request, Response } from 'express';
import type { Logger } from '@keylime/core';
import { SERVER_CURRENT_VERSION, SERVER_SUPPORTED_VERSIONS } from '@keylime/protocol';
import { createApp, finishApp, mountVersionedApi } from '@keylime/server';
import { v2Router, v3Router } from './routes/agents';
import type { AgentRoutesDeps } from './routes/agents';

export interface RegistrarAppOptions extends AgentRoutesDeps {
  readonly bodyLimitBytes: number;
}

/** Upstream's elapsed-time text: 512μs, 12ms, 3s. */
export function elapsedText(ns: bigint): string {
  if (ns < 1000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${Math.round(Number(ns) / 1000)}μs`;
  if (ns < 1_000_000_000n) return `${Math.round(Number(ns) / 1e6)}ms`;
  return `${Math.round(Number(ns) / 1e9)}s`;
}

function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    logger.info(`${req.method} ${req.path}`);
    res.on('finish', () => {
      const line = `Sent ${res.statusCode} in ${elapsedText(process.hrtime.bigint() - start)}`;
      if (res.statusCode < 400) logger.info(line);
      else if (res.statusCode < 500) logger.warn(line);
      else logger.error(line);
    });
    next();
  };
}

export function buildRegistrarApp(options: RegistrarAppOptions): Express {
  const app = createApp({
    logger: options.logger,
    bodyLimitBytes: options.bodyLimitBytes,
    requireJsonContentType: true,
  });
  mountVersionedApi(app, {
    supported: SERVER_SUPPORTED_VERSIONS,
    current: SERVER_CURRENT_VERSION,
    routerFor: (major) =>
      major === 2 ? v2Router(options) : major === 3 ? v3Router(options) : undefined,
  });
  finishApp(app, options.logger);
  // The request log wraps everything, so refused bodies (413, bad JSON) are logged too.
  const outer = express();
  outer.disable('x-powered-by');
  outer.use(requestLog(options.logger));
  outer.use(app);
  return outer;
}
