/**
 * @module clock: the time source of the attestation scheduler — the system clock in service, a
 * manual clock in tests so schedules can be checked without waiting.
 */

export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds (monotonic for the system clock). */
  now(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Node timers and performance.now(). */
export function systemClock(): Clock {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 1;
  return {
    now: () => performance.now(),
    setTimer: (fn, delayMs) => {
      const id = next++;
      const t = setTimeout(
        () => {
          timers.delete(id);
          fn();
        },
        Math.max(0, delayMs),
      );
      timers.set(id, t);
      return { id };
    },
    clearTimer: (h) => {
      const t = timers.get(h.id);
      if (t) clearTimeout(t);
      timers.delete(h.id);
    },
  };
}

/** A clock that only moves when told to; `advance` fires due timers in time order. */
export class ManualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle.id);
  }

  /** Number of armed timers. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let dueId: number | undefined;
      let dueAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= end && (t.at < dueAt || (t.at === dueAt && id < (dueId ?? Infinity)))) {
          dueAt = t.at;
          dueId = id;
        }
      }
      if (dueId === undefined) break;
      const t = this.timers.get(dueId);
      this.timers.delete(dueId);
      this.time = dueAt;
      t?.fn();
    }
    this.time = end;
  }
}
