/**
 * @module policy-handlers: runtime policies (`/allowlists/{name}`) and measured-boot reference states
 * (`/mbpolicies/{name}`) with upstream's bodies and status codes (verifier §1.2, §1.6).
 */
import { z } from 'zod';
import { HttpError } from '@keylime/server';
import type { VerifierStore } from '../store/verifier-store';
import { decodeBase64Field, prepareRuntimePolicy } from './policy-input';
import type { PolicySignatureSettings } from './policy-input';

export interface PolicyHandlerDeps {
  readonly store: VerifierStore;
  readonly signatures: PolicySignatureSettings;
  /** Called when a policy's content changes, so cached compiled policies are dropped. */
  readonly onPolicyChanged: () => void;
}

const NAME_RE = /^[\w.-]{1,255}$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new HttpError(400, 'policy name is not valid');
}

const RuntimePolicyBody = z.object({
  tpm_policy: z.string().nullish(),
  runtime_policy: z.string().min(1),
  runtime_policy_key: z.string().nullish(),
});

const MbPolicyBody = z.object({ mb_policy: z.string().nullable() });

function isEmptyBody(body: unknown): boolean {
  return typeof body !== 'object' || body === null || Object.keys(body).length === 0;
}

function parseRuntimeBody(body: unknown): {
  text: string;
  keyB64: string;
  tpmPolicy: string | null;
} {
  if (isEmptyBody(body)) throw new HttpError(400, 'Runtime policy data not provided');
  const b = RuntimePolicyBody.safeParse(body);
  if (!b.success) throw new HttpError(400, 'Runtime policy body needs a base64 runtime_policy');
  return {
    text: decodeBase64Field(b.data.runtime_policy, 'runtime_policy'),
    keyB64: b.data.runtime_policy_key ?? '',
    tpmPolicy: b.data.tpm_policy ?? null,
  };
}

export async function listRuntimePolicies(
  deps: PolicyHandlerDeps,
): Promise<Record<string, unknown>> {
  return { 'runtimepolicy names': await deps.store.listAllowlistNames() };
}

export async function getRuntimePolicy(
  deps: PolicyHandlerDeps,
  name: string,
): Promise<Record<string, unknown>> {
  checkName(name);
  const row = await deps.store.getAllowlist(name);
  if (!row) throw new HttpError(404, `Runtime policy ${name} not found`);
  // QUIRK kept: key spelt `tmp_policy` and always null; the policy as raw text (§1.6).
  return { name: row.name, tmp_policy: null, runtime_policy: row.imaPolicy };
}

export async function createRuntimePolicy(
  deps: PolicyHandlerDeps,
  name: string,
  body: unknown,
): Promise<void> {
  checkName(name);
  const b = parseRuntimeBody(body);
  if (await deps.store.getAllowlist(name))
    throw new HttpError(409, `Runtime policy with name ${name} already exists`);
  const p = prepareRuntimePolicy(b.text, b.keyB64, deps.signatures);
  try {
    await deps.store.insertAllowlist({ name, ...p, tpmPolicy: b.tpmPolicy });
  } catch {
    throw new HttpError(409, `Runtime policy with name ${name} already exists`);
  }
}

export async function replaceRuntimePolicy(
  deps: PolicyHandlerDeps,
  name: string,
  body: unknown,
): Promise<void> {
  checkName(name);
  const b = parseRuntimeBody(body);
  if (!(await deps.store.getAllowlist(name)))
    throw new HttpError(404, `Runtime policy ${name} not found`);
  const p = prepareRuntimePolicy(b.text, b.keyB64, deps.signatures);
  await deps.store.updateAllowlist(name, { ...p, tpmPolicy: b.tpmPolicy });
  deps.onPolicyChanged();
}

export async function deleteRuntimePolicy(deps: PolicyHandlerDeps, name: string): Promise<void> {
  checkName(name);
  const r = await deps.store.deleteAllowlist(name);
  if (r === 'missing') throw new HttpError(404, `Runtime policy ${name} not found`);
  if (r === 'in-use') throw new HttpError(409, `Runtime policy ${name} is in use by an agent`);
}

function parseMbBody(body: unknown): string | null {
  if (isEmptyBody(body)) throw new HttpError(400, 'Measured boot policy data not provided');
  const b = MbPolicyBody.safeParse(body);
  if (!b.success) throw new HttpError(400, 'Measured boot policy body needs mb_policy');
  const text = b.data.mb_policy;
  if (text !== null) {
    try {
      JSON.parse(text);
    } catch {
      throw new HttpError(400, 'mb_policy is not valid JSON');
    }
  }
  return text;
}

export async function listMbPolicies(deps: PolicyHandlerDeps): Promise<Record<string, unknown>> {
  return { 'mbpolicy names': await deps.store.listMbPolicyNames() };
}

export async function getMbPolicy(
  deps: PolicyHandlerDeps,
  name: string,
): Promise<Record<string, unknown>> {
  checkName(name);
  const row = await deps.store.getMbPolicy(name);
  if (!row) throw new HttpError(404, `Measured boot policy ${name} not found`);
  return { name: row.name, mb_policy: row.mbPolicy };
}

export async function createMbPolicy(
  deps: PolicyHandlerDeps,
  name: string,
  body: unknown,
): Promise<void> {
  checkName(name);
  const text = parseMbBody(body);
  if (await deps.store.getMbPolicy(name))
    throw new HttpError(409, `Measured boot policy with name ${name} already exists`);
  try {
    await deps.store.insertMbPolicy({ name, mbPolicy: text });
  } catch {
    throw new HttpError(409, `Measured boot policy with name ${name} already exists`);
  }
}

export async function replaceMbPolicy(
  deps: PolicyHandlerDeps,
  name: string,
  body: unknown,
): Promise<void> {
  checkName(name);
  const text = parseMbBody(body);
  // QUIRK kept: upstream answers 409 (not 404) for a missing mb policy on PUT (§1.2).
  if ((await deps.store.updateMbPolicy(name, text)) === 0) {
    throw new HttpError(409, `Measured boot policy ${name} does not exist`);
  }
  deps.onPolicyChanged();
}

export async function deleteMbPolicy(deps: PolicyHandlerDeps, name: string): Promise<void> {
  checkName(name);
  const r = await deps.store.deleteMbPolicy(name);
  if (r === 'missing') throw new HttpError(404, `Measured boot policy ${name} not found`);
  if (r === 'in-use')
    throw new HttpError(409, `Measured boot policy ${name} is in use by an agent`);
}
