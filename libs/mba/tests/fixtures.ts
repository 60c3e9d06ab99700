/** @module fixtures: loads this lib's test-data for spec files (the lib itself does no I/O). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(__dirname, '..', 'test-data');

export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DIR, name)));
}

export function fixtureText(name: string): string {
  return readFileSync(join(DIR, name), 'utf8');
}

/** The base64 log of upstream issue #1153 (test/data/mb_log.b64), decoded. */
export function mbLog(): Uint8Array {
  return new Uint8Array(Buffer.from(fixtureText('mb_log.b64').replace(/\s+/g, ''), 'base64'));
}

export const LOGS = {
  secureboot: 'binary_bios_measurements-secureboot',
  noSecureboot: 'binary_bios_measurements',
  rustKeylime: 'rust-keylime-uefi_log.bin',
  pushModel: 'rust-keylime-push-model-uefi_log.bin',
} as const;
