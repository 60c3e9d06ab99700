/**
 * @module evaluate: one quote's worth of IMA attestation: incremental PCR 10 replay, template
 * hash checks and policy evaluation (spec verifier.md §4.2, §4.3, §4.5; upstream
 * `_process_measurement_list` and the entry-number checks of `process_quote_response`).
 */
import { isHex, parseLineInto, TEMPLATE_HASH_NOT_HEX } from './entry';
import type { RawImaEntry } from './entry';
import { EventCollector, ImaEventId, makeEvent } from './failure';
import type { VerificationResult } from './failure';
import { digest, digestSize, ffDigest, hashLatin1, hexEqualsLatin1, latin1ToHex, nodeHashName, zeroDigest } from './hash-alg';
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

/** Reused across calls: evaluation is synchronous, so one scratch buffer serves every quote. */
const sharedEncoder = new TemplateEncoder();

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
  const validator = new EntryValidator(
    policy,
    policy === undefined ? undefined : withBootAggregates(policy.digests.get('boot_aggregate'), input.bootAggregates ?? []),
    input.tenantKeyring ?? policy?.verificationKeys,
    input.useKeyrings ?? true,
    st.learnedKeyrings,
  );

  // The hot loop keeps hashes as latin1 strings (one char per byte): crypto.hash returns them
  // without allocating Buffers, and comparing strings is cheap.
  const saved = st.pcr10[bank];
  let running = (saved === undefined ? zeroDigest(bank) : Buffer.from(saved, 'hex')).toString('latin1');
  const quoted =
    input.quotedPcr10 === undefined
      ? undefined
      : typeof input.quotedPcr10 === 'string'
        ? Buffer.from(input.quotedPcr10, 'hex').toString('latin1')
        : Buffer.from(input.quotedPcr10).toString('latin1');
  let found = quoted === undefined;
  let matchLine: number | undefined;
  let matchedPcr: string | undefined;
  let matchedNext = st.nextEntry;
  if (running === quoted) {
    found = true;
    matchLine = 0;
  }

  const zeroHex = '00'.repeat(logSize);
  const ff = ffDigest(bank).toString('latin1');
  const bankSize = digestSize(bank);
  const enc = sharedEncoder;
  const extendBuf = Buffer.allocUnsafe(bankSize * 2);
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
    let error = 'error' in parsed ? parsed.error : undefined;
    let entry: RawImaEntry | undefined;
    let violation = false;
    // Hex of the computed template hash, built only when column 2 does not match it.
    let mismatchHex: string | undefined;
    let value = ff;
    if (!('error' in parsed)) {
      entry = parsed.entry;
      const col2 = entry.templateHashHex;
      // §4.2 violation rule: an all-zero template hash stands for all-0xff, extended as such.
      if (col2 === zeroHex) {
        violation = true;
      } else {
        const data = enc.data();
        const logHash = hashLatin1(logNode, data);
        // Compare column 2 with the binary hash directly: no hex string per entry on a match.
        if (!hexEqualsLatin1(col2, logHash)) {
          mismatchHex = latin1ToHex(logHash);
          if (!isHex(col2)) error = TEMPLATE_HASH_NOT_HEX;
        }
        value = sameAlg ? logHash : hashLatin1(bankNode, data);
      }
    }
    if (error !== undefined || entry === undefined) {
      const shown = line.length > MAX_LINE_IN_EVENT ? `${line.slice(0, MAX_LINE_IN_EVENT)}…` : line;
      events.add(
        makeEvent(ImaEventId.ParserEntry, {
          message: `Line was not parsable into a valid IMA entry: ${shown}`,
          line: lineNum + 1,
          entry: input.startEntry + lineNum,
          reason: error,
        }),
      );
      continue;
    }
    extendBuf.write(running, 0, 'latin1');
    extendBuf.write(value, bankSize, 'latin1');
    running = hashLatin1(bankNode, extendBuf);

    if (entry.pcr !== '10') {
      events.add(makeEvent(ImaEventId.ImaPcr, { message: 'IMA PCR is not the configured one', expected: '10', got: entry.pcr }));
    }
    if (violation) {
      if (input.reportTomtou) events.add(makeEvent(ImaEventId.Tomtou, 'hash validation was skipped'));
    } else if (mismatchHex !== undefined) {
      events.add(
        makeEvent(ImaEventId.ImaHash, {
          message: 'IMA template hash does not match the calculated hash.',
          expected: entry.templateHashHex,
          got: mismatchHex,
          line: lineNum + 1,
        }),
      );
    } else {
      const ev = validator.validate(entry);
      if (ev !== undefined) events.add(ev);
    }

    if (!found && running === quoted) {
      found = true;
      matchLine = lineNum + 1;
      matchedPcr = latin1ToHex(running);
      matchedNext = st.nextEntry + lineNum + 1;
    }
  }

  let progress = st.quoteProgress;
  if (!found) {
    events.add(makeEvent(ImaEventId.PcrMismatch, `IMA measurement list does not match TPM PCR ${latin1ToHex(quoted ?? '')}`));
  } else if (quoted !== undefined) {
    const check = checkQuoteProgress(st.quoteProgress, matchLine ?? 0, logLength);
    progress = check.progress;
    if (!check.ok) events.add(makeEvent(ImaEventId.QuoteProgress, 'PCR quote did not make progress to catch up with log'));
  }

  const pcr10 = latin1ToHex(running);
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
