/**
 * @module evaluate: one quote's worth of IMA attestation: incremental PCR 10 replay, template
 * hash checks and policy evaluation (spec verifier.md §4.2, §4.3, §4.5; upstream
 * `_process_measurement_list` and the entry-number checks of `process_quote_response`).
 */
import { parseLineInto } from './entry';
import { EventCollector, ImaEventId, makeEvent } from './failure';
import type { VerificationResult } from './failure';
import { digest, digestSize, ffDigest, nodeHashName, hashWith, zeroDigest } from './hash-alg';
import type { HashAlg } from './hash-alg';
import type { ImaKeyring } from './keys/keyring';
import { withBootAggregates } from './policy/compile';
import type { CompiledRuntimePolicy } from './policy/compile';
import { checkQuoteProgress, initialImaState } from './state';
import type { ImaAttestState } from './state';
import { TemplateEncoder } from './template-encoder';
import { EntryValidator } from './validate-entry';

export interface ImaEvaluationInput {
  /** Measurement list text starting at entry `startEntry` (lines separated by "\n"). */
  readonly measurementList: string;
  /** `ima_measurement_list_entry` the agent answered with. */
  readonly startEntry: number;
  /** Hash algorithm of the quote: the PCR bank replayed. */
  readonly bank: HashAlg;
  /** Quoted PCR 10 (bytes or hex). Omitted: no match check and no state update (upstream `pcrval=None`). */
  readonly quotedPcr10?: Uint8Array | string;
  /** Omitted: no policy at all, every digest accepted (upstream `runtime_policy=None`). */
  readonly policy?: CompiledRuntimePolicy;
  /** Tenant keyring; defaults to the policy's `verification-keys`. */
  readonly tenantKeyring?: ImaKeyring;
  /** False reproduces upstream `ima_keyrings=None`: no signature checks, no key learning. Default true. */
  readonly useKeyrings?: boolean;
  /** `boot_aggregate` values computed from the UEFI log, accepted besides the policy's (§4.4). */
  readonly bootAggregates?: readonly string[];
  /** Boot time reported by the agent (0 or omitted when not sent, as with the Rust agent). */
  readonly bootTime?: number;
  /** TPM clockInfo.resetCount of this quote: a change with a non-zero start entry means a reboot. */
  readonly resetCount?: number;
  /**
   * Emit `ima.validation.tomtou` for violation entries. Upstream's `ignore_tomtou_errors` is
   * inverted in code (§4.2): pass `reportTomtou = ignore_tomtou_errors` to reproduce it.
   */
  readonly reportTomtou?: boolean;
}

export interface ImaEvaluation {
  /** `restart`: reboot detected, nothing was checked; the next request asks for entry 0 (§4.5). */
  readonly outcome: 'evaluated' | 'restart';
  /** State to persist; reset to the initial state after any failure (§4.3 step 5). */
  readonly state: ImaAttestState;
  /** Replayed PCR 10 after the last line, hex. */
  readonly pcr10: string;
  /** Line index after which the replay matched the quote (0 = before the first line). */
  readonly matchLine: number | undefined;
  /** Non-blank lines seen. */
  readonly entries: number;
}

const MAX_LINE_IN_EVENT = 1024;

function toBytes(v: Uint8Array | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'hex') : Buffer.from(v);
}

function isAllZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function restart(state: ImaAttestState, bank: HashAlg, resetCount: number | undefined): VerificationResult<ImaEvaluation> {
  const next = { ...initialImaState(), resetCount: resetCount ?? state.resetCount };
  return { ok: true, value: { outcome: 'restart', state: next, pcr10: zeroDigest(bank).toString('hex'), matchLine: undefined, entries: 0 } };
}

/** Evaluates the entries of one quote against the state left by the previous one. Never throws for bad evidence. */
export function evaluateImaList(state: ImaAttestState, input: ImaEvaluationInput): VerificationResult<ImaEvaluation> {
  const { bank } = input;
  const events = new EventCollector();
  const bootTime = input.bootTime ?? 0;
  let st = state;
  // §4.5: which start entry and boot the agent answered for.
  if (input.startEntry === 0) {
    st = initialImaState();
  } else if (input.startEntry !== st.nextEntry) {
    events.add(
      makeEvent(
        ImaEventId.InvalidImaEntryNb,
        { message: 'Agent did not respond with requested next IMA measurement list entry', got: input.startEntry, expected: st.nextEntry },
        false,
      ),
    );
  } else if (bootTime !== st.bootTime) {
    return restart(st, bank, input.resetCount);
  } else if (input.resetCount !== undefined && st.resetCount !== undefined && input.resetCount !== st.resetCount) {
    // Closes upstream's reboot gap for agents that send no boottime (§4.5 "Gap").
    return restart(st, bank, input.resetCount);
  } else if (st.nextEntry > 0 && st.pcr10[bank] === undefined) {
    // The saved aggregate is for another bank: the replay cannot continue from it.
    return restart(st, bank, input.resetCount);
  }

  const policy = input.policy;
  const logAlg: HashAlg = policy?.logHashAlg ?? 'sha1';
  const logNode = nodeHashName(logAlg);
  const bankNode = nodeHashName(bank);
  const logSize = digestSize(logAlg);
  const sameAlg = logAlg === bank;
  const ff = ffDigest(bank);
  const validator = new EntryValidator(
    policy,
    policy === undefined ? undefined : withBootAggregates(policy.digests.get('boot_aggregate'), input.bootAggregates ?? []),
    input.tenantKeyring ?? policy?.verificationKeys,
    input.useKeyrings ?? true,
    st.learnedKeyrings,
  );

  const saved = st.pcr10[bank];
  let running = saved === undefined ? zeroDigest(bank) : Buffer.from(saved, 'hex');
  const quoted = input.quotedPcr10 === undefined ? undefined : toBytes(input.quotedPcr10);
  let found = quoted === undefined;
  let matchLine: number | undefined;
  let matchedPcr: string | undefined;
  let matchedNext = st.nextEntry;
  if (quoted !== undefined && running.equals(quoted)) {
    found = true;
    matchLine = 0;
  }

  const enc = new TemplateEncoder();
  const extendBuf = Buffer.allocUnsafe(digestSize(bank) * 2);
  const text = input.measurementList;
  let logLength = 0;
  let pos = 0;
  for (let lineNum = 0; pos <= text.length; lineNum++) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl);
    pos = nl + 1;
    if (line === '') continue;
    logLength++;

    const parsed = parseLineInto(line, enc);
    if ('error' in parsed) {
      const shown = line.length > MAX_LINE_IN_EVENT ? `${line.slice(0, MAX_LINE_IN_EVENT)}…` : line;
      events.add(
        makeEvent(ImaEventId.ParserEntry, {
          message: `Line was not parsable into a valid IMA entry: ${shown}`,
          line: lineNum + 1,
          entry: input.startEntry + lineNum,
          reason: parsed.error,
        }),
      );
      continue;
    }
    const entry = parsed.entry;
    const data = enc.data();
    // §4.2 violation rule: an all-zero template hash stands for all-0xff, extended as such.
    const violation = entry.templateHash.length === logSize && isAllZero(entry.templateHash);
    let logHash: Buffer | undefined;
    let value: Buffer;
    if (violation) {
      value = ff;
    } else {
      logHash = hashWith(logNode, data);
      value = sameAlg ? logHash : hashWith(bankNode, data);
    }
    running.copy(extendBuf, 0);
    value.copy(extendBuf, running.length);
    running = hashWith(bankNode, extendBuf);

    if (entry.pcr !== '10') {
      events.add(makeEvent(ImaEventId.ImaPcr, { message: 'IMA PCR is not the configured one', expected: '10', got: entry.pcr }));
    }
    if (violation) {
      if (input.reportTomtou) events.add(makeEvent(ImaEventId.Tomtou, 'hash validation was skipped'));
    } else if (!entry.templateHash.equals(logHash as Buffer)) {
      events.add(
        makeEvent(ImaEventId.ImaHash, {
          message: 'IMA template hash does not match the calculated hash.',
          expected: entry.templateHash.toString('hex'),
          got: (logHash as Buffer).toString('hex'),
          line: lineNum + 1,
        }),
      );
    } else {
      const ev = validator.validate(entry);
      if (ev !== undefined) events.add(ev);
    }

    if (!found && running.equals(quoted as Buffer)) {
      found = true;
      matchLine = lineNum + 1;
      matchedPcr = running.toString('hex');
      matchedNext = st.nextEntry + lineNum + 1;
    }
  }

  let progress = st.quoteProgress;
  if (!found) {
    events.add(makeEvent(ImaEventId.PcrMismatch, `IMA measurement list does not match TPM PCR ${(quoted as Buffer).toString('hex')}`));
  } else if (quoted !== undefined) {
    const check = checkQuoteProgress(st.quoteProgress, matchLine ?? 0, logLength);
    progress = check.progress;
    if (!check.ok) events.add(makeEvent(ImaEventId.QuoteProgress, 'PCR quote did not make progress to catch up with log'));
  }

  const pcr10 = running.toString('hex');
  const failure = events.toFailure();
  if (failure !== undefined) {
    const reset = { ...initialImaState(), resetCount: input.resetCount ?? st.resetCount };
    return { ok: false, failure, value: { outcome: 'evaluated', state: reset, pcr10, matchLine, entries: logLength } };
  }
  const next: ImaAttestState = {
    nextEntry: matchedNext,
    pcr10: matchedPcr === undefined ? st.pcr10 : { [bank]: matchedPcr },
    bootTime,
    resetCount: input.resetCount ?? st.resetCount,
    quoteProgress: progress,
    learnedKeyrings: validator.learned,
  };
  return { ok: true, value: { outcome: 'evaluated', state: next, pcr10, matchLine, entries: logLength } };
}

/** Template hash of `data` in `alg` (exported for tools and tests). */
export function templateHash(alg: HashAlg, data: Uint8Array): Buffer {
  return digest(alg, data);
}
