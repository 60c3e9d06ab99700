/**
 * @module failure: attestation events and failures as values, modelled on upstream
 * `keylime/failure.py` (spec verifier.md §6.1, §6.2). Severity labels are assigned by the
 * verifier's `severity_policy`, not here.
 */

/** Event ids this lib produces, byte-identical to upstream (including `qoute_validation`). */
export const ImaEventId = {
  ParserEntry: 'ima.parser.entry',
  PcrMismatch: 'ima.pcr_mismatch',
  QuoteProgress: 'ima.quote_progress',
  ImaPcr: 'ima.validation.ima_pcr',
  ImaHash: 'ima.validation.ima_hash',
  Tomtou: 'ima.validation.tomtou',
  NoValidator: 'ima.validation.no_validator',
  NotInAllowlist: 'ima.validation.ima-ng.not_in_allowlist',
  RuntimePolicyHash: 'ima.validation.ima-ng.runtime_policy_hash',
  /** Upstream spells this one `validator`, not `validation` (§4.6). */
  InvalidSignature: 'ima.validator.ima-sig.invalid_signature',
  InvalidKey: 'ima.invalid_key',
  /** Upstream's component name keeps the `qoute` typo; operators match on it (§6.1). */
  InvalidImaEntryNb: 'qoute_validation.invalid_ima_entry_nb',
} as const;
export type ImaEventId = (typeof ImaEventId)[keyof typeof ImaEventId];

/** Structured context; a plain message becomes `{ message }` as upstream does. */
export type EventContext = Readonly<Record<string, unknown>>;

export interface AttestationEvent {
  readonly eventId: string;
  readonly context: EventContext;
  /** False when the check stopped early; upstream then forces the maximum severity. */
  readonly recoverable: boolean;
}

export interface AttestationFailure {
  readonly events: readonly AttestationEvent[];
  /** False as soon as one event is irrecoverable. */
  readonly recoverable: boolean;
}

/** Outcome of a verification: verdicts are values, never exceptions (style guide B6). */
export type VerificationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly failure: AttestationFailure; readonly value: T };

/** Makes an event; a string context becomes `{ message }`. */
export function makeEvent(
  eventId: string,
  context: string | EventContext,
  recoverable = true,
): AttestationEvent {
  return { eventId, context: typeof context === 'string' ? { message: context } : context, recoverable };
}

/** Collects events; the result is a failure iff at least one event was added. */
export class EventCollector {
  private readonly list: AttestationEvent[] = [];
  private allRecoverable = true;

  add(event: AttestationEvent): void {
    if (!event.recoverable) this.allRecoverable = false;
    this.list.push(event);
  }

  get size(): number {
    return this.list.length;
  }

  get events(): readonly AttestationEvent[] {
    return this.list;
  }

  toFailure(): AttestationFailure | undefined {
    if (this.list.length === 0) return undefined;
    return { events: this.list.slice(), recoverable: this.allRecoverable };
  }
}
