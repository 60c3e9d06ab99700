/**
 * @module ima-log: a simulated IMA measurement list (ima-ng, SHA-256 file digests) with the PCR 10
 * value the kernel would have extended, computed independently of @keylime/ima (verifier §4.2).
 */
import { createHash } from 'node:crypto';

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** ima-ng template data: d-ng then n-ng (verifier §4.2). */
export function imaNgTemplateData(digestHex: string, path: string): Buffer {
  const digest = Buffer.from(digestHex, 'hex');
  const alg = Buffer.from('sha256:\0', 'ascii');
  const name = Buffer.from(`${path}\0`, 'utf8');
  return Buffer.concat([u32le(alg.length + digest.length), alg, digest, u32le(name.length), name]);
}

/** An ima-ng list and the SHA-256 bank PCR 10 it produces. */
export class SimulatedImaLog {
  readonly lines: string[] = [];
  private pcr10 = Buffer.alloc(32);

  /** Appends an entry: the ASCII line and the PCR 10 extend (SHA-1 template hash column). */
  append(path: string, digestHex: string): void {
    const data = imaNgTemplateData(digestHex, path);
    const sha1 = createHash('sha1').update(data).digest('hex');
    this.lines.push(`10 ${sha1} ima-ng sha256:${digestHex} ${path}`);
    const h = createHash('sha256').update(data).digest();
    this.pcr10 = createHash('sha256').update(this.pcr10).update(h).digest();
  }

  get pcr10Value(): Buffer {
    return this.pcr10;
  }

  /** The list from entry `start` as the Rust agent serves it (agent-registrar-tenant §4.2). */
  slice(start: number): { text: string; entry: number } {
    if (start > this.lines.length) return { text: this.text(0), entry: 0 };
    return { text: this.text(start), entry: start };
  }

  private text(start: number): string {
    const rest = this.lines.slice(start);
    return rest.length === 0 ? '' : `${rest.join('\n')}\n`;
  }
}

/** A deterministic SHA-256 "file digest" for simulated files. */
export function fileDigest(path: string, version = 0): string {
  return createHash('sha256').update(`${path}#${version}`).digest('hex');
}
