/**
 * @module scheduler: one timer for all agents. Due times live in a binary min-heap (O(log n) per
 * schedule, one armed timer for the earliest), due work runs under a concurrency bound, and a key
 * never runs twice at once. 10 000 agents cost 10 000 heap entries, not 10 000 timers or threads
 * (design: "a verifier is one event loop"; verifier §7.2 replaced by a single loop).
 */
import type { Clock, TimerHandle } from './clock';

interface Entry {
  readonly due: number;
  readonly seq: number;
  readonly key: string;
}

export interface SchedulerOptions {
  readonly clock: Clock;
  /** Most tasks running at once (requests in flight to agents). */
  readonly concurrency: number;
  /** The work for one key; its promise settling frees the slot. */
  readonly run: (key: string) => Promise<void>;
  /** Called when `run` rejects (the loop itself never stops). */
  readonly onError?: (key: string, error: unknown) => void;
}

/** Min-heap by (due, seq). */
class EntryHeap {
  private readonly a: Entry[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Entry | undefined {
    return this.a[0];
  }

  push(e: Entry): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i] as Entry, a[p] as Entry)) break;
      [a[i], a[p]] = [a[p] as Entry, a[i] as Entry];
      i = p;
    }
  }

  pop(): Entry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l] as Entry, a[m] as Entry)) m = l;
        if (r < a.length && less(a[r] as Entry, a[m] as Entry)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Entry, a[i] as Entry];
        i = m;
      }
    }
    return top;
  }
}

function less(x: Entry, y: Entry): boolean {
  return x.due < y.due || (x.due === y.due && x.seq < y.seq);
}

/** Schedules keyed tasks on one clock with bounded concurrency. */
export class Scheduler {
  private readonly heap = new EntryHeap();
  /** key → seq of its live heap entry (older entries are skipped lazily). */
  private readonly live = new Map<string, number>();
  private readonly ready: string[] = [];
  private readonly readySet = new Set<string>();
  private readonly runningKeys = new Set<string>();
  /** Keys that fell due while running: run again once the current run ends. */
  private readonly rerun = new Set<string>();
  private seq = 0;
  private timer: TimerHandle | undefined;
  private timerDue = Infinity;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: SchedulerOptions) {}

  /** Runs `key` after `delayMs`, replacing any earlier schedule of it. */
  schedule(key: string, delayMs: number): void {
    if (this.stopped) return;
    this.cancel(key);
    const seq = ++this.seq;
    const due = this.options.clock.now() + Math.max(0, delayMs);
    this.live.set(key, seq);
    this.heap.push({ due, seq, key });
    if (due < this.timerDue) this.arm();
  }

  /** Forgets a pending schedule of `key` (a running task finishes normally). */
  cancel(key: string): void {
    this.live.delete(key);
    this.rerun.delete(key);
    if (this.readySet.delete(key)) {
      const i = this.ready.indexOf(key);
      if (i >= 0) this.ready.splice(i, 1);
    }
  }

  isScheduled(key: string): boolean {
    return this.live.has(key) || this.readySet.has(key);
  }

  isRunning(key: string): boolean {
    return this.runningKeys.has(key);
  }

  get running(): number {
    return this.runningKeys.size;
  }

  /** Tasks due but waiting for a free slot. */
  get waiting(): number {
    return this.ready.length;
  }

  get scheduled(): number {
    return this.live.size;
  }

  /** The scheduler's clock, in milliseconds. */
  now(): number {
    return this.options.clock.now();
  }

  /** Stops scheduling; resolves when running tasks have finished (or after `timeoutMs`). */
  async stop(timeoutMs = Infinity): Promise<void> {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.live.clear();
    this.ready.length = 0;
    this.readySet.clear();
    this.rerun.clear();
    if (this.runningKeys.size === 0) return;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      if (timeoutMs !== Infinity) setTimeout(resolve, timeoutMs).unref();
    });
  }

  private arm(): void {
    const clock = this.options.clock;
    if (this.timer) clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
    // Drop cancelled or replaced entries from the top so the timer is armed for live work.
    for (
      let top = this.heap.peek();
      top && this.live.get(top.key) !== top.seq;
      top = this.heap.peek()
    ) {
      this.heap.pop();
    }
    const top = this.heap.peek();
    if (!top || this.stopped) return;
    this.timerDue = top.due;
    this.timer = clock.setTimer(() => this.fire(), top.due - clock.now());
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = this.options.clock.now();
    for (let top = this.heap.peek(); top && top.due <= now; top = this.heap.peek()) {
      this.heap.pop();
      if (this.live.get(top.key) !== top.seq) continue;
      this.live.delete(top.key);
      if (this.runningKeys.has(top.key)) this.rerun.add(top.key);
      else if (!this.readySet.has(top.key)) {
        this.ready.push(top.key);
        this.readySet.add(top.key);
      }
    }
    this.pump();
    this.arm();
  }

  private pump(): void {
    while (this.runningKeys.size < this.options.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      this.readySet.delete(key);
      this.start(key);
    }
  }

  private start(key: string): void {
    this.runningKeys.add(key);
    let p: Promise<void>;
    try {
      p = this.options.run(key);
    } catch (e) {
      p = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    // One reaction, not catch() + finally(): fewer objects held per request in flight.
    const settled = (): void => this.finished(key);
    p.then(settled, (e: unknown) => {
      try {
        this.options.onError?.(key, e);
      } finally {
        settled();
      }
    });
  }

  private finished(key: string): void {
    this.runningKeys.delete(key);
    if (this.rerun.delete(key) && !this.stopped) {
      this.ready.push(key);
      this.readySet.add(key);
    }
    if (this.stopped && this.runningKeys.size === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    this.pump();
  }
}
