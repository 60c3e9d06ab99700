/**
 * @module tls-files: reads and writes the PEM files of a TLS directory (upstream's `cv_ca/`
 * layout, spec/agent-registrar-tenant.md §6.1) with clear errors and safe permissions.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KeylimeError } from '@keylime/core';

export const TlsFileErrorCode = {
  Unreadable: 'KL_SERVER_TLS_FILE_UNREADABLE',
  NotPem: 'KL_SERVER_TLS_FILE_NOT_PEM',
} as const;

/** Reads a PEM file; the error names the file and what it was meant to hold. */
export function readPemFile(file: string, what: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const reason =
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot read file';
    throw new KeylimeError(TlsFileErrorCode.Unreadable, `${file}: ${reason} (${what})`, {
      cause: e,
    });
  }
  if (!text.includes('-----BEGIN ')) {
    throw new KeylimeError(TlsFileErrorCode.NotPem, `${file}: not a PEM file (${what})`);
  }
  return text;
}

/** Names of files that hold private material: written 0600. */
function isSecretFile(name: string): boolean {
  return name.includes('private') || name.endsWith('.yml') || name.endsWith('-key.pem');
}

/**
 * Writes `files` into `dir` (created 0700 if missing). Each file is written to a temporary name
 * and renamed, so a crash never leaves a half-written key. Existing files are replaced.
 */
export function writeTlsDirectory(
  dir: string,
  files: ReadonlyMap<string, string | Uint8Array>,
): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const [name, contents] of files) {
    if (name.includes('/') || name.startsWith('.')) {
      throw new KeylimeError(
        'KL_SERVER_TLS_FILE_NAME',
        `refusing to write TLS file with name "${name}"`,
      );
    }
    const target = path.join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, contents, { mode: isSecretFile(name) ? 0o600 : 0o644 });
    fs.renameSync(tmp, target);
  }
}
