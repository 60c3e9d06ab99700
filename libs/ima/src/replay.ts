/**
 * @module replay: policy-free PCR 10 replay of a measurement list in one or more banks (spec
 * verifier.md §4.2, §4.3), and the boot_aggregate helpers of §4.4.
 */
import { isHex, parseLineInto, TEMPLATE_HASH_NOT_HEX } from './entry';
import { digest, digestSize, ffDigest, hashWith, nodeHashName, zeroDigest } from './hash-alg';
import type { HashAlg } from './hash-alg';
import { TemplateEncoder } from './template-encoder';

export interface ReplayResult {
  /** PCR 10 per requested bank after the last parsable line, hex. */
  readonly pcr10: Readonly<Partial<Record<HashAlg, string>>>;
  /** Non-blank lines. */
  readonly entries: number;
  /** Lines that did not parse (1-based line numbers and reasons); they are not extended. */
  readonly errors: readonly { readonly line: number; readonly reason: string }[];
}

/**
 * Replays `text` from `start` (zero PCRs by default) in every bank of `banks`. Template hashes are
 * not checked here; `logHashAlg` only decides what counts as a violation entry.
 */
export function replayMeasurementList(
  text: string,
  banks: readonly HashAlg[],
  options: { logHashAlg?: HashAlg; start?: Readonly<Partial<Record<HashAlg, string>>> } = {},
): ReplayResult {
  const logSize = digestSize(options.logHashAlg ?? 'sha1');
  const state = banks.map((bank) => ({
    bank,
    node: nodeHashName(bank),
    ff: ffDigest(bank),
    pcr: options.start?.[bank] === undefined ? zeroDigest(bank) : Buffer.from(options.start[bank], 'hex'),
  }));
  const enc = new TemplateEncoder();
  const errors: { line: number; reason: string }[] = [];
  let entries = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') continue;
    entries++;
    const parsed = parseLineInto(line, enc);
    if ('error' in parsed) {
      errors.push({ line: i + 1, reason: parsed.error });
      continue;
    }
    const th = parsed.entry.templateHashHex;
    if (!isHex(th)) {
      errors.push({ line: i + 1, reason: TEMPLATE_HASH_NOT_HEX });
      continue;
    }
    const violation = th === '00'.repeat(logSize);
    for (const b of state) {
      const value = violation ? b.ff : hashWith(b.node, enc.data());
      b.pcr = hashWith(b.node, Buffer.concat([b.pcr, value]));
    }
  }
  const pcr10: Partial<Record<HashAlg, string>> = {};
  for (const b of state) pcr10[b.bank] = b.pcr.toString('hex');
  return { pcr10, entries, errors };
}

/**
 * boot_aggregate candidates from PCR values of one bank (§4.4): H(PCR0‖…‖PCR7) and, when PCRs 8
 * and 9 are known, H(PCR0‖…‖PCR9). Missing PCRs among 0-7 give no value.
 */
export function bootAggregates(bank: HashAlg, pcrs: ReadonlyMap<number, Uint8Array>): string[] {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const v = pcrs.get(i);
    if (v === undefined) return [];
    parts.push(v);
  }
  const out = [digest(bank, Buffer.concat(parts)).toString('hex')];
  const p8 = pcrs.get(8);
  const p9 = pcrs.get(9);
  if (p8 !== undefined && p9 !== undefined) out.push(digest(bank, Buffer.concat([...parts, p8, p9])).toString('hex'));
  return out;
}
