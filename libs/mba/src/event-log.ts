/**
 * @module event-log: strict parser of the TCG PC Client crypto-agile event log (binary_bios_measurements).
 * Spec §5.2; TCG PC Client PFP §10.2.1 (TCG_PCR_EVENT, TCG_EfiSpecIdEvent) and §10.2.2 (TCG_PCR_EVENT2).
 */
import { DecodeError, Reader, bytesEqual } from '@keylime/core';
import { DIGEST_SIZE, EventType, PCR_COUNT, bankName } from './constants';
import { MbaErrorCode, asMbaDecodeError } from './errors';
import { u16le, u32le } from './little-endian';

/** Bounds: a real log is tens of KiB; these stop hostile sizes from allocating or looping. */
export const EVENT_LOG_LIMITS = {
  maxLogBytes: 16 * 1024 * 1024,
  maxEventDataBytes: 1024 * 1024,
  maxAlgorithms: 16,
  maxDigestSize: 64,
} as const;

/** One row of the Spec ID algorithm table. */
export interface SpecIdAlgorithm {
  readonly algId: number;
  /** tpm2-tools name (`sha256`), or `0x000b`-style hex for algorithms it does not know. */
  readonly name: string;
  readonly digestSize: number;
}

/** TCG_EfiSpecIdEvent (PFP §10.2.1.1). */
export interface SpecIdEvent {
  readonly signature: string;
  readonly platformClass: number;
  readonly specVersionMinor: number;
  readonly specVersionMajor: number;
  readonly specErrata: number;
  readonly uintnSize: number;
  readonly algorithms: readonly SpecIdAlgorithm[];
  readonly vendorInfo: Uint8Array;
}

/** The SHA-1-format first event that carries the Spec ID event. */
export interface HeaderEvent {
  readonly pcrIndex: number;
  readonly eventType: number;
  readonly digest: Uint8Array;
  readonly data: Uint8Array;
  readonly specId: SpecIdEvent;
}

export interface EventDigest {
  readonly algId: number;
  readonly alg: string;
  readonly digest: Uint8Array;
}

/** A TCG_PCR_EVENT2 as found in the log: header fields, digests and the raw event data. */
export interface PcrEvent {
  /** Position in the log; the header is 0, so this is tpm2_eventlog's EventNum. */
  readonly eventNum: number;
  /** Byte offset of the event in the log. */
  readonly offset: number;
  /** Byte offset of the event data in the log (for decode errors inside the data). */
  readonly dataOffset: number;
  readonly pcrIndex: number;
  readonly eventType: number;
  readonly digests: readonly EventDigest[];
  readonly data: Uint8Array;
}

/** A parsed, not yet verified, event log. Nothing in it is trusted until replay matches a quote. */
export interface EventLog {
  readonly header: HeaderEvent;
  readonly events: readonly PcrEvent[];
  readonly byteLength: number;
}

const SPEC_ID_SIGNATURE = new TextEncoder().encode('Spec ID Event03\0');

/**
 * Parses a crypto-agile event log. Throws DecodeError (KL_MBA_*) with the byte offset for an
 * empty, truncated, oversized or malformed log; never RangeError.
 */
export function parseEventLog(bytes: Uint8Array): EventLog {
  if (bytes.length === 0) throw new DecodeError(MbaErrorCode.EmptyLog, 'event log is empty', 0, '');
  if (bytes.length > EVENT_LOG_LIMITS.maxLogBytes) {
    throw new DecodeError(MbaErrorCode.TooLarge, `event log of ${bytes.length} bytes exceeds the limit`, 0, '');
  }
  const r = new Reader(bytes);
  try {
    const header = r.field('TCG_PCR_EVENT', () => readHeader(r));
    const events: PcrEvent[] = [];
    while (r.remaining > 0) {
      const eventNum = events.length + 1;
      events.push(r.field(`event[${eventNum}]`, () => readEvent2(r, header.specId, eventNum)));
    }
    return { header, events, byteLength: bytes.length };
  } catch (e) {
    throw asMbaDecodeError(e);
  }
}

function readHeader(r: Reader): HeaderEvent {
  const pcrIndex = r.field('pcrIndex', () => u32le(r));
  const eventType = r.field('eventType', () => u32le(r));
  if (eventType !== EventType.EV_NO_ACTION || pcrIndex !== 0) {
    fail(r, MbaErrorCode.NotCryptoAgile, 'first event is not the Spec ID EV_NO_ACTION event on PCR 0 (SHA-1-only logs are not supported)');
  }
  const digest = r.field('digest', () => r.bytesN(20));
  if (digest.some((b) => b !== 0)) fail(r, MbaErrorCode.InvalidEvent, 'Spec ID event digest is not zero');
  const size = r.field('eventSize', () => u32le(r));
  if (size > EVENT_LOG_LIMITS.maxEventDataBytes) fail(r, MbaErrorCode.TooLarge, `eventSize ${size} exceeds the limit`);
  const body = r.field('event', () => r.sub(size));
  const data = body.bytes;
  const specId = body.field('TCG_EfiSpecIdEvent', () => readSpecId(body));
  return { pcrIndex, eventType, digest, data, specId };
}

function readSpecId(r: Reader): SpecIdEvent {
  const sig = r.field('signature', () => r.bytesN(16));
  if (!bytesEqual(sig, SPEC_ID_SIGNATURE)) {
    fail(r, MbaErrorCode.NotCryptoAgile, 'Spec ID signature is not "Spec ID Event03" (SHA-1-only logs are not supported)');
  }
  const platformClass = r.field('platformClass', () => u32le(r));
  const specVersionMinor = r.u8();
  const specVersionMajor = r.u8();
  const specErrata = r.u8();
  const uintnSize = r.u8();
  const count = r.field('numberOfAlgorithms', () => u32le(r));
  if (count === 0 || count > EVENT_LOG_LIMITS.maxAlgorithms) {
    fail(r, MbaErrorCode.InvalidEvent, `numberOfAlgorithms ${count} is outside 1..${EVENT_LOG_LIMITS.maxAlgorithms}`);
  }
  const algorithms: SpecIdAlgorithm[] = [];
  for (let i = 0; i < count; i++) {
    algorithms.push(r.field(`digestSizes[${i}]`, () => readAlgorithm(r, algorithms)));
  }
  const vendorInfoSize = r.field('vendorInfoSize', () => r.u8());
  const vendorInfo = r.field('vendorInfo', () => r.bytesN(vendorInfoSize));
  r.end();
  return {
    signature: 'Spec ID Event03',
    platformClass,
    specVersionMinor,
    specVersionMajor,
    specErrata,
    uintnSize,
    algorithms,
    vendorInfo,
  };
}

function readAlgorithm(r: Reader, seen: readonly SpecIdAlgorithm[]): SpecIdAlgorithm {
  const algId = u16le(r);
  const digestSize = u16le(r);
  const known = bankName(algId);
  if (known !== undefined && DIGEST_SIZE[known] !== digestSize) {
    fail(r, MbaErrorCode.InvalidEvent, `${known} declared with digest size ${digestSize}`);
  }
  if (digestSize === 0 || digestSize > EVENT_LOG_LIMITS.maxDigestSize) {
    fail(r, MbaErrorCode.InvalidEvent, `digest size ${digestSize} is outside 1..${EVENT_LOG_LIMITS.maxDigestSize}`);
  }
  if (seen.some((a) => a.algId === algId)) fail(r, MbaErrorCode.InvalidEvent, `algorithm 0x${hex4(algId)} listed twice`);
  return { algId, name: known ?? `0x${hex4(algId)}`, digestSize };
}

function readEvent2(r: Reader, specId: SpecIdEvent, eventNum: number): PcrEvent {
  const offset = r.offset;
  const pcrIndex = r.field('pcrIndex', () => u32le(r));
  if (pcrIndex >= PCR_COUNT) fail(r, MbaErrorCode.InvalidEvent, `PCR index ${pcrIndex} is not below ${PCR_COUNT}`);
  const eventType = r.field('eventType', () => u32le(r));
  const count = r.field('digestCount', () => u32le(r));
  if (count > specId.algorithms.length) {
    fail(r, MbaErrorCode.InvalidEvent, `digestCount ${count} exceeds the ${specId.algorithms.length} declared algorithm(s)`);
  }
  const digests: EventDigest[] = [];
  for (let i = 0; i < count; i++) {
    digests.push(r.field(`digests[${i}]`, () => readDigest(r, specId, digests)));
  }
  const size = r.field('eventSize', () => u32le(r));
  if (size > EVENT_LOG_LIMITS.maxEventDataBytes) fail(r, MbaErrorCode.TooLarge, `eventSize ${size} exceeds the limit`);
  const dataOffset = r.offset;
  const data = r.field('event', () => r.bytesN(size));
  return { eventNum, offset, dataOffset, pcrIndex, eventType, digests, data };
}

function readDigest(r: Reader, specId: SpecIdEvent, seen: readonly EventDigest[]): EventDigest {
  const algId = r.field('hashAlg', () => u16le(r));
  const alg = specId.algorithms.find((a) => a.algId === algId);
  if (alg === undefined) {
    fail(r, MbaErrorCode.UnknownAlgorithm, `digest algorithm 0x${hex4(algId)} is not in the Spec ID event`);
  }
  if (seen.some((d) => d.algId === algId)) fail(r, MbaErrorCode.InvalidEvent, `digest for ${alg.name} given twice`);
  const digest = r.field('digest', () => r.bytesN(alg.digestSize));
  return { algId, alg: alg.name, digest };
}

function fail(r: Reader, code: string, message: string): never {
  return r.fail(message, code);
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}
