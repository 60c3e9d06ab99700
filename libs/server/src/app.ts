/**
 * @module app: the express application every service starts from — strict JSON bodies with a
 * size limit, request ids, envelope errors for every failure, 404/405 in JSON.
 */
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { KeylimeError, DecodeError, errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { errorEnvelope } from '@keylime/protocol';
import { HttpError } from './http-error';

export interface AppOptions {
  readonly logger: Logger;
  /** Largest accepted request body; larger → 413 before the body is buffered. */
  readonly bodyLimitBytes: number;
  /**
   * When true a body without `Content-Type: application/json` is refused (the registrar and the
   * agent do this upstream). The verifier accepts JSON without a Content-Type because upstream's
   * tenant sends none (spec/agent-registrar-tenant.md §1.3).
   */
  readonly requireJsonContentType: boolean;
}

const JSON_TYPE_RE = /^application\/(?:[\w.+-]+\+)?json(?:\s*;.*)?$/i;

/** Sends an upstream envelope. */
export function sendEnvelope(
  res: Response,
  code: number,
  status: string,
  results: unknown = {},
): void {
  res.status(code).json({ code, status, results });
}

/** Express error shape raised by the body parser. */
interface BodyParserError {
  readonly type?: string;
  readonly status?: number;
}

function isBodyParserError(e: unknown): e is BodyParserError {
  return (
    typeof e === 'object' &&
    e !== null &&
    'type' in e &&
    typeof (e as BodyParserError).type === 'string'
  );
}

/** Maps any thrown value to an envelope; internal errors are logged, not leaked. */
export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      sendEnvelope(res, err.status, err.message);
      return;
    }
    if (isBodyParserError(err)) {
      switch (err.type) {
        case 'entity.too.large':
          sendEnvelope(res, 413, 'Request body too large');
          return;
        case 'entity.parse.failed':
          sendEnvelope(res, 400, 'Malformed JSON in request body');
          return;
        case 'encoding.unsupported':
        case 'charset.unsupported':
          sendEnvelope(res, 415, 'Unsupported body encoding');
          return;
        case 'request.aborted':
          res.destroy();
          return;
        default:
          sendEnvelope(
            res,
            err.status && err.status < 500 ? err.status : 400,
            'Invalid request body',
          );
          return;
      }
    }
    if (err instanceof DecodeError) {
      sendEnvelope(res, 400, err.message);
      return;
    }
    logger.error(`Unexpected error handling ${req.method} ${req.path}: ${errorMessage(err)}`, {
      code: err instanceof KeylimeError ? err.code : undefined,
    });
    sendEnvelope(res, 500, 'Internal Server Error');
  };
}

/** Creates the base application. Routes are added by the caller, then `finishApp`. */
export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    // Echo a sane request id (upstream sanitises to \w, at most 36 characters).
    const incoming = req.get('x-request-id');
    if (incoming && /^\w{1,36}$/.test(incoming)) res.set('X-Request-ID', incoming);
    next();
  });

  const hasBody = (req: Request): boolean =>
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] ?? '0') !== '0';

  app.use((req, res, next) => {
    if (!hasBody(req)) return next();
    const type = req.get('content-type');
    if (type !== undefined && !JSON_TYPE_RE.test(type)) {
      sendEnvelope(res, 415, 'Content-Type must be application/json');
      return;
    }
    if (type === undefined && options.requireJsonContentType) {
      sendEnvelope(res, 400, 'Content-Type: application/json is required');
      return;
    }
    next();
  });

  app.use(
    express.json({
      limit: options.bodyLimitBytes,
      strict: false,
      // Content-Type was checked above; parse any remaining body as JSON.
      type: () => true,
    }),
  );
  return app;
}

/** Adds the JSON 404 and the error handler; call after all routes. */
export function finishApp(app: express.Express, logger: Logger): void {
  app.use((req: Request, res: Response) => {
    sendEnvelope(res, 404, 'Not Found');
  });
  app.use(errorHandler(logger));
}

export type MethodHandlers = Partial<
  Record<'get' | 'post' | 'put' | 'delete' | 'patch', RequestHandler | readonly RequestHandler[]>
>;

/**
 * Declares a path with its methods; any other method on that path answers 405 with an `Allow`
 * header instead of falling through to 404.
 */
export function route(router: Router, path: string, handlers: MethodHandlers): void {
  const r = router.route(path);
  const allowed: string[] = [];
  for (const [method, handler] of Object.entries(handlers) as [
    keyof MethodHandlers,
    RequestHandler | readonly RequestHandler[],
  ][]) {
    r[method](
      ...(Array.isArray(handler)
        ? (handler as readonly RequestHandler[])
        : [handler as RequestHandler]),
    );
    allowed.push(method.toUpperCase());
  }
  if (allowed.includes('GET')) allowed.push('HEAD');
  r.all((req: Request, res: Response) => {
    res.set('Allow', allowed.join(', '));
    sendEnvelope(res, 405, 'Method Not Allowed');
  });
}

/** A request's body as an object, or a 400. */
export function jsonObjectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export { errorEnvelope };
