/**
 * @module envelope: upstream's JSON response envelope `{code, status, results}`
 * (spec/agent-registrar-tenant.md §1.1).
 */
import { z } from 'zod';
import { KeylimeError } from '@keylime/core';

export interface Envelope<T = Record<string, unknown>> {
  readonly code: number;
  readonly status: string;
  readonly results: T;
}

/** Status text of every successful response. */
export const SUCCESS_STATUS = 'Success';

export function successEnvelope<T>(results: T, code = 200): Envelope<T> {
  return { code, status: SUCCESS_STATUS, results };
}

export function errorEnvelope(code: number, status: string): Envelope<Record<string, never>> {
  return { code, status, results: {} };
}

const envelopeSchema = z.object({
  code: z.number().int(),
  status: z.string(),
  // The Rust agent answers `null` for "success with nothing to return"; accept both.
  results: z.unknown().transform((v) => (v === null || v === undefined ? {} : v)),
});

/** Parses a response body as an envelope; throws KL_PROTOCOL_BAD_ENVELOPE with a reason. */
export function parseEnvelope(body: unknown): Envelope<unknown> {
  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) {
    throw new KeylimeError(
      'KL_PROTOCOL_BAD_ENVELOPE',
      `response is not a Keylime envelope: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
