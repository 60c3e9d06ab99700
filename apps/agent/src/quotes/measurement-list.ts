/**
 * @module quotes/measurement-list: the IMA ASCII log from line `ima_ml_entry` on, as RK's
 * MeasurementList does: remembered (line count, byte offset) marks avoid rescanning the whole
 * log on every quote; an entry beyond the end returns the whole log from entry 0 (spec §4.2).
 */
import fs from 'node:fs/promises';

export interface MeasurementSlice {
  /** Lines `entry…end`, each with its newline. */
  readonly text: string;
  /** Index of the first returned line. */
  readonly entry: number;
  /** Lines in the log at the time of reading. */
  readonly total: number;
}

interface Mark {
  readonly entries: number;
  readonly offset: number;
}

const MAX_MARKS = 32;
const NEWLINE = 0x0a;

export class MeasurementList {
  private marks: Mark[] = [];

  constructor(private readonly file: string) {}

  /** The slice for `nth`, or undefined when the log file cannot be read (no IMA). */
  async read(nth: number): Promise<MeasurementSlice | undefined> {
    const first = await this.readFrom(nth);
    if (first !== 'beyond') return first;
    const whole = await this.readFrom(0);
    return whole === 'beyond' ? undefined : whole;
  }

  private async readFrom(nth: number): Promise<MeasurementSlice | 'beyond' | undefined> {
    // The best mark strictly before nth (the log only grows, so its prefix never changes).
    const start = this.marks.reduce<Mark>(
      (best, m) => (m.entries > best.entries && m.entries < nth ? m : best),
      { entries: 0, offset: 0 },
    );
    let data: Buffer;
    try {
      data = await readTail(this.file, start.offset);
    } catch {
      return undefined;
    }
    let entries = start.entries;
    let offset = 0;
    let sliceAt: number | undefined;
    for (;;) {
      if (entries === nth) sliceAt = offset;
      const i = data.indexOf(NEWLINE, offset);
      if (i < 0) break;
      offset = i + 1;
      entries += 1;
    }
    this.remember({ entries, offset: start.offset + offset });
    if (sliceAt === undefined) return 'beyond';
    return { text: data.subarray(sliceAt).toString('utf8'), entry: nth, total: entries };
  }

  private remember(mark: Mark): void {
    if (this.marks.some((m) => m.entries === mark.entries && m.offset === mark.offset)) return;
    this.marks.push(mark);
    if (this.marks.length > MAX_MARKS) this.marks.shift();
  }

  /** Forgets the marks (the log was replaced, e.g. after a reboot in tests). */
  reset(): void {
    this.marks = [];
  }
}

/** Reads `file` from byte `offset` to its end (securityfs files report size 0, so read until EOF). */
async function readTail(file: string, offset: number): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let position = offset;
    for (;;) {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return Buffer.concat(chunks);
  } finally {
    await handle.close();
  }
}
