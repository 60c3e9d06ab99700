/**
 * @module failure: attestation failures as values, scored the way upstream's `keylime/failure.py`
 * does (verifier §6.1): each event gets a severity label from `severity_policy` (first full-match
 * rule wins, no match → highest label), an irrecoverable event is forced to the highest label, and
 * the failure reports its highest level and the first event that reached it.
 */
import type { SeverityRule } from '@keylime/config';

/** One event: upstream id (including the `qoute_validation` spelling), JSON context, recoverability. */
export interface AttestationEvent {
  readonly id: string;
  readonly context: Readonly<Record<string, unknown>>;
  readonly recoverable: boolean;
}

export interface ScoredFailure {
  readonly events: readonly AttestationEvent[];
  readonly recoverable: boolean;
  /** Index into severity_labels. */
  readonly level: number;
  readonly label: string;
  /** First event that reached `level` (upstream `highest_severity_event`). */
  readonly event: AttestationEvent;
  /** True when `level` is the highest label: polling stops (verifier §2.2). */
  readonly atMaximum: boolean;
}

/** Compiled severity configuration. */
export class SeverityPolicy {
  private readonly rules: readonly { re: RegExp; level: number }[];
  private readonly cache = new Map<string, number>();

  constructor(
    readonly labels: readonly string[],
    rules: readonly SeverityRule[],
  ) {
    this.rules = rules.map((r) => ({
      // Python re.fullmatch; the config loader checked the labels exist.
      re: new RegExp(`^(?:${r.eventId})$`),
      level: Math.max(0, labels.indexOf(r.severityLabel)),
    }));
  }

  get maxLevel(): number {
    return this.labels.length - 1;
  }

  levelOf(eventId: string): number {
    let level = this.cache.get(eventId);
    if (level === undefined) {
      level = this.rules.find((r) => r.re.test(eventId))?.level ?? this.maxLevel;
      this.cache.set(eventId, level);
    }
    return level;
  }

  /** Scores a non-empty event list. */
  score(events: readonly AttestationEvent[]): ScoredFailure {
    let best = -1;
    let bestEvent = events[0] as AttestationEvent;
    let recoverable = true;
    for (const e of events) {
      if (!e.recoverable) recoverable = false;
      const level = e.recoverable ? this.levelOf(e.id) : this.maxLevel;
      if (level > best) {
        best = level;
        bestEvent = e;
      }
    }
    return {
      events,
      recoverable,
      level: best,
      label: this.labels[best] ?? '',
      event: bestEvent,
      atMaximum: best >= this.maxLevel,
    };
  }
}

export function event(
  id: string,
  context: string | Readonly<Record<string, unknown>>,
  recoverable: boolean,
): AttestationEvent {
  return { id, context: typeof context === 'string' ? { message: context } : context, recoverable };
}

/** Event ids the verifier itself produces (verifier §6.2). */
export const VerifierEventId = {
  NotReachable: 'internal.verifier.not_reachable',
  NotReachableV: 'internal.verifier.not_reachable_v',
  NoQuote: 'internal.verifier.no_quote',
  NoV: 'internal.verifier.no_v',
  Exception: 'internal.verifier.exception',
  VersionNotSupported: 'internal.verifier.version_not_supported',
} as const;
