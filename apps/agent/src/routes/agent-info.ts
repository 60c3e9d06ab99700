/** @module routes/agent-info: `/agent/info` (API ≥ 2.2, spec §4.2) with `ak_handle` as a number, as RK sends it. */
import type { Router } from 'express';
import type { Logger } from '@keylime/core';
import { route, sendEnvelope } from '@keylime/server';
import type { AgentAlgorithms } from '../config';
import { encAlgForApi } from '../config';
import { requestApiVersion, scopeFallback, strictRouter } from '../http/scope';

/**
 * The AK is never left loaded (design.md), so there is no live handle; we report the first
 * transient handle, the one the AK takes when it is loaded into an otherwise empty TPM.
 */
export const REPORTED_AK_HANDLE = 0x80000000;

export interface AgentInfoRouteDeps {
  readonly agentUuid: string;
  readonly algorithms: AgentAlgorithms;
  readonly logger: Logger;
}

export function agentInfoRouter(deps: AgentInfoRouteDeps): Router {
  const router = strictRouter();
  route(router, '/info', {
    get: (_req, res) => {
      deps.logger.info('GET info returning 200 response');
      sendEnvelope(res, 200, 'Success', {
        agent_uuid: deps.agentUuid,
        tpm_hash_alg: deps.algorithms.hash,
        tpm_enc_alg: encAlgForApi(deps.algorithms.ek, requestApiVersion(res)),
        tpm_sign_alg: deps.algorithms.sign,
        ak_handle: REPORTED_AK_HANDLE,
      });
    },
  });
  router.use(
    scopeFallback(
      { GET: 'URI not supported, only /info is supported for GET in /agent interface' },
      'Method is not supported in /agent interface',
    ),
  );
  return router;
}
