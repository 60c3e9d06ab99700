import { ManualClock } from './clock';
import { Scheduler } from './scheduler';

/** Lets pending promise callbacks run (tasks settle between clock steps). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('Scheduler with a controlled clock', () => {
  it('runs keys in due-time order, each when its time comes, with one armed timer', async () => {
    const clock = new ManualClock();
    const ran: [string, number][] = [];
    const s = new Scheduler({
      clock,
      concurrency: 10,
      run: (k) => {
        ran.push([k, clock.now()]);
        return Promise.resolve();
      },
    });
    s.schedule('c', 300);
    s.schedule('a', 100);
    s.schedule('b', 200);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(99);
    await settle();
    expect(ran).toEqual([]);
    clock.advance(1);
    await settle();
    expect(ran).toEqual([['a', 100]]);
    clock.advance(500);
    await settle();
    expect(ran).toEqual([
      ['a', 100],
      ['b', 200],
      ['c', 300],
    ]);
  });

  it('rescheduling replaces the earlier time; cancel forgets the key', async () => {
    const clock = new ManualClock();
    const ran: string[] = [];
    const s = new Scheduler({
      clock,
      concurrency: 10,
      run: (k) => {
        ran.push(k);
        return Promise.resolve();
      },
    });
    s.schedule('a', 100);
    s.schedule('a', 500);
    s.schedule('b', 200);
    s.cancel('b');
    clock.advance(400);
    await settle();
    expect(ran).toEqual([]);
    expect(s.isScheduled('a')).toBe(true);
    clock.advance(100);
    await settle();
    expect(ran).toEqual(['a']);
    expect(s.scheduled).toBe(0);
  });

  it('bounds concurrency: due work waits for a free slot, a hung task holds only its own slot', async () => {
    const clock = new ManualClock();
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const started: string[] = [];
    const s = new Scheduler({
      clock,
      concurrency: 2,
      run: (k) => {
        started.push(k);
        const d = deferred();
        gates.set(k, d);
        return d.promise;
      },
    });
    for (const k of ['hang', 'b', 'c', 'd']) s.schedule(k, 10);
    clock.advance(10);
    await settle();
    expect(started).toEqual(['hang', 'b']);
    expect(s.running).toBe(2);
    expect(s.waiting).toBe(2);
    gates.get('b')?.resolve();
    await settle();
    expect(started).toEqual(['hang', 'b', 'c']);
    gates.get('c')?.resolve();
    await settle();
    expect(started).toEqual(['hang', 'b', 'c', 'd']);
    expect(s.running).toBe(2);
  });

  it('never runs a key twice at once: a schedule that falls due while it runs waits for it', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    let runs = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const s = new Scheduler({
      clock,
      concurrency: 5,
      run: async () => {
        runs++;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        if (runs === 1) await gate.promise;
        concurrent--;
      },
    });
    s.schedule('a', 0);
    clock.advance(0);
    await settle();
    s.schedule('a', 10);
    clock.advance(10);
    await settle();
    expect(runs).toBe(1);
    gate.resolve();
    await settle();
    await settle();
    expect(runs).toBe(2);
    expect(maxConcurrent).toBe(1);
  });

  it('keeps going after a task throws or rejects', async () => {
    const clock = new ManualClock();
    const errors: string[] = [];
    const ran: string[] = [];
    const s = new Scheduler({
      clock,
      concurrency: 1,
      run: (k) => {
        ran.push(k);
        if (k === 'sync') throw new Error('boom');
        if (k === 'async') return Promise.reject(new Error('bang'));
        return Promise.resolve();
      },
      onError: (k) => errors.push(k),
    });
    s.schedule('sync', 1);
    s.schedule('async', 2);
    s.schedule('ok', 3);
    clock.advance(5);
    await settle();
    await settle();
    expect(ran).toEqual(['sync', 'async', 'ok']);
    expect(errors).toEqual(['sync', 'async']);
  });

  it('handles 10 000 keys with periodic rescheduling (one timer, heap order)', async () => {
    const clock = new ManualClock();
    const count = new Map<string, number>();
    const ref: { s?: Scheduler } = {};
    const s = new Scheduler({
      clock,
      concurrency: 100,
      run: (k) => {
        count.set(k, (count.get(k) ?? 0) + 1);
        ref.s?.schedule(k, 2000);
        return Promise.resolve();
      },
    });
    ref.s = s;
    for (let i = 0; i < 10_000; i++) s.schedule(`agent-${i}`, (i * 2000) / 10_000);
    for (let t = 0; t < 10; t++) {
      clock.advance(1000);
      for (let i = 0; i < 20; i++) await settle();
    }
    expect(count.size).toBe(10_000);
    const runs = [...count.values()];
    expect(Math.min(...runs)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...runs)).toBeLessThanOrEqual(6);
    expect(clock.pendingTimers).toBe(1);
  });

  it('stop() waits for running tasks and schedules nothing more', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const ran: string[] = [];
    const s = new Scheduler({
      clock,
      concurrency: 2,
      run: async (k) => {
        ran.push(k);
        await gate.promise;
      },
    });
    s.schedule('a', 0);
    s.schedule('b', 50);
    clock.advance(0);
    await settle();
    let stopped = false;
    const p = s.stop().then(() => (stopped = true));
    clock.advance(100);
    await settle();
    expect(stopped).toBe(false);
    gate.resolve();
    await p;
    expect(ran).toEqual(['a']);
    s.schedule('c', 0);
    expect(clock.pendingTimers).toBe(0);
  });
});
