/**
 * @module tenant/tpm-policy: `--tpm_policy` and the PCR mask (spec §7.2; KR tpm_util.readPolicy,
 * cli/policies.process_policy): PCR numbers, lower-cased value lists, and the mask bits that a
 * runtime policy (PCR 10) or a measured-boot policy (PCRs 0-9, 11-15) add.
 */
import { UserError } from './errors';
import { pyJson } from './python-format';

export const IMA_PCR = 10;
export const TPM_DATA_PCR = 16;
export const MEASUREDBOOT_PCRS: readonly number[] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15,
];

/** A TPM policy: PCR → accepted lower-case hex values, plus the PCR mask to quote. */
export interface TpmPolicy {
  /** PCR number (decimal text, as in the JSON) → values, in ascending PCR order. */
  readonly pcrs: ReadonlyMap<string, readonly string[]>;
  /** Bitmap of PCRs to quote. */
  readonly mask: number;
}

/** Python's `hex()` of the mask. */
export function maskHex(mask: number): string {
  return `0x${(mask >>> 0).toString(16)}`;
}

/** Parses `--tpm_policy` JSON as upstream's readPolicy does; bad input is a UserError. */
export function readTpmPolicy(text: string): TpmPolicy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UserError(`Invalid tpm_policy: not valid JSON: ${text}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UserError('Invalid tpm_policy: must be a JSON object of PCR number to value(s)');
  }
  const pcrs = new Map<string, readonly string[]>();
  let mask = 0;
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!/^[0-9]+$/.test(key) || Number(key) > 24) {
      throw new UserError(`Invalid tpm policy pcr number: ${key}`);
    }
    const pcr = Number(key);
    if (pcr === TPM_DATA_PCR) {
      throw new UserError(
        `Invalid allowlist PCR number ${key}, keylime uses this PCR to bind data.`,
      );
    }
    if (pcr === IMA_PCR) {
      throw new UserError(`Invalid allowlist PCR number ${key}, this PCR is used for IMA.`);
    }
    mask = (mask | (1 << pcr)) >>> 0;
    const values = typeof value === 'string' ? [value] : value;
    if (!Array.isArray(values) || !values.every((v): v is string => typeof v === 'string')) {
      throw new UserError(
        `Invalid tpm_policy value for PCR ${key}: expected a hex string or a list of them`,
      );
    }
    pcrs.set(
      key,
      values.map((v) => v.toLowerCase()),
    );
  }
  return { pcrs, mask };
}

/** The policy with more PCRs in the mask. */
export function withMaskBits(policy: TpmPolicy, pcrs: readonly number[]): TpmPolicy {
  let mask = policy.mask;
  for (const p of pcrs) mask = (mask | (1 << p)) >>> 0;
  return { pcrs: policy.pcrs, mask };
}

/** True if the mask selects `pcr` (tpm_util.check_mask). */
export function maskHas(mask: number, pcr: number): boolean {
  return ((mask >>> pcr) & 1) === 1;
}

/**
 * Upstream enforce_pcrs: a PCR listed in --tpm_policy that a runtime or measured-boot policy
 * will evaluate is an error (upstream logs it and exits 1).
 */
export function enforcePcrs(
  policy: TpmPolicy,
  protectedPcrs: readonly number[],
  use: string,
): void {
  for (const key of policy.pcrs.keys()) {
    if (protectedPcrs.includes(Number(key))) {
      throw new UserError(
        `WARNING: PCR ${key} is specified in "tpm_policy", but will in fact be used by ${use}. Please remove it from policy`,
      );
    }
  }
}

/** The JSON text sent to the verifier (`json.dumps(tpm_policy)`): PCR entries, then "mask". */
export function tpmPolicyJson(policy: TpmPolicy): string {
  const parts: string[] = [];
  for (const [k, values] of policy.pcrs) {
    parts.push(`${pyJson(k)}: [${values.map((v) => pyJson(v)).join(', ')}]`);
  }
  parts.push(`"mask": ${pyJson(maskHex(policy.mask))}`);
  return `{${parts.join(', ')}}`;
}
