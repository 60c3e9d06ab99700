/**
 * @module admin: the `simple` authorization provider — a verified client certificate without an
 * Authorization header is an admin (spec/verifier.md §1.1, spec/agent-registrar-tenant.md §3.1).
 */
import type { NextFunction, Request, Response } from 'express';
import { isTlsSocket, verifiedClient } from './https-server';
import { sendEnvelope } from './app';

/** Upstream's JSON:API-style 403 body (spec/agent-registrar-tenant.md §1.1). */
function forbidden(res: Response, detail: string): void {
  res.status(403).json({ errors: [{ status: '403', title: 'Forbidden', detail }] });
}

/** Middleware: only admins pass. Over plain HTTP → 400; no valid certificate → 403. */
export function requireAdmin(req: Request, res: Response, next: NextFunction): void {
  if (!isTlsSocket(req.socket)) {
    sendEnvelope(res, 400, 'This action is only available over HTTPS');
    return;
  }
  if (req.get('authorization') !== undefined) {
    forbidden(
      res,
      'Action requires a client certificate; an Authorization header makes the caller an agent, not an admin',
    );
    return;
  }
  const client = verifiedClient(req.socket);
  if (!client) {
    forbidden(res, 'Action requires a valid client certificate issued by a trusted CA');
    return;
  }
  res.locals['adminIdentity'] = client.commonName;
  next();
}
