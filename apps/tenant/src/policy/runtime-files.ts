/**
 * @module policy/runtime-files: digests of the files under a root filesystem for `create
 * runtime --rootfs` (upstream `path_digests`, `get_rootfs_digests`): regular files owned by
 * root, symlinks skipped, pseudo file systems and other mounts excluded.
 */
import * as crypto from 'node:crypto';
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { digestSize, HASH_ALGS } from '@keylime/ima';
import type { HashAlg } from '@keylime/ima';

const BASE_EXCLUDE_DIRS = ['/sys', '/run', '/proc', '/lost+found', '/dev', '/media', '/snap', '/mnt', '/var', '/tmp'];

/** Algorithm by hex length, first match in upstream's order; `expected` checks a named one. */
export function guessAlgFromHex(hex: string, expected?: HashAlg): string {
  if (expected !== undefined) return hex.length === digestSize(expected) * 2 ? expected : 'invalid';
  return HASH_ALGS.find((a) => hex.length === digestSize(a) * 2) ?? 'invalid';
}

function fileDigest(file: string, alg: HashAlg): string {
  const h = crypto.createHash(alg === 'sm3_256' ? 'sm3' : alg);
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Mount points whose file system type differs from the root's (upstream `exclude_dirs_based_on_rootfs`). */
function otherMounts(already: readonly string[]): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  const mounts = text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .map(([, mp, type]) => ({ mp: (mp ?? '').replace(/\\040/g, ' '), type: type ?? '' }));
  const root = mounts.find((m) => m.mp === '/')?.type;
  return mounts.filter((m) => m.type !== root && !already.some((d) => m.mp.startsWith(d))).map((m) => m.mp);
}

function walk(dir: string, prefix: string, exclude: ReadonlySet<string>, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isFile()) {
      try {
        if (lstatSync(full).uid !== 0) continue;
      } catch {
        continue;
      }
      out.push(full);
    } else if (e.isDirectory()) {
      const rel = prefix !== '/' && full.startsWith(prefix) ? full.slice(prefix.length) : full;
      if (!exclude.has(rel)) walk(full, prefix, exclude, out);
    }
  }
}

/** path (prefix removed, spaces → '_') → [digest]. */
export function fileDigests(rootfs: string, skipPath: string, alg: HashAlg, debug: (m: string) => void): Map<string, string[]> {
  const abs = path.resolve(rootfs);
  const out = new Map<string, string[]>();
  if (!statSync(abs, { throwIfNoEntry: false })?.isDirectory()) {
    process.stderr.write(`ERROR: Invalid path, ${abs} is not a directory\n`);
    return out;
  }
  const exclude: string[] = [];
  for (const d of skipPath.split(',').filter(Boolean)) {
    const absD = path.resolve(d);
    if (abs === absD || abs.startsWith(`${absD}/`)) {
      debug(`The rootfs ${abs} is excluded because it matches or is within ${absD}`);
      return out;
    }
    if (abs === '/') exclude.push(absD);
    else if (absD.startsWith(`${abs}/`)) exclude.push(absD.slice(abs.length));
    else process.stderr.write(`WARNING: Ignoring directory '${d}' that should be skipped, but it is not under '${rootfs}'\n`);
  }
  exclude.push(...BASE_EXCLUDE_DIRS);
  exclude.push(...otherMounts(exclude));
  const files: string[] = [];
  walk(abs, abs, new Set(exclude), files);
  debug(`obtained ${files.length} paths`);
  for (const f of files) {
    let key = abs !== '/' ? f.slice(abs.length) : f;
    key = key.replace(/ /g, '_');
    try {
      const d = fileDigest(f, alg);
      out.set(key, [...(out.get(key) ?? []), d]);
    } catch {
      debug(`Failed to calculate a digest of ${f}`);
    }
  }
  return out;
}
