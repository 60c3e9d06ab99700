/**
 * @module entry: strict parser for one `ascii_runtime_measurements` line and the exact template
 * data it stands for (spec verifier.md §4.1, §4.2; upstream `keylime/ima/ast.py`).
 */
import { TemplateEncoder } from './template-encoder';

/** Templates upstream can validate; anything else is a parser error (§4.1). */
export const ImaTemplate = {
  Ima: 'ima',
  ImaNg: 'ima-ng',
  ImaSig: 'ima-sig',
  ImaBuf: 'ima-buf',
} as const;
export type ImaTemplate = (typeof ImaTemplate)[keyof typeof ImaTemplate];

/** What the fast path parses; column 2 stays text and is checked against the computed hash. */
export interface RawImaEntry {
  /** Column 1 verbatim (checked against "10" during validation, not parsing). */
  readonly pcr: string;
  /** Column 2 verbatim: the template hash in hex as printed by the kernel (not yet validated). */
  readonly templateHashHex: string;
  readonly template: ImaTemplate;
  /** `sha256`, …; `sha1`/`md5` for a bare digest; any text before ':' otherwise. */
  readonly digestAlg: string;
  /** File (or buffer) digest, lower-case hex without algorithm prefix. */
  readonly digestHex: string;
  /** File path (`n`/`n-ng`) or buffer name for `ima-buf`. */
  readonly name: string;
  /** `ima-sig` signature when present and well-formed (signature_v2_hdr + body). */
  readonly signature: Buffer | undefined;
  /** `ima-buf` payload. */
  readonly buffer: Buffer | undefined;
}

/** One parsed measurement. */
export interface ImaEntry extends Omit<RawImaEntry, 'templateHashHex'> {
  /** Column 2: the template hash as printed by the kernel (log hash algorithm). */
  readonly templateHash: Buffer;
}

/** A parsed entry plus a copy of its template data. */
export interface ParsedImaEntry extends ImaEntry {
  readonly templateData: Buffer;
}

/** `n` of template `ima` is a fixed 256-byte field: name, NUL, zero padding. */
const LEGACY_NAME_FIELD = 256;
/** signature_v2_hdr: type u8, version u8, hash_algo u8, keyid u32, sig_size u16 (big-endian). */
const SIG_HEADER_LEN = 9;
const SHA1_LEN = 20;
const MD5_LEN = 16;

/** Result of the fast path: the entry, or the reason the line is not a valid entry. */
export type LineParse = { readonly entry: RawImaEntry } | { readonly error: string };

/**
 * Splits like Python `text.split(" ", maxsplit)`: single spaces, empty tokens kept, at most
 * `maxsplit + 1` tokens.
 */
export function splitSpaces(text: string, maxsplit: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (out.length < maxsplit) {
    const i = text.indexOf(' ', start);
    if (i < 0) break;
    out.push(text.slice(start, i));
    start = i + 1;
  }
  out.push(text.slice(start));
  return out;
}

/**
 * Parses one line (trailing "\n" already removed) and writes its template data into `enc`
 * (reset first). The template data stays in `enc` until its next reset.
 */
export function parseLineInto(line: string, enc: TemplateEncoder): LineParse {
  enc.reset();
  // Python `split(" ", 3)` done with indexOf: no token arrays on the hot path.
  const s1 = line.indexOf(' ');
  const s2 = s1 < 0 ? -1 : line.indexOf(' ', s1 + 1);
  const s3 = s2 < 0 ? -1 : line.indexOf(' ', s2 + 1);
  if (s3 < 0) return { error: `expected 4 fields, got ${s1 < 0 ? 1 : s2 < 0 ? 2 : 3}` };
  const pcr = line.slice(0, s1);
  // Column 2 is validated lazily (isHex) by callers, only when it differs from the computed hash.
  const templateHash = line.slice(s1 + 1, s2);
  const templateName = line.slice(s2 + 1, s3);
  // Plain comparisons: a Set lookup would hash this fresh string on every line.
  if (templateName !== 'ima-ng' && templateName !== 'ima-sig' && templateName !== 'ima-buf' && templateName !== 'ima') {
    return { error: `no parser for template '${templateName}'` };
  }
  const template: ImaTemplate = templateName;
  const wanted = template === 'ima' || template === 'ima-ng' ? 2 : 3;
  const d0 = s3 + 1;
  const f1 = line.indexOf(' ', d0);
  const f2 = f1 < 0 || wanted === 2 ? -1 : line.indexOf(' ', f1 + 1);
  const got = f1 < 0 ? 1 : wanted === 2 ? 2 : f2 < 0 ? 2 : 3;
  if (got !== wanted) return { error: `template ${template} expects ${wanted} fields, got ${got}` };
  const name = wanted === 2 ? line.slice(f1 + 1) : line.slice(f1 + 1, f2);
  const d = splitDigest(line, d0, f1);
  if (typeof d === 'string') return { error: d };

  if (template === 'ima') {
    // `d` is the raw digest, `n` a fixed 256-byte field (ast.py Digest/Name legacy=True).
    if (enc.hex(d.hex) < 0) return { error: 'digest is not valid hex' };
    const upper = enc.hexHadUpper;
    const n = enc.utf8(name);
    if (n > LEGACY_NAME_FIELD - 1) return { error: `name longer than ${LEGACY_NAME_FIELD - 1} bytes` };
    enc.zeros(LEGACY_NAME_FIELD - n);
    return { entry: build(pcr, templateHash, template, d, upper, name, undefined, undefined) };
  }

  const dErr = writeDigestNg(enc, d);
  if (dErr !== undefined) return { error: dErr };
  // Read before a later hex field (ima-buf) overwrites it.
  const upper = enc.hexHadUpper;
  writeNameNg(enc, name);

  if (template === 'ima-ng') {
    return { entry: build(pcr, templateHash, template, d, upper, name, undefined, undefined) };
  }
  const third = line.slice(f2 + 1);
  if (template === 'ima-sig') {
    // An absent or malformed signature is encoded as an empty field (ast.py ImaSig.bytes).
    const signature = parseSignature(third);
    if (signature === undefined) {
      enc.u32le(0);
    } else {
      enc.u32le(signature.length);
      enc.bytes(signature);
    }
    return { entry: build(pcr, templateHash, template, d, upper, name, signature, undefined) };
  }
  // ima-buf
  const lenAt = enc.mark();
  enc.u32le(0);
  const n = enc.hex(third);
  if (n < 0) return { error: 'buffer is not valid hex' };
  enc.patchU32le(lenAt, n);
  const buffer = enc.copy(lenAt + 4, lenAt + 4 + n);
  return { entry: build(pcr, templateHash, template, d, upper, name, undefined, buffer) };
}

/** Parses one line into an entry with its own copy of the template data, or an error reason. */
export function parseImaEntry(line: string): ParsedImaEntry | { readonly error: string } {
  const enc = new TemplateEncoder();
  const r = parseLineInto(line, enc);
  if ('error' in r) return r;
  const { templateHashHex, ...rest } = r.entry;
  const templateHash = decodeHex(templateHashHex);
  if (templateHash === undefined) return { error: TEMPLATE_HASH_NOT_HEX };
  return { ...rest, templateHash, templateData: Buffer.from(enc.data()) };
}

interface SplitDigest {
  readonly alg: string;
  readonly hex: string;
}

/** `<alg>:<hex>` or bare hex (20 bytes ⇒ sha1, 16 bytes ⇒ md5), as ast.py Digest; field = line[start, end). */
function splitDigest(line: string, start: number, end: number): SplitDigest | string {
  const c = line.indexOf(':', start);
  if (c >= 0 && c < end) {
    const c2 = line.indexOf(':', c + 1);
    if (c2 >= 0 && c2 < end) return 'digest has more than one ":"';
    const alg = line.slice(start, c);
    // The kernel's algorithm names are ASCII; upstream mis-encodes anything else.
    // The usual names skip the regex.
    if (alg !== 'sha256' && alg !== 'sha1' && !PRINTABLE_ASCII.test(alg)) return 'digest algorithm name is not printable ASCII';
    return { alg, hex: line.slice(c + 1, end) };
  }
  const field = line.slice(start, end);
  if (!isHex(field)) return 'digest is not valid hex';
  const n = field.length >>> 1;
  if (n === SHA1_LEN) return { alg: 'sha1', hex: field };
  if (n === MD5_LEN) return { alg: 'md5', hex: field };
  return 'digest without algorithm is neither md5 nor sha1';
}

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

/** d-ng: u32le(len(alg) + 2 + len(digest)), alg, ':', NUL, digest. */
function writeDigestNg(enc: TemplateEncoder, d: SplitDigest): string | undefined {
  const lenAt = enc.mark();
  enc.u32le(0);
  enc.utf8(d.alg);
  enc.byte(0x3a);
  enc.byte(0);
  const n = enc.hex(d.hex);
  if (n < 0) return 'digest is not valid hex';
  enc.patchU32le(lenAt, d.alg.length + 2 + n);
  return undefined;
}

/** n-ng: u32le(len(name) + 1), UTF-8 name, NUL. */
function writeNameNg(enc: TemplateEncoder, name: string): void {
  const lenAt = enc.mark();
  enc.u32le(0);
  const n = enc.utf8(name);
  enc.byte(0);
  enc.patchU32le(lenAt, n + 1);
}

/** A well-formed signature_v2_hdr + body, or undefined (upstream then ignores it). */
function parseSignature(hex: string): Buffer | undefined {
  const sig = decodeHex(hex);
  if (sig === undefined || sig.length < SIG_HEADER_LEN) return undefined;
  const size = sig.readUInt16BE(7);
  return SIG_HEADER_LEN + size === sig.length ? sig : undefined;
}

function build(
  pcr: string,
  templateHashHex: string,
  template: ImaTemplate,
  d: SplitDigest,
  /** `d.hex` has an upper-case digit (known from decoding it). */
  upper: boolean,
  name: string,
  signature: Buffer | undefined,
  buffer: Buffer | undefined,
): RawImaEntry {
  const digestHex = upper ? d.hex.toLowerCase() : d.hex;
  return { pcr, templateHashHex, template, digestAlg: d.alg, digestHex, name, signature, buffer };
}

/** Parser error reason for a column 2 that is not hex. */
export const TEMPLATE_HASH_NOT_HEX = 'template hash is not valid hex';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** True iff `text` is even-length hex (either case). */
export function isHex(text: string): boolean {
  return HEX_RE.test(text);
}

/** Strict hex → bytes, or undefined. */
export function decodeHex(text: string): Buffer | undefined {
  if ((text.length & 1) !== 0) return undefined;
  const out = Buffer.from(text, 'hex');
  return out.length * 2 === text.length ? out : undefined;
}
