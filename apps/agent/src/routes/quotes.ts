/**
 * @module routes/quotes: `/quotes/identity` and `/quotes/integrity` (spec §4.2, verifier §1.8):
 * strict nonce/mask/partial/ima_ml_entry checks, then a quote with the NK bound to PCR 16 and,
 * for integrity quotes, the IMA list slice and the UEFI log, in RK's JSON field order.
 */
import fs from 'node:fs/promises';
import type { Request, Router } from 'express';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { HttpError, route, sendEnvelope } from '@keylime/server';
import type { AgentAlgorithms } from '../config';
import { encAlgForApi } from '../config';
import {
  isAlphanumeric,
  queryParam,
  requestApiVersion,
  scopeFallback,
  strictRouter,
} from '../http/scope';
import type { MeasurementList } from '../quotes/measurement-list';
import type { Quoter } from '../quotes/quoter';

export interface QuotesRouteDeps {
  readonly quoter: Quoter;
  readonly algorithms: AgentAlgorithms;
  readonly payloadPublicPem: string;
  readonly imaList: MeasurementList;
  /** `measuredboot_ml_path`. */
  readonly measuredBootLog: string;
  readonly logger: Logger;
}

/** TPM2B_DATA holds at most 64 bytes of qualifying data (RK MAX_NONCE_SIZE). */
export const MAX_NONCE_LENGTH = 64;

function checkNonce(req: Request): string {
  const nonce = queryParam(req, 'nonce');
  if (nonce === undefined)
    throw new HttpError(400, 'Query deserialize error: missing field `nonce`');
  if (nonce.length > MAX_NONCE_LENGTH)
    throw new HttpError(400, `Nonce is too long (max size: ${MAX_NONCE_LENGTH}): ${nonce.length}`);
  if (!isAlphanumeric(nonce))
    throw new HttpError(400, `nonce should be strictly alphanumeric: ${nonce}`);
  return nonce;
}

/** `mask` (hex, optional 0x) → PCR numbers; PCRs above 23 are refused (RK answers 500 there). */
export function parseMask(mask: string): number[] {
  if (!isAlphanumeric(mask) || mask.length > 10)
    throw new HttpError(400, `mask should be strictly alphanumeric: ${mask.slice(0, 32)}`);
  const hex = mask.replace(/^0x/, '');
  if (!/^[0-9a-fA-F]{1,8}$/.test(hex))
    throw new HttpError(400, `mask should be a hex encoded 32-bit integer: ${mask}`);
  const value = parseInt(hex, 16);
  const pcrs: number[] = [];
  for (let bit = 0; bit < 32; bit++) {
    if ((value >>> bit) & 1) {
      if (bit > 23)
        throw new HttpError(
          400,
          `only pcrs 0-23 can be included in integrity quote, but mask included pcr ${bit}`,
        );
      pcrs.push(bit);
    }
  }
  return pcrs;
}

/** `ima_ml_entry`: absent → 0; otherwise a decimal line index. */
export function parseImaEntry(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^\d{1,15}$/.test(text))
    throw new HttpError(
      400,
      `ima_ml_entry should be a non-negative decimal integer: ${text.slice(0, 32)}`,
    );
  return Number(text);
}

async function makeQuote(
  deps: QuotesRouteDeps,
  nonce: string,
  pcrs: readonly number[],
): Promise<string> {
  try {
    return await deps.quoter.quote(nonce, pcrs);
  } catch (e) {
    deps.logger.warn(`Unable to retrieve quote: ${errorMessage(e)}`);
    throw new HttpError(500, 'Unable to retrieve quote');
  }
}

function quoteHeader(
  deps: QuotesRouteDeps,
  version: string,
  quote: string,
): Record<string, unknown> {
  return {
    quote,
    hash_alg: deps.algorithms.hash,
    enc_alg: encAlgForApi(deps.algorithms.ek, version),
    sign_alg: deps.algorithms.sign,
  };
}

async function readMeasuredBootLog(file: string, logger: Logger): Promise<string | undefined> {
  try {
    return (await fs.readFile(file)).toString('base64');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.warn(`Could not read TPM2 event log: ${errorMessage(e)}`);
    return undefined;
  }
}

export function quotesRouter(deps: QuotesRouteDeps): Router {
  const router = strictRouter();

  route(router, '/identity', {
    get: async (req, res) => {
      const nonce = checkNonce(req);
      const quote = await makeQuote(deps, nonce, []);
      deps.logger.info('GET identity quote returning 200 response');
      sendEnvelope(res, 200, 'Success', {
        ...quoteHeader(deps, requestApiVersion(res), quote),
        pubkey: deps.payloadPublicPem,
      });
    },
  });

  route(router, '/integrity', {
    get: async (req, res) => {
      const nonce = checkNonce(req);
      const maskText = queryParam(req, 'mask');
      if (maskText === undefined)
        throw new HttpError(400, 'Query deserialize error: missing field `mask`');
      const pcrs = parseMask(maskText);
      const partial = queryParam(req, 'partial');
      if (partial !== '0' && partial !== '1')
        throw new HttpError(400, "uri must contain key 'partial' and value '0' or '1'");
      const entry = parseImaEntry(queryParam(req, 'ima_ml_entry'));

      const quote = await makeQuote(deps, nonce, pcrs);
      const mb = pcrs.includes(0)
        ? await readMeasuredBootLog(deps.measuredBootLog, deps.logger)
        : undefined;
      let ima;
      try {
        ima = await deps.imaList.read(entry);
      } catch (e) {
        deps.logger.warn(`Unable to read measurement list: ${errorMessage(e)}`);
        throw new HttpError(500, 'Unable to retrieve quote');
      }
      deps.logger.info('GET integrity quote returning 200 response');
      // Field order as RK's KeylimeQuote serializes it.
      sendEnvelope(res, 200, 'Success', {
        ...quoteHeader(deps, requestApiVersion(res), quote),
        ...(partial === '0' ? { pubkey: deps.payloadPublicPem } : {}),
        ...(ima === undefined ? {} : { ima_measurement_list: ima.text }),
        ...(mb === undefined ? {} : { mb_measurement_list: mb }),
        ...(ima === undefined ? {} : { ima_measurement_list_entry: ima.entry }),
      });
    },
  });

  router.use(
    scopeFallback(
      {
        GET: 'URI not supported, only /identity and /integrity are supported for GET in /quotes/ interface',
      },
      'Method is not supported in /quotes/ interface',
    ),
  );
  return router;
}
