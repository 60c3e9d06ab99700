/**
 * @module versioning: `/version` and `/v{major}.{minor}/…` routing as upstream serves it
 * (spec/agent-registrar-tenant.md §2, spec/verifier.md §1.1).
 */
import type { Express, Request, Response, Router } from 'express';
import { resolveVersionSegment } from '@keylime/protocol';
import { sendEnvelope } from './app';

export interface VersionedApiOptions {
  /** Versions this service serves, e.g. SERVER_SUPPORTED_VERSIONS. */
  readonly supported: readonly string[];
  /** `current_version` in GET /version. */
  readonly current: string;
  /**
   * Builds the router for one major version; handlers read `apiVersion(res)` for the exact
   * minor. Returning undefined means that major has no routes (→ 404).
   */
  readonly routerFor: (major: number) => Router | undefined;
  /** Status text for a well-formed but unsupported version. */
  readonly unsupportedMessage?: string;
}

/** The negotiated version of the current request (set by the version router). */
export function apiVersion(res: Response): string {
  const v: unknown = res.locals['apiVersion'];
  return typeof v === 'string' ? v : '';
}

/** Mounts GET /version, GET /versions and the versioned routers on `app`. */
export function mountVersionedApi(app: Express, options: VersionedApiOptions): void {
  const versionBody = {
    current_version: options.current,
    supported_versions: [...options.supported],
  };
  const versionHandler = (_req: Request, res: Response): void =>
    sendEnvelope(res, 200, 'Success', versionBody);
  app.get('/version', versionHandler);
  app.get('/versions', versionHandler);

  const routers = new Map<number, Router | undefined>();
  const routerFor = (major: number): Router | undefined => {
    if (!routers.has(major)) routers.set(major, options.routerFor(major));
    return routers.get(major);
  };

  app.use('/:version', (req, res, next) => {
    const segment = req.params['version'] ?? '';
    if (!/^v\d/.test(segment)) return next();
    const version = resolveVersionSegment(segment, options.supported);
    if (version === undefined) {
      sendEnvelope(res, 400, options.unsupportedMessage ?? 'API Version not supported');
      return;
    }
    const router = routerFor(Number(version.split('.')[0]));
    if (!router) return next();
    res.locals['apiVersion'] = version;
    router(req, res, next);
  });
}
