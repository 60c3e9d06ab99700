/**
 * @module evaluate-quote: one quote response judged in upstream's order (verifier §3.3, §3.2, §3.5,
 * §3.4, §3.6, §4, §5.4): response shape → algorithms → quote (signature, nonce, PCR digest) →
 * clock → PCR 16 binding → IMA (incremental) → measured boot → static tpm_policy PCRs. Pure apart
 * from crypto; every verdict is a list of upstream events, never an exception.
 */
import { z } from 'zod';
import { isHashAlg } from '@keylime/crypto';
import type { HashAlg } from '@keylime/crypto';
import { bootAggregates, evaluateImaList, toHashAlg } from '@keylime/ima';
import type { CompiledRuntimePolicy, ImaAttestState, ImaKeyring } from '@keylime/ima';
import { evaluateMeasuredBoot, verifyEventLogBytes } from '@keylime/mba';
import type { BankName, PolicyRegistry } from '@keylime/mba';
import {
  DataPcrBinding,
  QuoteEventId,
  checkClockInfo,
  checkDataPcr,
  verifyQuote,
} from '@keylime/tpm';
import type {
  QuoteSignAlg,
  QuoteVerificationKey,
  TpmsClockInfo,
  VerifiedQuote,
} from '@keylime/tpm';
import { event } from './failure';
import type { AttestationEvent } from './failure';
import type { TpmPolicy } from './tpm-policy';

const IMA_PCR = 10;
const DATA_PCR = 16;
/** upstream config.MEASUREDBOOT_PCRS */
const MEASUREDBOOT_PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15];
const KNOWN_HASHES = ['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256'];

const QuoteResults = z.object({
  quote: z.string().min(1),
  hash_alg: z.string().max(16),
  enc_alg: z.string().max(16),
  sign_alg: z.string().max(16),
  pubkey: z.string().max(16_384).nullish(),
  ima_measurement_list: z.string().nullish(),
  ima_measurement_list_entry: z.number().int().nonnegative().nullish(),
  mb_measurement_list: z.string().nullish(),
  boottime: z.number().int().nonnegative().nullish(),
});

export interface QuoteContext {
  readonly nonce: string;
  readonly ak: QuoteVerificationKey;
  readonly acceptHashAlgs: readonly string[];
  readonly acceptEncAlgs: readonly string[];
  readonly acceptSignAlgs: readonly string[];
  readonly tpmPolicy: TpmPolicy;
  /** Payload key cached from an earlier quote (as PCR 16 binds it). */
  readonly cachedPubkey: DataPcrBinding | undefined;
  readonly clockInfo: TpmsClockInfo;
  readonly imaState: ImaAttestState;
  readonly runtimePolicy: CompiledRuntimePolicy | undefined;
  readonly tenantKeyring: ImaKeyring | undefined;
  readonly reportTomtou: boolean;
  /** Parsed refstate; undefined when none, null, or `{}` (check disabled, §5.4). */
  readonly mbRefstate: unknown;
  readonly mbRegistry: PolicyRegistry;
  readonly mbPolicyName: string;
  /** measured_boot_evaluate = always, or once with no successful attestation yet. */
  readonly evaluateMbPolicy: boolean;
  /**
   * One-shot evidence (POST /verify/evidence, §1.7): no payload key, no enc/sign accept lists,
   * no clock check and no PCR-16 binding, as upstream's skip_clock_check/skip_data_pcr_check.
   */
  readonly stateless?: boolean;
}

export interface QuoteOutcome {
  readonly events: AttestationEvent[];
  readonly hashAlg: string | undefined;
  readonly encAlg: string | undefined;
  readonly signAlg: string | undefined;
  /** The agent sent `pubkey` (partial=0): its PEM, and its PCR 16 binding. */
  readonly pubkeyReceived: { readonly pem: string; readonly binding: DataPcrBinding } | undefined;
  /** New clock reference (only on success). */
  readonly clockInfo: TpmsClockInfo | undefined;
  /** IMA state to keep: advanced on success, reset after an IMA failure, unchanged without IMA. */
  readonly imaState: ImaAttestState;
  readonly imaEvaluated: boolean;
}

function normaliseEncAlg(a: string): string {
  return a === 'rsa' ? 'rsa2048' : a === 'ecc' ? 'ecc256' : a;
}

/*
 * The accept lists are shared, frozen arrays (one per distinct enrolled value, store/columns.ts),
 * so what is derived from them per quote is derived once per list instead.
 */
const hashAlgLists = new WeakMap<readonly string[], readonly HashAlg[]>();
const signAlgLists = new WeakMap<readonly string[], readonly QuoteSignAlg[]>();
const encAlgLists = new WeakMap<readonly string[], readonly string[]>();

function derivedList<T>(
  list: readonly string[],
  cache: WeakMap<readonly string[], readonly T[]>,
  derive: (l: readonly string[]) => T[],
): readonly T[] {
  let out = cache.get(list);
  if (out === undefined) {
    out = Object.freeze(derive(list));
    // A list that is not frozen may still change: derive it again next time.
    if (Object.isFrozen(list)) cache.set(list, out);
  }
  return out;
}

// Module-level, so a cache hit allocates no closure per quote.
const hashAlgsOf = (l: readonly string[]): HashAlg[] => l.filter(isHashAlg);
const signAlgsOf = (l: readonly string[]): QuoteSignAlg[] =>
  l.filter((a): a is QuoteSignAlg => a === 'rsassa' || a === 'rsapss' || a === 'ecdsa');
const encAlgsOf = (l: readonly string[]): string[] => l.map(normaliseEncAlg);

function invalidData(message: string): AttestationEvent {
  return event(QuoteEventId.InvalidData, message, false);
}

/** Judges an agent's quote `results` against the agent's enrolment and attestation state. */
export function evaluateQuote(results: unknown, ctx: QuoteContext): QuoteOutcome {
  const base = {
    hashAlg: undefined,
    encAlg: undefined,
    signAlg: undefined,
    pubkeyReceived: undefined,
    clockInfo: undefined,
    imaState: ctx.imaState,
    imaEvaluated: false,
  };
  const parsed = QuoteResults.safeParse(results);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      ...base,
      events: [
        invalidData(
          `malformed quote response: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
        ),
      ],
    };
  }
  const r = parsed.data;
  const out = {
    ...base,
    hashAlg: r.hash_alg,
    encAlg: r.enc_alg,
    signAlg: r.sign_alg,
    pubkeyReceived:
      r.pubkey === undefined || r.pubkey === null
        ? undefined
        : { pem: r.pubkey, binding: DataPcrBinding.of(r.pubkey) },
  };
  const pubkey = out.pubkeyReceived?.binding ?? ctx.cachedPubkey;
  if (pubkey === undefined && ctx.stateless !== true) {
    return {
      ...out,
      events: [
        event(
          QuoteEventId.NoPubkey,
          'Agent did not provide public key and no key was cached',
          false,
        ),
      ],
    };
  }
  // §3.3: algorithms against the enrolled accept lists.
  if (
    !KNOWN_HASHES.includes(r.hash_alg) ||
    !ctx.acceptHashAlgs.includes(r.hash_alg) ||
    !isHashAlg(r.hash_alg)
  ) {
    return {
      ...out,
      events: [
        event(
          QuoteEventId.InvalidHashAlg,
          `TPM Quote is using an unaccepted hash algorithm: ${r.hash_alg}`,
          false,
        ),
      ],
    };
  }
  if (
    ctx.stateless !== true &&
    !derivedList(ctx.acceptEncAlgs, encAlgLists, encAlgsOf).includes(normaliseEncAlg(r.enc_alg))
  ) {
    return {
      ...out,
      events: [
        event(
          QuoteEventId.InvalidEncAlg,
          `TPM Quote is using an unaccepted encryption algorithm: ${r.enc_alg}`,
          false,
        ),
      ],
    };
  }
  if (ctx.stateless !== true && !ctx.acceptSignAlgs.includes(r.sign_alg)) {
    return {
      ...out,
      events: [
        event(
          QuoteEventId.InvalidSignAlg,
          `TPM Quote is using an unaccepted signing algorithm: ${r.sign_alg}`,
          false,
        ),
      ],
    };
  }
  const hashAlg: HashAlg = r.hash_alg;
  const verdict = verifyQuote(r.quote, {
    ak: ctx.ak,
    nonce: ctx.nonce,
    hashAlg,
    acceptedHashAlgs: derivedList(ctx.acceptHashAlgs, hashAlgLists, hashAlgsOf),
    acceptedSignAlgs: derivedList(ctx.acceptSignAlgs, signAlgLists, signAlgsOf),
  });
  if (!verdict.ok) return { ...out, events: [{ ...verdict.failure }] };
  const quote = verdict.value;
  const clock = checkClockInfo(ctx.clockInfo, quote.clockInfo);
  if (!clock.ok && ctx.stateless !== true) return { ...out, events: [{ ...clock.failure }] };

  const events: AttestationEvent[] = [];
  const pcr16 =
    pubkey === undefined || ctx.stateless === true ? undefined : checkDataPcr(quote, pubkey);
  if (pcr16) events.push({ ...pcr16 });

  // §3.6 step 1 and §4.4: the UEFI log (if sent) is parsed once; its boot aggregates feed IMA.
  const mb = measuredBoot(r.mb_measurement_list ?? undefined, quote, ctx, events);

  let imaState = ctx.imaState;
  let imaEvaluated = false;
  const quotedPcr10 = quote.pcrs.get(IMA_PCR);
  if (quotedPcr10 !== undefined) {
    if (r.ima_measurement_list === undefined || r.ima_measurement_list === null) {
      events.push(
        event(
          `pcr_validation.unused_pcr_${IMA_PCR}`,
          'IMA PCR in policy, but no measurement list provided',
          true,
        ),
      );
    } else {
      const ima = evaluateImaList(ctx.imaState, {
        measurementList: r.ima_measurement_list,
        startEntry: r.ima_measurement_list_entry ?? 0,
        bank: toHashAlg(hashAlg),
        quotedPcr10,
        ...(ctx.runtimePolicy ? { policy: ctx.runtimePolicy } : {}),
        ...(ctx.tenantKeyring ? { tenantKeyring: ctx.tenantKeyring } : {}),
        bootAggregates: mb.bootAggregates,
        bootTime: r.boottime ?? 0,
        resetCount: quote.clockInfo.resetCount,
        reportTomtou: ctx.reportTomtou,
      });
      imaState = ima.value.state;
      imaEvaluated = true;
      if (!ima.ok)
        for (const e of ima.failure.events) events.push(event(e.eventId, e.context, e.recoverable));
    }
  }

  // §3.6 step 5-6: static PCR values of tpm_policy for the PCRs not checked above.
  for (const [pcr, value] of quote.pcrs) {
    if (pcr === IMA_PCR || pcr === DATA_PCR || mb.checked.has(pcr)) continue;
    const allowed = ctx.tpmPolicy.pcrs.get(pcr);
    if (allowed && !allowed.includes(value)) {
      events.push(
        event(
          `pcr_validation.invalid_pcr_${pcr}`,
          { message: `PCR value is not in policy: ${pcr}`, got: value, expected: allowed },
          true,
        ),
      );
    }
  }
  const missing = [...ctx.tpmPolicy.pcrs.keys()]
    .filter((p) => !quote.pcrs.has(p))
    .sort((a, b) => a - b);
  if (missing.length > 0) {
    events.push(
      event(
        'pcr_validation.missing_pcrs',
        { context: 'PCRs are missing in quote', data: missing },
        true,
      ),
    );
  }
  return {
    ...out,
    events,
    clockInfo: events.length === 0 && clock.ok ? clock.value : undefined,
    imaState,
    imaEvaluated,
  };
}

/** §3.6 steps 1, 4, 8 and §5.4: log replay against the quote, then the refstate policy. */
function measuredBoot(
  logB64: string | undefined,
  quote: VerifiedQuote,
  ctx: QuoteContext,
  events: AttestationEvent[],
): { checked: Set<number>; bootAggregates: string[] } {
  const checked = new Set<number>();
  const bank = quote.hashAlg as BankName;
  const enabled = ctx.mbRefstate !== undefined;
  const engine = ctx.mbRegistry.get(ctx.mbPolicyName);
  const relevant =
    engine && engine.relevantPcrs.length > 0 ? engine.relevantPcrs : MEASUREDBOOT_PCRS;
  const mbPcrs = MEASUREDBOOT_PCRS.filter((p) => relevant.includes(p) && quote.pcrs.has(p));
  if (logB64 === undefined || logB64 === '') {
    if (enabled) {
      for (const p of mbPcrs) {
        events.push(
          event(
            `pcr_validation.unused_pcr_${p}`,
            'Measured boot PCR in policy, but no boot log provided',
            true,
          ),
        );
        checked.add(p);
      }
    }
    return { checked, bootAggregates: [] };
  }
  const quoted = new Map<number, Uint8Array>();
  for (const p of enabled ? mbPcrs : MEASUREDBOOT_PCRS.filter((x) => quote.pcrs.has(x))) {
    quoted.set(p, Buffer.from(quote.pcrs.get(p) as string, 'hex'));
  }
  const verified = verifyEventLogBytes(new Uint8Array(Buffer.from(logB64, 'base64')), {
    bank,
    pcrs: quoted,
  });
  if (!enabled) {
    if (!verified.ok) return { checked, bootAggregates: [] };
    const b = verified.value.replay.banks.get(bank);
    const pcrs = new Map<number, Uint8Array>();
    b?.pcrs.forEach((v, i) => pcrs.set(i, v));
    return { checked, bootAggregates: bootAggregates(toHashAlg(quote.hashAlg), pcrs) };
  }
  for (const p of mbPcrs) checked.add(p);
  if (!verified.ok) {
    for (const f of verified.failures) events.push(event(f.id, f.context, f.recoverable));
    return { checked, bootAggregates: [] };
  }
  // A PCR that is also in tpm_policy must carry one of the listed values (§3.6 step 4).
  for (const p of mbPcrs) {
    const allowed = ctx.tpmPolicy.pcrs.get(p);
    const value = quote.pcrs.get(p) as string;
    if (allowed && !allowed.includes(value)) {
      events.push(
        event(
          `pcr_validation.invalid_pcr_${p}`,
          { message: `PCR value is not in policy: ${p}`, got: value, expected: allowed },
          true,
        ),
      );
    }
  }
  if (ctx.evaluateMbPolicy) {
    const result = evaluateMeasuredBoot(ctx.mbRegistry, {
      policyName: ctx.mbPolicyName,
      refstate: ctx.mbRefstate,
      log: verified.value,
      pcrsInQuote: [...quote.pcrs.keys()],
    });
    if (!result.ok)
      for (const f of result.failures) events.push(event(f.id, f.context, f.recoverable));
  }
  const b = verified.value.replay.banks.get(bank);
  const pcrs = new Map<number, Uint8Array>();
  b?.pcrs.forEach((v, i) => pcrs.set(i, v));
  return { checked, bootAggregates: bootAggregates(toHashAlg(quote.hashAlg), pcrs) };
}
