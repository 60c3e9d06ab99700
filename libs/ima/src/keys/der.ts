/**
 * @module keys/der: the DER walk IMA key handling needs (a certificate's Subject Key Identifier). Bounds-checked; returns undefined on bad input.
 */

interface Tlv {
  readonly tag: number;
  /** Offset of the value. */
  readonly start: number;
  /** Offset just past the value. */
  readonly end: number;
}

function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = buf[pos] as number;
  let len = buf[pos + 1] as number;
  let start = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[start + i] as number);
    start += n;
  }
  const end = start + len;
  if (end > limit) return undefined;
  return { tag, start, end };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    if (t === undefined) return undefined;
    out.push(t);
    pos = t.end;
  }
  return out;
}

const OID_SKID = Buffer.from([0x55, 0x1d, 0x0e]); // 2.5.29.14

/** Subject Key Identifier bytes of a DER certificate, if it has one. */
export function certificateSkid(der: Uint8Array): Uint8Array | undefined {
  const cert = readTlv(der, 0, der.length);
  if (cert?.tag !== 0x30) return undefined;
  const tbs = children(der, cert)?.[0];
  if (tbs?.tag !== 0x30) return undefined;
  const exts = children(der, tbs)?.find((t) => t.tag === 0xa3);
  if (exts === undefined) return undefined;
  const seq = children(der, exts)?.[0];
  if (seq?.tag !== 0x30) return undefined;
  for (const ext of children(der, seq) ?? []) {
    const parts = children(der, ext);
    const oid = parts?.[0];
    if (parts === undefined || oid?.tag !== 0x06) continue;
    if (!Buffer.from(der.subarray(oid.start, oid.end)).equals(OID_SKID)) continue;
    const value = parts[parts.length - 1];
    if (value?.tag !== 0x04) return undefined;
    const inner = readTlv(der, value.start, value.end);
    if (inner?.tag !== 0x04) return undefined;
    return der.subarray(inner.start, inner.end);
  }
  return undefined;
}
