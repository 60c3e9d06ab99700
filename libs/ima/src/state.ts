/**
 * @module state: per-agent incremental IMA attestation state (spec verifier.md §4.3, §4.5;
 * upstream `AgentAttestState`), as an immutable value the verifier persists after each quote.
 */
import { ImaErrorCode, imaError } from './errors';
import { isHashAlg } from './hash-alg';
import type { HashAlg } from './hash-alg';
import { NO_LEARNED_KEYRINGS, learnedKeyringsFromJson, learnedKeyringsToJson } from './keys/keyrings';
import type { LearnedKeyrings } from './keys/keyrings';

export interface ImaAttestState {
  /** Index of the next log entry to request (`next_ima_ml_entry`). */
  readonly nextEntry: number;
  /** PCR 10 after entry `nextEntry - 1`, lower-case hex, per bank replayed so far. */
  readonly pcr10: Readonly<Partial<Record<HashAlg, string>>>;
  /** Boot time the agent reported (0 = unknown), upstream `boottime`. */
  readonly bootTime: number;
  /** TPM resetCount seen in the last quote; a change means the machine rebooted. */
  readonly resetCount: number | undefined;
  /** `(match line, log length)` of the previous quote, for the progress rule (§4.3 step 4). */
  readonly quoteProgress: readonly [number, number] | undefined;
  /** Keys learned from accepted `ima-buf` entries, by keyring name. */
  readonly learnedKeyrings: LearnedKeyrings;
}

/** Shared by every initial state (frozen; states are replaced, never mutated). */
const NO_PCR10: ImaAttestState['pcr10'] = Object.freeze({});

/** The state of an agent not attested yet, or after any failure: request the full log. */
export function initialImaState(): ImaAttestState {
  return {
    nextEntry: 0,
    pcr10: NO_PCR10,
    bootTime: 0,
    resetCount: undefined,
    quoteProgress: undefined,
    learnedKeyrings: NO_LEARNED_KEYRINGS,
  };
}

/** Upstream `check_quote_progress`: returns whether progress is fine and the new tuple. */
export function checkQuoteProgress(
  previous: readonly [number, number] | undefined,
  matchLine: number,
  logLength: number,
): { readonly ok: boolean; readonly progress: readonly [number, number] } {
  const progress = [matchLine, logLength] as const;
  if (previous === undefined || matchLine === logLength) return { ok: true, progress };
  const prevLag = previous[1] - previous[0];
  return { ok: !(prevLag > 0 && matchLine < prevLag), progress };
}

interface StateJson {
  next_ima_ml_entry: number;
  pcr10: Record<string, string>;
  boottime: number;
  reset_count: number | null;
  quote_progress: [number, number] | null;
  learned_ima_keyrings: string;
}

/** JSON text for persistence (learned keyrings in upstream's `learned_ima_keyrings` format). */
export function serializeImaState(state: ImaAttestState): string {
  const json: StateJson = {
    next_ima_ml_entry: state.nextEntry,
    pcr10: { ...state.pcr10 },
    boottime: state.bootTime,
    reset_count: state.resetCount ?? null,
    quote_progress: state.quoteProgress === undefined ? null : [state.quoteProgress[0], state.quoteProgress[1]],
    learned_ima_keyrings: learnedKeyringsToJson(state.learnedKeyrings),
  };
  return JSON.stringify(json);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Inverse of serializeImaState; throws KL_IMA_INVALID_STATE on anything else. */
export function deserializeImaState(text: string): ImaAttestState {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw imaError(ImaErrorCode.InvalidState, 'IMA state is not valid JSON', { cause: e });
  }
  const bad = (what: string): never => {
    throw imaError(ImaErrorCode.InvalidState, `IMA state: ${what}`);
  };
  if (typeof o !== 'object' || o === null) return bad('not an object');
  const j = o as Partial<Record<keyof StateJson, unknown>>;
  if (!isCount(j.next_ima_ml_entry)) return bad('next_ima_ml_entry must be a non-negative integer');
  if (!isCount(j.boottime)) return bad('boottime must be a non-negative integer');
  if (j.reset_count !== null && !isCount(j.reset_count)) return bad('reset_count must be an integer or null');
  const pcr10: Partial<Record<HashAlg, string>> = {};
  if (typeof j.pcr10 !== 'object' || j.pcr10 === null) return bad('pcr10 must be an object');
  for (const [bank, value] of Object.entries(j.pcr10)) {
    if (!isHashAlg(bank) || typeof value !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(value)) {
      return bad(`pcr10.${bank} is not a hex PCR value of a known bank`);
    }
    pcr10[bank] = value;
  }
  let quoteProgress: readonly [number, number] | undefined;
  if (j.quote_progress !== null) {
    const q = j.quote_progress;
    if (!Array.isArray(q) || q.length !== 2 || !isCount(q[0]) || !isCount(q[1])) {
      return bad('quote_progress must be null or two integers');
    }
    quoteProgress = [q[0], q[1]];
  }
  if (typeof j.learned_ima_keyrings !== 'string') return bad('learned_ima_keyrings must be a string');
  return {
    nextEntry: j.next_ima_ml_entry,
    pcr10,
    bootTime: j.boottime,
    resetCount: j.reset_count ?? undefined,
    quoteProgress,
    learnedKeyrings: learnedKeyringsFromJson(j.learned_ima_keyrings),
  };
}
