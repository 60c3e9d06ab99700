/** @module serial-queue: runs async jobs one at a time, in submission order (one writer per database). */

/** A FIFO of async jobs; each starts after the previous one settled. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    // Keep the chain alive whatever the job does; the caller sees the real outcome.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when every job submitted so far has settled. */
  idle(): Promise<void> {
    return this.tail.then(
      () => undefined,
      () => undefined,
    );
  }
}
