/**
 * @module tools/swtpm/ima-writer: a stand-in for the kernel's IMA in tests — appends `ima-ng`
 * lines to an ASCII measurement list and extends PCR 10 of a (software) TPM to match, in every
 * bank asked for (template hash rules: spec/verifier.md §4.2).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { extendPcr } from '@keylime/tpm-device';
import type { Tpm } from '@keylime/tpm-device';

/** The PCR the kernel extends IMA measurements into. */
export const IMA_PCR = 10;

/** Hash names and TPM_ALG_IDs of the banks the writer can extend. */
export const IMA_BANKS = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d } as const;
export type ImaBank = keyof typeof IMA_BANKS;

export interface ImaMeasurement {
  /** File path (n-ng), e.g. `/usr/bin/bash` or `boot_aggregate`. */
  readonly path: string;
  /** File digest; default: SHA-256 of the path text (any stable value will do for tests). */
  readonly digest?: Uint8Array;
  /** Digest algorithm name written in d-ng; default `sha256`. */
  readonly digestAlg?: string;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** The ima-ng template data: d-ng (`u32le(len) alg ':' NUL digest`) ‖ n-ng (`u32le(len+1) name NUL`). */
export function imaNgTemplateData(m: ImaMeasurement): Buffer {
  const alg = m.digestAlg ?? 'sha256';
  const digest = Buffer.from(m.digest ?? createHash('sha256').update(m.path).digest());
  const dng = Buffer.concat([Buffer.from(`${alg}:`, 'ascii'), Buffer.from([0]), digest]);
  const name = Buffer.from(m.path, 'utf8');
  return Buffer.concat([u32le(dng.length), dng, u32le(name.length + 1), name, Buffer.from([0])]);
}

/** The ASCII line the kernel prints: `10 <sha1(template)> ima-ng <alg>:<hex> <path>`. */
export function imaNgLine(m: ImaMeasurement): string {
  const data = imaNgTemplateData(m);
  const alg = m.digestAlg ?? 'sha256';
  const digest = Buffer.from(m.digest ?? createHash('sha256').update(m.path).digest());
  const templateHash = createHash('sha1').update(data).digest('hex');
  return `${IMA_PCR} ${templateHash} ima-ng ${alg}:${digest.toString('hex')} ${m.path}\n`;
}

/**
 * Appends the measurements to `file` and extends PCR 10 in `banks` with the per-bank hash of each
 * entry's template data, in order — exactly what the kernel does for each measurement.
 */
export async function appendImaMeasurements(options: {
  readonly tpm: Tpm;
  readonly file: string;
  readonly measurements: readonly ImaMeasurement[];
  readonly banks?: readonly ImaBank[];
}): Promise<string[]> {
  const banks = options.banks ?? ['sha1', 'sha256'];
  const lines: string[] = [];
  for (const m of options.measurements) {
    const data = imaNgTemplateData(m);
    await extendPcr(
      options.tpm,
      IMA_PCR,
      banks.map((bank) => ({
        hashAlg: IMA_BANKS[bank],
        digest: createHash(bank).update(data).digest(),
      })),
    );
    const line = imaNgLine(m);
    fs.appendFileSync(options.file, line);
    lines.push(line);
  }
  return lines;
}
