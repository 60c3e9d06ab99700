/**
 * @module ima: plays the kernel's IMA for an agent on swtpm — appends ima-ng lines to the file the
 * agent serves as its measurement list and extends PCR 10 (SHA-256 bank) with tpm2-tools, computed
 * independently of @keylime/ima (spec/verifier.md §4.1, §4.2, §4.4).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** ima-ng template data: d-ng (`sha256:\0` + digest) then n-ng (path + NUL), each length-prefixed. */
export function imaNgTemplateData(digestHex: string, name: string): Buffer {
  const digest = Buffer.concat([Buffer.from('sha256:\0', 'ascii'), Buffer.from(digestHex, 'hex')]);
  const n = Buffer.from(`${name}\0`, 'utf8');
  return Buffer.concat([u32le(digest.length), digest, u32le(n.length), n]);
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Runs a tpm2-tools command against a swtpm TCTI. */
export async function tpm2(tcti: string, tool: string, args: readonly string[]): Promise<string> {
  const { stdout } = await run(`tpm2_${tool}`, ['-T', tcti, ...args], { timeout: 30_000 });
  return stdout;
}

/** The SHA-256 bank values of `pcrs`, as lowercase hex, read with tpm2_pcrread. */
export async function readPcrs(
  tcti: string,
  pcrs: readonly number[],
): Promise<Map<number, string>> {
  const out = await tpm2(tcti, 'pcrread', [`sha256:${pcrs.join(',')}`]);
  const values = new Map<number, string>();
  for (const m of out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]{64})/gm))
    values.set(Number(m[1]), (m[2] ?? '').toLowerCase());
  return values;
}

/** An IMA measurement list file for one "boot" of one swtpm. */
export class ImaLog {
  private count = 0;

  constructor(
    readonly file: string,
    private readonly tcti: string,
  ) {}

  get entries(): number {
    return this.count;
  }

  /**
   * Starts the list like a kernel after boot: the `boot_aggregate` entry, whose digest on a
   * non-SHA-1 bank is SHA-256 over PCRs 0–9 (§4.4).
   */
  async boot(): Promise<string> {
    fs.writeFileSync(this.file, '');
    this.count = 0;
    const pcrs = await readPcrs(this.tcti, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const aggregate = sha256Hex(
      Buffer.concat([...Array(10).keys()].map((i) => Buffer.from(pcrs.get(i) ?? '', 'hex'))),
    );
    await this.measure('boot_aggregate', aggregate);
    return aggregate;
  }

  /** Measures a file with these contents at `path` (what the kernel does when it is executed). */
  measureFile(path: string, contents: string): Promise<void> {
    return this.measure(path, sha256Hex(contents));
  }

  /**
   * Appends the line first and extends PCR 10 second, in the kernel's order, so a quote taken in
   * between sees a list ahead of the PCR (which verifiers accept), never the reverse.
   */
  async measure(name: string, digestHex: string): Promise<void> {
    const data = imaNgTemplateData(digestHex, name);
    const sha1 = createHash('sha1').update(data).digest('hex');
    fs.appendFileSync(this.file, `10 ${sha1} ima-ng sha256:${digestHex} ${name}\n`);
    this.count++;
    await tpm2(this.tcti, 'pcrextend', [`10:sha256=${sha256Hex(data)}`]);
  }
}
