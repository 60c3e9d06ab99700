/**
 * @module testing/generate-log: builds large synthetic ima-ng measurement lists with an
 * independent (naive) template encoder, for tests and benchmarks. Not part of the public API.
 */
import * as crypto from 'node:crypto';

export interface GeneratedLog {
  readonly lines: string[];
  /** path → sha256 file digest hex */
  readonly digests: Map<string, string>;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Template data of an ima-ng entry, written the obvious way (spec verifier.md §4.2). */
export function imaNgTemplateData(alg: string, digestHex: string, name: string): Buffer {
  const d = Buffer.from(digestHex, 'hex');
  const n = Buffer.from(name, 'utf8');
  return Buffer.concat([
    u32le(alg.length + 2 + d.length),
    Buffer.from(alg),
    Buffer.from([0x3a, 0]),
    d,
    u32le(n.length + 1),
    n,
    Buffer.from([0]),
  ]);
}

/** One ima-ng line with a correct SHA-1 template hash. */
export function imaNgLine(alg: string, digestHex: string, name: string): string {
  const th = crypto.createHash('sha1').update(imaNgTemplateData(alg, digestHex, name)).digest('hex');
  return `10 ${th} ima-ng ${alg}:${digestHex} ${name}`;
}

/** `count` entries: boot_aggregate then files /usr/lib/f<i>, deterministic digests. */
export function generateLog(count: number, seed = 'keylime'): GeneratedLog {
  const lines: string[] = [];
  const digests = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const name = i === 0 ? 'boot_aggregate' : `/usr/lib/f${i}`;
    const hex = crypto.createHash('sha256').update(`${seed}:${i}`).digest('hex');
    digests.set(name, hex);
    lines.push(imaNgLine('sha256', hex, name));
  }
  return { lines, digests };
}

/** PCR 10 after `lines` in `bank` ("sha1" | "sha256"), computed naively. */
export function naivePcr10(lines: readonly string[], bank: 'sha1' | 'sha256', start?: Buffer): Buffer {
  let pcr = start ?? Buffer.alloc(bank === 'sha1' ? 20 : 32);
  for (const line of lines) {
    const [, , , digestField, name] = line.split(' ') as [string, string, string, string, string];
    const [alg, hex] = digestField.split(':') as [string, string];
    const value = crypto.createHash(bank).update(imaNgTemplateData(alg, hex, name)).digest();
    pcr = crypto.createHash(bank).update(Buffer.concat([pcr, value])).digest();
  }
  return pcr;
}
