/**
 * @module payload/zip: safe extraction of a payload zip. The whole central directory is checked
 * first (names, types, counts, declared sizes); only a zip that passes is written, with every byte
 * counted again while it is inflated. Nothing outside the target directory can be touched.
 */
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';

export interface ZipLimits {
  readonly maxEntries: number;
  /** Largest uncompressed entry. */
  readonly maxEntryBytes: number;
  /** Largest sum of uncompressed sizes. */
  readonly maxTotalBytes: number;
  /** Top-level names the archive must not contain (files the agent writes itself). */
  readonly reservedNames?: readonly string[];
}

/** A zip that is refused; the message says why and never contains file data. */
export class ZipRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipRejectedError';
  }
}

/** One checked entry. */
export interface ZipEntryPlan {
  readonly name: string;
  readonly directory: boolean;
  readonly size: number;
  /** Owner permission bits from the archive (0 when absent). */
  readonly ownerMode: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const MADE_BY_UNIX = 3;

function reject(message: string): never {
  throw new ZipRejectedError(message);
}

/** Checks one entry's name and type; returns the plan for it. */
function planEntry(entry: Entry, limits: ZipLimits): ZipEntryPlan {
  const name = entry.fileName;
  const shown = JSON.stringify(name.slice(0, 100));
  if (entry.isEncrypted()) reject(`entry ${shown} is encrypted`);
  if (name.length === 0 || name.includes('\0') || name.includes('\\'))
    reject(`entry ${shown} has an invalid name`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name))
    reject(`entry ${shown} has an absolute path`);
  const parts = name.split('/');
  if (parts.some((p) => p === '..')) reject(`entry ${shown} leaves the target directory`);
  const directory = name.endsWith('/');
  if (parts.slice(0, directory ? -1 : undefined).some((p) => p === '' || p === '.'))
    reject(`entry ${shown} has an empty or "." path component`);
  if (!directory && parts.length === 1 && limits.reservedNames?.includes(name))
    reject(`entry ${shown} would overwrite a file written by the agent`);
  let ownerMode = 0;
  if (entry.versionMadeBy >> 8 === MADE_BY_UNIX) {
    const mode = entry.externalFileAttributes >>> 16;
    const type = mode & S_IFMT;
    if (type !== 0 && type !== S_IFREG && type !== S_IFDIR)
      reject(`entry ${shown} is a link or special file`);
    if ((type === S_IFDIR) !== directory && type !== 0)
      reject(`entry ${shown} has a confusing type`);
    ownerMode = mode & 0o700;
  }
  if (entry.uncompressedSize > limits.maxEntryBytes)
    reject(`entry ${shown} is larger than ${limits.maxEntryBytes} bytes`);
  if (directory && entry.uncompressedSize !== 0) reject(`directory entry ${shown} has data`);
  return { name, directory, size: entry.uncompressedSize, ownerMode };
}

const OPTIONS = {
  lazyEntries: true,
  decodeStrings: true,
  validateEntrySizes: true,
  strictFileNames: true,
} as const;

/** Visits every entry in order; `visit` may be async. Closes the zip in all cases. */
async function forEachEntry(
  data: Buffer,
  visit: (entry: Entry, zip: ZipFile) => Promise<void> | void,
): Promise<void> {
  let zip: ZipFile;
  try {
    zip = await yauzl.fromBufferPromise(data, OPTIONS);
  } catch (e) {
    return reject(`not a valid zip archive: ${(e as Error).message}`);
  }
  try {
    await new Promise<void>((resolve, fail) => {
      zip.on('error', (e: Error) =>
        fail(
          e instanceof ZipRejectedError
            ? e
            : new ZipRejectedError(`invalid zip archive: ${e.message}`),
        ),
      );
      zip.on('end', () => resolve());
      zip.on('entry', (entry: Entry) => {
        Promise.resolve()
          .then(() => visit(entry, zip))
          .then(
            () => zip.readEntry(),
            (e: unknown) => fail(e instanceof Error ? e : new ZipRejectedError(String(e))),
          );
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/** Checks the whole archive without writing anything; throws ZipRejectedError. */
export async function planZip(data: Buffer, limits: ZipLimits): Promise<readonly ZipEntryPlan[]> {
  const plans: ZipEntryPlan[] = [];
  const seen = new Set<string>();
  let total = 0;
  await forEachEntry(data, (entry) => {
    if (plans.length >= limits.maxEntries)
      reject(`archive has more than ${limits.maxEntries} entries`);
    const plan = planEntry(entry, limits);
    const key = plan.name.replace(/\/$/, '');
    if (seen.has(key)) reject(`entry ${JSON.stringify(key.slice(0, 100))} appears twice`);
    seen.add(key);
    total += plan.size;
    if (total > limits.maxTotalBytes)
      reject(`archive expands to more than ${limits.maxTotalBytes} bytes`);
    plans.push(plan);
  });
  return plans;
}

/** Counts bytes through a stream and fails past `limit` (yauzl also checks the declared size). */
function byteLimit(limit: number, name: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > limit)
        done(new ZipRejectedError(`entry ${JSON.stringify(name)} is larger than declared`));
      else done(null, chunk);
    },
  });
}

/**
 * Extracts a checked archive into `dir` (which must exist and be ours). Files are created
 * exclusively and never through a symbolic link. Returns the extracted names.
 */
export async function extractZip(
  data: Buffer,
  dir: string,
  limits: ZipLimits,
): Promise<readonly string[]> {
  const plans = await planZip(data, limits);
  const root = path.resolve(dir);
  const byName = new Map(plans.map((p) => [p.name, p]));
  const written: string[] = [];
  await forEachEntry(data, async (entry, zip) => {
    const plan = byName.get(entry.fileName);
    if (plan === undefined) reject('archive changed while extracting');
    const target = path.resolve(root, plan.name);
    if (target !== root && !target.startsWith(root + path.sep))
      reject('entry leaves the target directory');
    if (plan.directory) {
      await fs.mkdir(target, { recursive: true, mode: 0o700 });
      return;
    }
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const mode = plan.ownerMode === 0 ? 0o600 : plan.ownerMode | 0o600;
    const handle = await fs.open(
      target,
      fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
      mode,
    );
    try {
      const stream = await zip.openReadStreamPromise(entry);
      await pipeline(stream, byteLimit(plan.size, plan.name), handle.createWriteStream());
    } finally {
      await handle.close().catch(() => undefined);
    }
    written.push(plan.name);
  });
  return written;
}
