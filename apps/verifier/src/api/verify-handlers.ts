/**
 * @module verify-handlers: the stateless verification endpoints (verifier §1.7) — GET
 * /verify/identity (a third party's quote checked with an enrolled agent's AK) and POST
 * /verify/evidence (one-shot TPM evidence judged against policies sent with it). Public routes;
 * nothing is stored and no attestation state is read or advanced.
 */
import { errorMessage } from '@keylime/core';
import { isHashAlg } from '@keylime/crypto';
import { compileRuntimePolicy, initialImaState, toPythonJson } from '@keylime/ima';
import type { CompiledRuntimePolicy } from '@keylime/ima';
import type { PolicyRegistry } from '@keylime/mba';
import { INITIAL_CLOCK_INFO, QuoteEventId, prepareQuoteKey, verifyQuote } from '@keylime/tpm';
import type { QuoteVerificationKey } from '@keylime/tpm';
import { HttpError } from '@keylime/server';
import { evaluateQuote } from '../attestation/evaluate-quote';
import { event } from '../attestation/failure';
import type { AttestationEvent } from '../attestation/failure';
import { parseTpmPolicy } from '../attestation/tpm-policy';
import type { VerifierStore } from '../store/verifier-store';

export interface VerifyHandlerDeps {
  readonly store: VerifierStore;
  readonly mbRegistry: PolicyRegistry;
  /** `[verifier] measured_boot_policy_name`. */
  readonly mbPolicyName: string;
  readonly reportTomtou: boolean;
}

/** An HTTP answer: status, envelope status text and results. */
export interface VerifyAnswer {
  readonly code: number;
  readonly status: string;
  readonly results: Record<string, unknown>;
}

const SIGN_ALGS = ['rsassa', 'rsapss', 'ecdsa'] as const;

function unrecognisedHash(hashAlg: string): AttestationEvent {
  return event(
    QuoteEventId.InvalidHashAlg,
    { message: `TPM Quote is using an unrecognized hash algorithm: ${hashAlg}`, data: hashAlg },
    false,
  );
}

/** The AK from base64 TPM2B_PUBLIC; an unusable key is upstream's `invalid_quote`. */
function akFrom(b64: string): QuoteVerificationKey | AttestationEvent {
  try {
    return prepareQuoteKey(new Uint8Array(Buffer.from(b64, 'base64')));
  } catch (e) {
    return event(
      QuoteEventId.InvalidQuote,
      { message: `Quote validation failed: ${errorMessage(e)}` },
      false,
    );
  }
}

function isEvent(v: QuoteVerificationKey | AttestationEvent): v is AttestationEvent {
  return 'id' in v;
}

/** GET /verify/identity: signature, nonce and PCR digest only (no policy, clock or PCR 16). */
export async function verifyIdentity(
  deps: VerifyHandlerDeps,
  query: Readonly<Record<string, string | undefined>>,
): Promise<VerifyAnswer> {
  for (const name of ['agent_uuid', 'quote', 'nonce', 'hash_alg']) {
    const v = query[name];
    if (v === undefined || v === '') throw new HttpError(400, `missing query parameter '${name}'`);
  }
  const agentId = query['agent_uuid'] as string;
  const row = await deps.store.getAgent(agentId);
  if (!row) throw new HttpError(404, 'agent id not found');
  const hashAlg = query['hash_alg'] as string;
  const events: AttestationEvent[] = [];
  const ak = akFrom(row.akTpm ?? '');
  if (!isHashAlg(hashAlg)) events.push(unrecognisedHash(hashAlg));
  else if (isEvent(ak)) events.push(ak);
  else {
    const verdict = verifyQuote(query['quote'] as string, {
      ak,
      nonce: query['nonce'] as string,
      hashAlg,
      acceptedHashAlgs: [hashAlg],
      acceptedSignAlgs: SIGN_ALGS,
    });
    if (!verdict.ok) events.push({ ...verdict.failure });
  }
  if (events.length === 0) return { code: 200, status: 'Success', results: { valid: 1 } };
  // Upstream joins the contexts' JSON texts.
  const reason = events.map((e) => toPythonJson(e.context)).join('; ');
  return { code: 200, status: 'Success', results: { valid: 0, reason } };
}

function field(data: Record<string, unknown>, name: string): unknown {
  const v = data[name];
  return v === undefined || v === null || v === '' ? undefined : v;
}

function text(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Input errors of the `tpm` evidence (`default.*`, answered with 400). */
function inputError(id: 'missing_param' | 'missing_policy', message: string): AttestationEvent {
  return event(`default.${id}`, { message }, false);
}

/** Policies of the evidence that do not parse are a server-side failure in upstream (500). */
class BadPolicy extends Error {}

function runtimePolicyOf(v: string | undefined): CompiledRuntimePolicy | undefined {
  if (v === undefined) return undefined;
  try {
    return compileRuntimePolicy(JSON.parse(v) as unknown);
  } catch (e) {
    throw new BadPolicy(`runtime_policy: ${errorMessage(e)}`);
  }
}

function refstateOf(v: string | undefined): unknown {
  if (v === undefined || v.trim() === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(v);
  } catch (e) {
    throw new BadPolicy(`mb_policy: ${errorMessage(e)}`);
  }
  // §5.4: null or {} disables the refstate check.
  if (json === null || (typeof json === 'object' && Object.keys(json).length === 0))
    return undefined;
  return json;
}

/** Judges `tpm` evidence; returns the events (empty = valid). */
function tpmEvidence(deps: VerifyHandlerDeps, data: Record<string, unknown>): AttestationEvent[] {
  for (const name of ['quote', 'nonce', 'hash_alg', 'tpm_ek', 'tpm_ak']) {
    if (field(data, name) === undefined)
      return [inputError('missing_param', `missing parameter "${name}"`)];
  }
  const tpmPolicyText = text(field(data, 'tpm_policy'));
  const runtimePolicyText = text(field(data, 'runtime_policy'));
  const mbPolicyText = text(field(data, 'mb_policy'));
  if (
    tpmPolicyText === undefined &&
    runtimePolicyText === undefined &&
    mbPolicyText === undefined
  ) {
    return [
      inputError(
        'missing_policy',
        'at least one policy (tpm_policy, runtime_policy, or mb_policy) must be provided',
      ),
    ];
  }
  const tpmPolicy = parseTpmPolicy(tpmPolicyText ?? '{}');
  if (!tpmPolicy.ok) throw new BadPolicy(tpmPolicy.error);
  const runtimePolicy = runtimePolicyOf(runtimePolicyText);
  const mbRefstate = refstateOf(mbPolicyText);

  const hashAlg = String(field(data, 'hash_alg'));
  if (!isHashAlg(hashAlg)) return [unrecognisedHash(hashAlg)];
  const ak = akFrom(String(field(data, 'tpm_ak')));
  if (isEvent(ak)) return [ak];
  const imaList = text(field(data, 'ima_measurement_list'));
  const mbLog = text(field(data, 'mb_log'));
  const outcome = evaluateQuote(
    {
      quote: String(field(data, 'quote')),
      hash_alg: hashAlg,
      enc_alg: '',
      sign_alg: '',
      ...(imaList === undefined ? {} : { ima_measurement_list: imaList }),
      ...(mbLog === undefined ? {} : { mb_measurement_list: mbLog }),
    },
    {
      nonce: String(field(data, 'nonce')),
      ak,
      acceptHashAlgs: [hashAlg],
      acceptEncAlgs: [],
      acceptSignAlgs: SIGN_ALGS,
      tpmPolicy: tpmPolicy.policy,
      cachedPubkey: undefined,
      clockInfo: INITIAL_CLOCK_INFO,
      imaState: initialImaState(),
      runtimePolicy,
      tenantKeyring: undefined,
      reportTomtou: deps.reportTomtou,
      mbRefstate,
      mbRegistry: deps.mbRegistry,
      mbPolicyName: deps.mbPolicyName,
      evaluateMbPolicy: true,
      stateless: true,
    },
  );
  return outcome.events;
}

/** POST /verify/evidence. */
export function verifyEvidence(deps: VerifyHandlerDeps, body: unknown): VerifyAnswer {
  const b =
    typeof body === 'object' && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {};
  const type = field(b, 'type');
  if (type === undefined) throw new HttpError(400, "missing parameter 'type'");
  const data = field(b, 'data');
  if (data === undefined) throw new HttpError(400, "missing parameter 'data'");
  // TEE (AMD SEV-SNP) evidence is not implemented here (README decision).
  if (type !== 'tpm') throw new HttpError(400, 'invalid evidence type');
  const d =
    typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  let events: AttestationEvent[];
  try {
    events = tpmEvidence(deps, d);
  } catch (e) {
    if (e instanceof BadPolicy)
      throw new HttpError(500, 'Internal Server Error: Failed to process attestation data');
    throw e;
  }
  if (events.length === 0)
    return { code: 200, status: 'Success', results: { valid: true, claims: d, failures: [] } };
  const failures = events.map((e) => ({ type: e.id, context: e.context }));
  const inputErr = events.some(
    (e) => e.id.endsWith('.missing_param') || e.id.endsWith('.missing_policy'),
  );
  return inputErr
    ? { code: 400, status: 'Bad Request', results: { valid: false, claims: {}, failures } }
    : { code: 200, status: 'Success', results: { valid: false, claims: {}, failures } };
}
