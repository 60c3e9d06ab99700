/**
 * @module tpm-policy: the enrolled `tpm_policy` JSON text — static PCR values and the `mask` sent to
 * the agent (verifier §1.3, §3.6, §11.1). Parsed once at enrolment/load, never per quote.
 */

export interface TpmPolicy {
  /** The mask string exactly as enrolled (sent verbatim to the agent, §12 item 2). */
  readonly mask: string;
  /** PCR bitmap of the mask. */
  readonly maskBits: number;
  /** PCR → accepted lower-case hex values. */
  readonly pcrs: ReadonlyMap<number, readonly string[]>;
}

export type TpmPolicyResult = { ok: true; policy: TpmPolicy } | { ok: false; error: string };

const HEX_RE = /^(?:0x)?[0-9a-fA-F]{1,6}$/;

/** The `pcrs` of every policy without static PCR values (most: upstream's tenant sends only a mask). */
const NO_PCRS: ReadonlyMap<number, readonly string[]> = Object.freeze(
  new Map<number, readonly string[]>(),
);

/** Parses the policy text (frozen, `pcrs` read-only); errors are reported as values (it is client input). */
export function parseTpmPolicy(text: string): TpmPolicyResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'tpm_policy is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, error: 'tpm_policy must be a JSON object' };
  }
  const pcrs = new Map<number, readonly string[]>();
  let mask: string | undefined;
  for (const [key, value] of Object.entries(json as Record<string, unknown>)) {
    if (key === 'mask') {
      if (typeof value !== 'string' || !HEX_RE.test(value)) {
        return { ok: false, error: 'tpm_policy mask must be a hex string such as "0x408400"' };
      }
      mask = value;
      continue;
    }
    if (!/^\d{1,2}$/.test(key) || Number(key) > 23) {
      return { ok: false, error: `tpm_policy key ${JSON.stringify(key)} is not a PCR number 0-23` };
    }
    const list = typeof value === 'string' ? [value] : value;
    if (
      !Array.isArray(list) ||
      !list.every((v) => typeof v === 'string' && /^[0-9a-fA-F]+$/.test(v))
    ) {
      return { ok: false, error: `tpm_policy PCR ${key} must list hex values` };
    }
    pcrs.set(Number(key), Object.freeze((list as string[]).map((v) => v.toLowerCase())));
  }
  let maskBits = 0;
  if (mask === undefined) {
    // Upstream's tenant always sends a mask; derive one from the listed PCRs otherwise.
    for (const p of pcrs.keys()) maskBits |= 1 << p;
    mask = `0x${maskBits.toString(16)}`;
  } else {
    maskBits = parseInt(mask.replace(/^0x/i, ''), 16);
  }
  return {
    ok: true,
    policy: Object.freeze({
      mask,
      maskBits: maskBits >>> 0,
      pcrs: pcrs.size === 0 ? NO_PCRS : pcrs,
    }),
  };
}

/** Parsed policies by text: agents enrolled alike share one (bounded, never evicted). */
const policies = new Map<string, { readonly text: string; readonly policy: TpmPolicy }>();
const MAX_CACHED_POLICIES = 256;

/**
 * parseTpmPolicy for the attestation loop, which keeps a policy per agent: the same text yields
 * the same (frozen) policy object, and `text` is the one string kept for that text.
 */
export function sharedTpmPolicy(
  text: string,
): { ok: true; policy: TpmPolicy; text: string } | { ok: false; error: string } {
  const cached = policies.get(text);
  if (cached !== undefined) return { ok: true, policy: cached.policy, text: cached.text };
  const parsed = parseTpmPolicy(text);
  if (!parsed.ok) return parsed;
  if (policies.size < MAX_CACHED_POLICIES) policies.set(text, { text, policy: parsed.policy });
  return { ok: true, policy: parsed.policy, text };
}

/** PCR numbers set in a bitmap. */
export function maskPcrs(bits: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 24; i++) if ((bits >>> i) & 1) out.push(i);
  return out;
}
