/**
 * @module payload/secure-dir: the secure directory `<keylime_dir>/secure` — a tmpfs of
 * `secure_size` when the agent runs as root (RK secure_mount.rs), else a private directory.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';

const run = promisify(execFile);

/** True when `dir` is a mount point listed in /proc/self/mountinfo. */
function isMounted(dir: string): boolean {
  try {
    const info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    return info.split('\n').some((line) => line.split(' ')[4] === dir);
  } catch {
    return false;
  }
}

/**
 * Prepares the secure directory. With `mountTmpfs` (the default outside tests) and root
 * privileges it mounts a tmpfs there; otherwise, or if mounting fails, it uses a 0700 directory.
 */
export async function prepareSecureDir(options: {
  readonly dir: string;
  readonly secureSize: string;
  readonly mountTmpfs: boolean;
  readonly logger: Logger;
}): Promise<void> {
  const { dir, logger } = options;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  if (!options.mountTmpfs) return;
  if (isMounted(dir)) {
    logger.info(`Using existing secure storage tmpfs mount ${dir}`);
    return;
  }
  if (process.geteuid?.() !== 0) {
    logger.warn(`Not running as root: ${dir} is a plain directory, not a tmpfs`);
    return;
  }
  try {
    await run(
      'mount',
      ['-t', 'tmpfs', '-o', `size=${options.secureSize},mode=0700`, 'tmpfs', dir],
      {
        timeout: 10_000,
      },
    );
    logger.info(`Mounted secure storage tmpfs on ${dir} (size ${options.secureSize})`);
  } catch (e) {
    logger.warn(`Could not mount a tmpfs on ${dir}, using a plain directory: ${errorMessage(e)}`);
  }
}
