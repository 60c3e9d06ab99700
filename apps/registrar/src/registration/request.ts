/**
 * @module request: the registration body as agents send it (spec §3.2), parsed once with zod.
 * Absent fields keep what is stored; `null` clears (and counts as a change for identity fields).
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

const optionalText = (max: number) => z.string().max(max).nullish();

const port = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\d{1,5}$/)
      .transform(Number),
  ])
  .pipe(z.number().int().min(1).max(65535))
  .nullish();

const contactIp = z
  .string()
  .max(253)
  .refine((s) => isIP(s) !== 0 || HOSTNAME_RE.test(s), 'must be an IP address or host name')
  .nullish();

/** Fields a registration may carry. Unknown fields are ignored, as upstream does. */
export const registrationBodySchema = z.object({
  agent_id: z.string().max(200).optional(),
  aik_tpm: z.string().min(1, 'is required').max(4096),
  ek_tpm: optionalText(4096),
  ekcert: optionalText(65536),
  mtls_cert: optionalText(65536),
  ip: contactIp,
  port,
  iak_tpm: optionalText(4096),
  idevid_tpm: optionalText(4096),
  iak_cert: optionalText(65536),
  idevid_cert: optionalText(65536),
  iak_attest: optionalText(8192),
  iak_sign: optionalText(8192),
});

export type RegistrationBody = z.infer<typeof registrationBodySchema>;

/** Parses a JSON body; throws an Error whose message names the first bad field. */
export function parseRegistrationBody(body: unknown): RegistrationBody {
  const result = registrationBodySchema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || 'body';
  const message =
    issue?.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue?.message;
  throw new Error(`${field} ${message ?? 'is invalid'}`);
}

export const activationBodySchema = z.object({ auth_tag: z.string().max(1024) });
