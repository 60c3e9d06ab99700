/**
 * @module routes/keys: `/keys/pubkey`, `/keys/ukey`, `/keys/vkey`, `/keys/verify` (spec §4.2, §5)
 * with RK's status texts. Key halves are checked here; pairing happens in BootstrapKeys.
 */
import type { KeyObject } from 'node:crypto';
import type { Router } from 'express';
import { z } from 'zod';
import { keysVerifyHmac, rsaOaepDecrypt } from '@keylime/crypto';
import { errorMessage, isBase64 } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { HttpError, route, sendEnvelope } from '@keylime/server';
import type { BootstrapKeys } from '../keys/bootstrap-keys';
import { isAlphanumeric, parseBody, queryParam, scopeFallback, strictRouter } from '../http/scope';

export interface KeysRouteDeps {
  /** NK private key (RSA-2048), decrypts U and V. */
  readonly payloadKey: KeyObject;
  readonly payloadPublicPem: string;
  readonly keys: BootstrapKeys;
  readonly logger: Logger;
}

const UKeyBody = z.object({
  encrypted_key: z.string(),
  auth_tag: z.string(),
  payload: z.string().nullish(),
});
const VKeyBody = z.object({ encrypted_key: z.string() });

/** IV (16) + tag (16) + at least one byte. */
const MIN_PAYLOAD_BYTES = 33;
const AUTH_TAG_HEX_LENGTH = 96;

/** base64 → RSA-OAEP(SHA-1) decrypt → a 16- or 32-byte key half; 400 with RK's wording otherwise. */
function decryptHalf(deps: KeysRouteDeps, encrypted: string, invalidLength: string): Uint8Array {
  if (!isBase64(encrypted))
    throw new HttpError(
      400,
      'Invalid base64 encoding in encrypted_key: not standard padded base64',
    );
  let half: Uint8Array;
  try {
    half = rsaOaepDecrypt(deps.payloadKey, Buffer.from(encrypted, 'base64'));
  } catch (e) {
    throw new HttpError(400, `Failed to decrypt encrypted_key: ${errorMessage(e)}`);
  }
  if (half.length !== 16 && half.length !== 32)
    throw new HttpError(
      400,
      `${invalidLength}: key length ${half.length} is neither 16 nor 32 bytes`,
    );
  return half;
}

export function keysRouter(deps: KeysRouteDeps): Router {
  const router = strictRouter();

  route(router, '/pubkey', {
    get: (_req, res) => {
      deps.logger.info('GET pubkey returning 200 response.');
      sendEnvelope(res, 200, 'Success', { pubkey: deps.payloadPublicPem });
    },
  });

  route(router, '/ukey', {
    post: (req, res) => {
      const body = parseBody(UKeyBody, req.body);
      const u = decryptHalf(deps, body.encrypted_key, 'Invalid decrypted key');
      if (!/^[0-9a-fA-F]*$/.test(body.auth_tag) || body.auth_tag.length % 2 !== 0)
        throw new HttpError(
          400,
          'Invalid hex encoding in auth_tag: not an even number of hex digits',
        );
      if (body.auth_tag.length !== AUTH_TAG_HEX_LENGTH)
        throw new HttpError(
          400,
          `auth_tag must be 48 bytes (${AUTH_TAG_HEX_LENGTH} hex digits), got ${body.auth_tag.length / 2}`,
        );
      const payload = body.payload ?? undefined;
      if (payload !== undefined) {
        if (!isBase64(payload))
          throw new HttpError(
            400,
            'Invalid base64 encoding in payload: not standard padded base64',
          );
        if (Buffer.byteLength(payload, 'base64') < MIN_PAYLOAD_BYTES)
          throw new HttpError(400, 'Invalid payload: shorter than IV, tag and one byte of data');
      }
      deps.keys.addU({ u, authTag: body.auth_tag.toLowerCase(), payload });
      sendEnvelope(res, 200, 'Success', {});
    },
  });

  route(router, '/vkey', {
    post: (req, res) => {
      const body = parseBody(VKeyBody, req.body);
      deps.keys.addV(decryptHalf(deps, body.encrypted_key, 'Decrypted key is invalid'));
      sendEnvelope(res, 200, 'Success', {});
    },
  });

  route(router, '/verify', {
    get: (req, res) => {
      const challenge = queryParam(req, 'challenge');
      if (challenge === undefined)
        throw new HttpError(400, 'Query deserialize error: missing field `challenge`');
      if (challenge === '') throw new HttpError(400, 'No challenge provided.');
      if (!isAlphanumeric(challenge) || challenge.length > 1024)
        throw new HttpError(
          400,
          `Parameters should be strictly alphanumeric: ${challenge.slice(0, 64)}`,
        );
      const k = deps.keys.key;
      if (k === undefined) throw new HttpError(400, 'Bootstrap key not yet available.');
      deps.logger.info('GET key challenge returning 200 response.');
      sendEnvelope(res, 200, 'Success', { hmac: keysVerifyHmac(k, challenge) });
    },
  });

  router.use(
    scopeFallback(
      {
        GET: 'URI not supported, only /pubkey and /verify are supported for GET in /keys interface',
        POST: 'URI not supported, only /ukey and /vkey are supported for POST in /keys interface',
      },
      'Method is not supported in /keys interface',
    ),
  );
  return router;
}
