/**
 * @module event-data: decodes an event's data into the `Event` member tpm2_eventlog prints
 * (tpm2-tools lib/tpm2_eventlog_yaml.c conventions; spec §5.3 table). Malformed data that
 * tpm2_eventlog refuses is a DecodeError here too; where it tolerates a quirk, so do we (workarounds.ts).
 */
import { Reader, toHex } from '@keylime/core';
import { EventType } from './constants';
import { formatDevicePath, ucs2 } from './device-path';
import { MbaErrorCode, asMbaDecodeError } from './errors';
import type { PcrEvent } from './event-log';
import type { JsonObject, JsonValue } from './json';
import { jsonU64, readGuid, u16le, u32le, u64le, u64leLength } from './little-endian';

/** tpm2_eventlog prints at most this many bytes of raw data as hex (EVENT_BUF_MAX). */
const HEX_DUMP_MAX_BYTES = 1024;
const STARTUP_LOCALITY = 'StartupLocality\0';
const utf8 = new TextDecoder('utf-8');

/** The `Event` member for `ev`, or undefined when the event has no data (tpm2_eventlog omits it). */
export function decodeEventData(ev: PcrEvent): JsonValue | undefined {
  if (ev.data.length === 0) return undefined;
  const r = new Reader(ev.data, ev.dataOffset);
  try {
    return r.field(`event[${ev.eventNum}].data`, () => decodeByType(ev, r));
  } catch (e) {
    throw asMbaDecodeError(e);
  }
}

function decodeByType(ev: PcrEvent, r: Reader): JsonValue {
  const data = ev.data;
  switch (ev.eventType) {
    case EventType.EV_EFI_VARIABLE_DRIVER_CONFIG:
    case EventType.EV_EFI_VARIABLE_BOOT:
    case EventType.EV_EFI_VARIABLE_BOOT2:
    case EventType.EV_EFI_VARIABLE_AUTHORITY:
      return decodeVariable(ev.eventType, r);
    case EventType.EV_POST_CODE:
      // PFP §10.4.1: a 16-byte POST code is a firmware blob, anything else a text tag.
      return data.length === 16 ? decodeBlob(r) : cText(data);
    case EventType.EV_S_CRTM_CONTENTS:
    case EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB:
      return decodeBlob(r);
    case EventType.EV_EFI_PLATFORM_FIRMWARE_BLOB2:
      return decodeBlob2(r);
    case EventType.EV_EFI_ACTION:
      return cText(data);
    case EventType.EV_IPL:
      return { String: text(data) };
    case EventType.EV_EFI_BOOT_SERVICES_APPLICATION:
    case EventType.EV_EFI_BOOT_SERVICES_DRIVER:
    case EventType.EV_EFI_RUNTIME_SERVICES_DRIVER:
      return decodeImageLoad(r);
    case EventType.EV_EFI_GPT_EVENT:
      return decodeGpt(r);
    case EventType.EV_NO_ACTION:
      if (data.length > STARTUP_LOCALITY.length && ascii(data.subarray(0, 16)) === STARTUP_LOCALITY) {
        return { StartupLocality: data[16] as number };
      }
      return hexDump(data);
    case EventType.EV_EFI_HCRTM_EVENT:
      // PFP §10.4.1: the data MUST be "HCRTM"; tpm2_eventlog refuses anything else.
      if (data.length !== 5 || ascii(data) !== 'HCRTM') r.fail('EV_EFI_HCRTM_EVENT data is not "HCRTM"', MbaErrorCode.InvalidEvent);
      return cText(data);
    default:
      return hexDump(data);
  }
}

/** UEFI_PLATFORM_FIRMWARE_BLOB (PFP §10.2.5); only the first 16 bytes are read, as tpm2_eventlog does. */
function decodeBlob(r: Reader): JsonObject {
  const base = r.field('BlobBase', () => u64le(r));
  const length = r.field('BlobLength', () => u64le(r));
  return { BlobBase: jsonU64(base), BlobLength: jsonU64(length) };
}

/** UEFI_PLATFORM_FIRMWARE_BLOB2 (PFP §10.2.5); the description is printed as hex. */
function decodeBlob2(r: Reader): JsonObject {
  const size = r.field('BlobDescriptionSize', () => r.u8());
  const desc = r.field('BlobDescription', () => r.bytesN(size));
  const blob = decodeBlob(r);
  return { BlobDescriptionSize: size, BlobDescription: toHex(desc), ...blob };
}

/** UEFI_IMAGE_LOAD_EVENT (PFP §10.2.3) with the device path as efivar text. */
function decodeImageLoad(r: Reader): JsonObject {
  const location = r.field('ImageLocationInMemory', () => u64le(r));
  const length = r.field('ImageLengthInMemory', () => u64le(r));
  const link = r.field('ImageLinkTimeAddress', () => u64le(r));
  const dpLength = r.field('LengthOfDevicePath', () => u64le(r));
  const dp = r.bytesN(r.remaining);
  const limit = dpLength > BigInt(dp.length) ? dp.length : Number(dpLength);
  return {
    ImageLocationInMemory: jsonU64(location),
    ImageLengthInMemory: jsonU64(length),
    ImageLinkTimeAddress: jsonU64(link),
    LengthOfDevicePath: jsonU64(dpLength),
    DevicePath: formatDevicePath(dp, limit) ?? toHex(dp),
  };
}

/** UEFI_GPT_DATA (PFP §10.2.6): header, then NumberOfPartitions 128-byte entries; sizes must agree. */
function decodeGpt(r: Reader): JsonObject {
  const h = r.field('UEFIPartitionHeader', () => {
    const signature = ascii(r.bytesN(8));
    const revision = u32le(r);
    const headerSize = u32le(r);
    const headerCrc = u32le(r);
    u32le(r); // reserved
    const myLba = u64le(r);
    const alternateLba = u64le(r);
    const firstUsable = u64le(r);
    const lastUsable = u64le(r);
    const diskGuid = readGuid(r);
    const entryLba = u64le(r);
    const entries = u32le(r);
    const entrySize = u32le(r);
    const entriesCrc = u32le(r);
    return {
      Signature: signature,
      Revision: revision,
      HeaderSize: headerSize,
      HeaderCRC32: headerCrc,
      MyLBA: jsonU64(myLba),
      AlternateLBA: jsonU64(alternateLba),
      FirstUsableLBA: jsonU64(firstUsable),
      LastUsableLBA: jsonU64(lastUsable),
      DiskGUID: diskGuid,
      PartitionEntryLBA: jsonU64(entryLba),
      NumberOfPartitionEntry: entries,
      SizeOfPartitionEntry: entrySize,
      PartitionEntryArrayCRC32: entriesCrc,
    };
  });
  const count = r.field('NumberOfPartitions', () => u64le(r));
  if (count * 128n !== BigInt(r.remaining)) {
    r.fail(`NumberOfPartitions ${count} does not fill the ${r.remaining} byte(s) left`, MbaErrorCode.InvalidEvent);
  }
  const partitions: JsonObject[] = [];
  for (let i = 0; i < Number(count); i++) {
    partitions.push(
      r.field(`Partitions[${i}]`, () => ({
        PartitionTypeGUID: readGuid(r),
        UniquePartitionGUID: readGuid(r),
        StartingLBA: jsonU64(u64le(r)),
        EndingLBA: jsonU64(u64le(r)),
        Attributes: jsonU64(u64le(r)),
        PartitionName: ucs2(r.bytesN(72)),
      })),
    );
  }
  return { Header: h, NumberOfPartitions: jsonU64(count), Partitions: partitions };
}

/** UEFI_VARIABLE_DATA (PFP §10.2.4) with VariableData shaped per variable (spec §5.3). */
function decodeVariable(type: number, r: Reader): JsonObject {
  const variableName = r.field('VariableName', () => readGuid(r));
  const nameLength = r.field('UnicodeNameLength', () => u64leLength(r, 'UnicodeNameLength'));
  const dataLength = r.field('VariableDataLength', () => u64leLength(r, 'VariableDataLength'));
  const name = r.field('UnicodeName', () => ucs2(r.bytesN(nameLength * 2)));
  const dr = r.field('VariableData', () => r.sub(dataLength));
  const data = dr.bytes;
  // Bytes after VariableData are tolerated (workarounds.ts: variable-data-trailing-bytes).
  const out: JsonObject = {
    VariableName: variableName,
    UnicodeNameLength: nameLength,
    VariableDataLength: dataLength,
    UnicodeName: name,
  };
  const value = dr.field(`VariableData(${name})`, () => shapeVariableData(type, name, data, dr));
  if (value !== undefined) out['VariableData'] = value;
  return out;
}

function shapeVariableData(type: number, name: string, data: Uint8Array, r: Reader): JsonValue | undefined {
  if (type === EventType.EV_EFI_VARIABLE_DRIVER_CONFIG) {
    if (name === 'PK' || name === 'KEK' || name === 'db' || name === 'dbx') return signatureLists(r);
    if (name === 'SecureBoot') return { Enabled: booleanByte(data, r) };
  } else if (type === EventType.EV_EFI_VARIABLE_AUTHORITY) {
    if (name === 'MokListTrusted') return { Enabled: booleanByte(data, r) };
    if (name === 'db' || name === 'Shim' || name === 'vendor_db') {
      // One EFI_SIGNATURE_DATA: owner GUID, then the rest (tpm2_eventlog reads Shim's raw cert this way too).
      if (data.length < 16) r.fail('VariableData is too short for EFI_SIGNATURE_DATA', MbaErrorCode.InvalidEvent);
      return [{ SignatureOwner: readGuid(r), SignatureData: toHex(r.bytesN(r.remaining)) }];
    }
    if (name === 'SbatLevel') return { String: text(data) };
  } else {
    if (name === 'BootOrder') return bootOrder(data, r);
    if (/^Boot[0-9a-fA-F]{4}$/.test(name)) return loadOption(r);
  }
  return data.length === 0 ? undefined : toHex(data);
}

/** EFI_SIGNATURE_LIST sequence (UEFI 2.10 §32.4.1); an empty variable prints as null. */
function signatureLists(r: Reader): JsonValue {
  const lists: JsonObject[] = [];
  while (r.remaining > 0) {
    const at = lists.length;
    lists.push(r.field(`SignatureList[${at}]`, () => signatureList(r)));
  }
  return lists.length === 0 ? null : lists;
}

function signatureList(r: Reader): JsonObject {
  const type = readGuid(r);
  const listSize = u32le(r);
  const headerSize = u32le(r);
  const sigSize = u32le(r);
  if (sigSize < 16) r.fail(`SignatureSize ${sigSize} is below 16`, MbaErrorCode.InvalidEvent);
  const bodySize = listSize - 28 - headerSize;
  if (listSize < 28 + headerSize || bodySize % sigSize !== 0) {
    r.fail(`malformed EFI_SIGNATURE_LIST (size ${listSize}, header ${headerSize}, entry ${sigSize})`, MbaErrorCode.InvalidEvent);
  }
  r.field('SignatureHeader', () => r.bytesN(headerSize));
  const body = r.field('Signatures', () => r.sub(bodySize));
  const keys: JsonObject[] = [];
  while (body.remaining > 0) {
    keys.push({ SignatureOwner: readGuid(body), SignatureData: toHex(body.bytesN(sigSize - 16)) });
  }
  return { SignatureType: type, SignatureListSize: listSize, SignatureHeaderSize: headerSize, SignatureSize: sigSize, Keys: keys };
}

/** SecureBoot / MokListTrusted: empty or 0 is "No"; longer than one byte is refused (as tpm2_eventlog). */
function booleanByte(data: Uint8Array, r: Reader): string {
  if (data.length > 1) r.fail(`boolean variable of ${data.length} bytes`, MbaErrorCode.InvalidEvent);
  return data.length === 1 && data[0] !== 0 ? 'Yes' : 'No';
}

function bootOrder(data: Uint8Array, r: Reader): JsonValue {
  if (data.length % 2 !== 0) r.fail(`BootOrder length ${data.length} is odd`, MbaErrorCode.InvalidEvent);
  const out: string[] = [];
  while (r.remaining > 0) out.push(`Boot${u16le(r).toString(16).padStart(4, '0')}`);
  return out;
}

/** EFI_LOAD_OPTION (UEFI 2.10 §3.1.3). */
function loadOption(r: Reader): JsonObject {
  const attributes = u32le(r);
  const fpl = u16le(r);
  let description = '';
  for (;;) {
    const c = u16le(r);
    if (c === 0) break;
    description += String.fromCharCode(c);
  }
  const dp = r.bytesN(r.remaining);
  return {
    Enabled: (attributes & 1) === 1 ? 'Yes' : 'No',
    FilePathListLength: fpl,
    Description: description,
    DevicePath: formatDevicePath(dp) ?? toHex(dp),
  };
}

/** Hex of raw data, cut at tpm2_eventlog's dump limit. */
function hexDump(data: Uint8Array): string {
  return toHex(data.subarray(0, HEX_DUMP_MAX_BYTES));
}

/** Text as printed with `%.*s`: up to the first NUL. */
function cText(data: Uint8Array): string {
  const end = data.indexOf(0);
  return text(end < 0 ? data : data.subarray(0, end));
}

/** Raw bytes as UTF-8 text (invalid sequences become U+FFFD rather than failing). */
function text(data: Uint8Array): string {
  return utf8.decode(data);
}

function ascii(data: Uint8Array): string {
  return String.fromCharCode(...data);
}
