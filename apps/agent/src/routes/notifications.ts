/**
 * @module routes/notifications: `POST /notifications/revocation` (spec §5.8). Unlike RK, which
 * answers 200 and checks later, the signature is checked first so a forged message gets a 400.
 */
import type { Router } from 'express';
import { z } from 'zod';
import type { Logger } from '@keylime/core';
import { HttpError, route, sendEnvelope } from '@keylime/server';
import type { RevocationHandler } from '../revocation/revocation';
import { parseBody, scopeFallback, strictRouter } from '../http/scope';

export interface NotificationsRouteDeps {
  readonly revocation: RevocationHandler;
  readonly logger: Logger;
}

const RevocationBody = z.object({ msg: z.string(), signature: z.string() });

export function notificationsRouter(deps: NotificationsRouteDeps): Router {
  const router = strictRouter();
  route(router, '/revocation', {
    post: (req, res) => {
      deps.logger.info('Received revocation');
      const body = parseBody(RevocationBody, req.body);
      const verdict = deps.revocation.receive(body.msg, body.signature);
      switch (verdict.kind) {
        case 'bad-signature':
          throw new HttpError(400, 'Invalid revocation message signature');
        case 'bad-message':
          throw new HttpError(400, `Invalid revocation message: ${verdict.reason}`);
        case 'no-certificate':
        case 'accepted':
          // RK accepts the message and drops it later when no certificate is loaded yet.
          sendEnvelope(res, 200, 'Success', {});
          return;
      }
    },
  });
  router.use(
    scopeFallback(
      {
        POST: 'URI not supported, only /revocation is supported for POST in /notifications/ interface',
      },
      'Method is not supported in /notifications/ interface',
    ),
  );
  return router;
}
