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

/** One parsed measurement. */
export interface ImaEntry {
  /** Column 1 verbatim (checked against "10" during validation, not parsing). */
  readonly pcr: string;
  /** Column 2: the template hash as printed by the kernel (log hash algorithm). */
  readonly templateHash: Buffer;
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

/** A parsed entry plus a copy of its template data. */
export interface ParsedImaEntry extends ImaEntry {
  readonly templateData: Buffer;
}

const TEMPLATES: ReadonlySet<string> = new Set(Object.values(ImaTemplate));
/** `n` of template `ima` is a fixed 256-byte field: name, NUL, zero padding. */
const LEGACY_NAME_FIELD = 256;
/** signature_v2_hdr: type u8, version u8, hash_algo u8, keyid u32, sig_size u16 (big-endian). */
const SIG_HEADER_LEN = 9;
const SHA1_LEN = 20;
const MD5_LEN = 16;

/** Result of the fast path: the entry, or the reason the line is not a valid entry. */
export type LineParse = { readonly entry: ImaEntry } | { readonly error: string };

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
  const tokens = splitSpaces(line, 3);
  if (tokens.length !== 4) return { error: `expected 4 fields, got ${tokens.length}` };
  const [pcr, hashHex, templateName, rest] = tokens as [string, string, string, string];
  const templateHash = decodeHex(hashHex);
  if (templateHash === undefined) return { error: 'template hash is not valid hex' };
  if (!TEMPLATES.has(templateName)) return { error: `no parser for template '${templateName}'` };
  const template = templateName as ImaTemplate;
  const maxsplit = template === 'ima' || template === 'ima-ng' ? 1 : 2;
  const fields = splitSpaces(rest, maxsplit);
  if (fields.length !== maxsplit + 1) {
    return { error: `template ${template} expects ${maxsplit + 1} fields, got ${fields.length}` };
  }
  const digestField = fields[0] as string;
  const name = fields[1] as string;
  const d = splitDigest(digestField);
  if (typeof d === 'string') return { error: d };

  if (template === 'ima') {
    // `d` is the raw digest, `n` a fixed 256-byte field (ast.py Digest/Name legacy=True).
    if (enc.hex(d.hex) < 0) return { error: 'digest is not valid hex' };
    const n = enc.utf8(name);
    if (n > LEGACY_NAME_FIELD - 1) return { error: `name longer than ${LEGACY_NAME_FIELD - 1} bytes` };
    enc.zeros(LEGACY_NAME_FIELD - n);
    return { entry: build(pcr, templateHash, template, d, name, undefined, undefined) };
  }

  const dErr = writeDigestNg(enc, d);
  if (dErr !== undefined) return { error: dErr };
  writeNameNg(enc, name);

  if (template === 'ima-ng') {
    return { entry: build(pcr, templateHash, template, d, name, undefined, undefined) };
  }
  const third = fields[2] as string;
  if (template === 'ima-sig') {
    // An absent or malformed signature is encoded as an empty field (ast.py ImaSig.bytes).
    const signature = parseSignature(third);
    if (signature === undefined) {
      enc.u32le(0);
    } else {
      enc.u32le(signature.length);
      enc.hex(third);
    }
    return { entry: build(pcr, templateHash, template, d, name, signature, undefined) };
  }
  // ima-buf
  const lenAt = enc.mark();
  enc.u32le(0);
  const n = enc.hex(third);
  if (n < 0) return { error: 'buffer is not valid hex' };
  enc.patchU32le(lenAt, n);
  const buffer = enc.copy(lenAt + 4, lenAt + 4 + n);
  return { entry: build(pcr, templateHash, template, d, name, undefined, buffer) };
}

/** Parses one line into an entry with its own copy of the template data, or an error reason. */
export function parseImaEntry(line: string): ParsedImaEntry | { readonly error: string } {
  const enc = new TemplateEncoder();
  const r = parseLineInto(line, enc);
  if ('error' in r) return r;
  return { ...r.entry, templateData: Buffer.from(enc.data()) };
}

interface SplitDigest {
  readonly alg: string;
  readonly hex: string;
}

/** `<alg>:<hex>` or bare hex (20 bytes ⇒ sha1, 16 bytes ⇒ md5), as ast.py Digest. */
function splitDigest(field: string): SplitDigest | string {
  const colon = field.indexOf(':');
  if (colon < 0) {
    if (!isHex(field)) return 'digest is not valid hex';
    const n = field.length >>> 1;
    if (n === SHA1_LEN) return { alg: 'sha1', hex: field };
    if (n === MD5_LEN) return { alg: 'md5', hex: field };
    return 'digest without algorithm is neither md5 nor sha1';
  }
  if (field.indexOf(':', colon + 1) >= 0) return 'digest has more than one ":"';
  const alg = field.slice(0, colon);
  // The kernel's algorithm names are ASCII; upstream mis-encodes anything else.
  if (!/^[\x21-\x7e]*$/.test(alg)) return 'digest algorithm name is not printable ASCII';
  return { alg, hex: field.slice(colon + 1) };
}

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
  templateHash: Buffer,
  template: ImaTemplate,
  d: SplitDigest,
  name: string,
  signature: Buffer | undefined,
  buffer: Buffer | undefined,
): ImaEntry {
  const digestHex = HAS_UPPER.test(d.hex) ? d.hex.toLowerCase() : d.hex;
  return { pcr, templateHash, template, digestAlg: d.alg, digestHex, name, signature, buffer };
}

const HAS_UPPER = /[A-F]/;
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

function isHex(text: string): boolean {
  return HEX_RE.test(text);
}

/** Strict hex → bytes, or undefined. */
export function decodeHex(text: string): Buffer | undefined {
  if ((text.length & 1) !== 0) return undefined;
  const out = Buffer.from(text, 'hex');
  return out.length * 2 === text.length ? out : undefined;
}
