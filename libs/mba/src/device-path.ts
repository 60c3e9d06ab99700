/**
 * @module device-path: UEFI device paths (UEFI 2.10 §10.3) as text, in libefivar's spelling
 * (`efidp_format_device_path`), which tpm2_eventlog and upstream's enrichment print (spec §5.3).
 * Nodes we do not name render as efivar's generic `Path(type,subtype,hex)`.
 */
import { toHex } from '@keylime/core';
import { guidText, leNumber } from './little-endian';

const DP_HARDWARE = 1;
const DP_ACPI = 2;
const DP_MESSAGING = 3;
const DP_MEDIA = 4;
const DP_BIOS_BOOT = 5;
const DP_END = 0x7f;
const DP_END_INSTANCE = 0x01;

/**
 * Renders `bytes` (at most `limit` bytes are read, as efivar's `limit`) as device-path text.
 * Returns undefined when the first node is malformed (tpm2_eventlog then prints hex instead).
 */
export function formatDevicePath(bytes: Uint8Array, limit: number = bytes.length): string | undefined {
  let rest = Math.min(limit, bytes.length);
  let at = 0;
  let out = '';
  let first = true;
  while (rest > 0) {
    if (rest < 4) return out === '' ? undefined : out;
    const type = bytes[at] as number;
    const subtype = bytes[at + 1] as number;
    const size = (bytes[at + 2] as number) | ((bytes[at + 3] as number) << 8);
    if (size < 4) return undefined;
    if (size > rest) return out === '' ? undefined : out;
    const node = bytes.subarray(at, at + size);
    if (!first) {
      if (type === DP_END && subtype !== DP_END_INSTANCE) return out;
      out += type === DP_END ? ',' : '/';
    }
    first = false;
    if (type !== DP_END) {
      const text = formatNode(type, subtype, node);
      if (text === undefined) return undefined;
      out += text;
    }
    rest -= size;
    at += size;
  }
  return out;
}

function formatNode(type: number, subtype: number, n: Uint8Array): string | undefined {
  switch (type) {
    case DP_HARDWARE:
      return formatHardware(subtype, n);
    case DP_ACPI:
      return formatAcpi(subtype, n);
    case DP_MESSAGING:
      return formatMessaging(subtype, n);
    case DP_MEDIA:
      return formatMedia(subtype, n);
    case DP_BIOS_BOOT:
      return `BbsPath(${subtype},${toHex(n.subarray(4))})`;
    default:
      return `Path(${type},${subtype},${toHex(n.subarray(4))})`;
  }
}

/** Little-endian unsigned integer of `len` bytes at `at` inside a node, as bigint (0 when short). */
function le(n: Uint8Array, at: number, len: number): bigint {
  let v = 0n;
  for (let i = len - 1; i >= 0; i--) v = (v << 8n) | BigInt(n[at + i] ?? 0);
  return v;
}

function hx(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function need(n: Uint8Array, size: number): boolean {
  return n.length >= size;
}

function formatHardware(subtype: number, n: Uint8Array): string | undefined {
  switch (subtype) {
    case 1: // PCI
      return need(n, 6) ? `Pci(${hx(n[5] as number)},${hx(n[4] as number)})` : undefined;
    case 2: // PC Card
      return need(n, 5) ? `PcCard(${hx(n[4] as number)})` : undefined;
    case 3: // memory mapped
      return need(n, 24) ? `MemoryMapped(${le(n, 4, 4)},${hx(le(n, 8, 8))},${hx(le(n, 16, 8))})` : undefined;
    case 4: // vendor
      return vendor('VenHw', n);
    case 5: // controller
      return need(n, 8) ? `Ctrl(${hx(le(n, 4, 4))})` : undefined;
    default:
      return `HardwarePath(${subtype},${toHex(n.subarray(4))})`;
  }
}

const PNP_PCI_ROOT = 0x0a0341d0;
const PNP_PCIE_ROOT = 0x0a0841d0;

function formatAcpi(subtype: number, n: Uint8Array): string | undefined {
  if (subtype === 1) {
    if (!need(n, 12)) return undefined;
    const hid = Number(le(n, 4, 4));
    const uid = le(n, 8, 4);
    if (hid === PNP_PCI_ROOT) return `PciRoot(${hx(uid)})`;
    if (hid === PNP_PCIE_ROOT) return `PcieRoot(${hx(uid)})`;
    return `Acpi(0x${hid.toString(16).padStart(8, '0')},${hx(uid)})`;
  }
  if (subtype === 3) {
    const adrs: string[] = [];
    for (let at = 4; at + 4 <= n.length; at += 4) adrs.push(hx(le(n, at, 4)));
    return `AcpiAdr(${adrs.join(',')})`;
  }
  return `AcpiPath(${subtype},${toHex(n.subarray(4, 4 + Math.floor((n.length - 4) / 2)))})`;
}

function formatMessaging(subtype: number, n: Uint8Array): string | undefined {
  switch (subtype) {
    case 1: // ATAPI
      return need(n, 8) ? `Ata(${n[4]},${n[5]},${le(n, 6, 2)})` : undefined;
    case 2: // SCSI
      return need(n, 8) ? `SCSI(${le(n, 4, 2)},${le(n, 6, 2)})` : undefined;
    case 5: // USB
      return need(n, 6) ? `USB(${n[4]},${n[5]})` : undefined;
    case 11: {
      // MAC address: 32 bytes, of which 6 are shown for Ethernet-like interface types
      if (!need(n, 37)) return undefined;
      const ifType = n[36] as number;
      return `MAC(${toHex(n.subarray(4, ifType < 2 ? 10 : 36))},${ifType})`;
    }
    case 10:
      return vendor('VenMsg', n);
    case 17: // LUN
      return need(n, 5) ? `Unit(${n[4]})` : undefined;
    case 18: // SATA
      return need(n, 10) ? `Sata(${le(n, 4, 2)},${le(n, 6, 2)},${le(n, 8, 2)})` : undefined;
    case 20: // VLAN
      return need(n, 6) ? `Vlan(${le(n, 4, 2)})` : undefined;
    case 23: {
      // NVMe namespace
      if (!need(n, 16)) return undefined;
      const eui = Array.from(n.subarray(8, 16), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join('-');
      return `NVMe(${hx(le(n, 4, 4))},${eui})`;
    }
    case 24: // URI
      return `Uri(${cString(n.subarray(4))})`;
    default:
      return `Msg(${subtype},${toHex(n.subarray(4))})`;
  }
}

function formatMedia(subtype: number, n: Uint8Array): string | undefined {
  switch (subtype) {
    case 1: {
      // hard drive: partition number, start, size, signature[16], format, signature type
      if (!need(n, 42)) return undefined;
      const part = le(n, 4, 4);
      const start = hx(le(n, 8, 8));
      const size = hx(le(n, 16, 8));
      const sig = n.subarray(24, 40);
      const sigType = n[41] as number;
      if (sigType === 1) return `HD(${part},MBR,${hx(leNumber(sig))},${start},${size})`;
      if (sigType === 2) return `HD(${part},GPT,${guidText(sig)},${start},${size})`;
      return `HD(${part},${sigType},${toHex(sig)},${start},${size})`;
    }
    case 2: // CD-ROM
      return need(n, 24) ? `CDROM(${le(n, 4, 4)},${hx(le(n, 8, 8))},${hx(le(n, 16, 8))})` : undefined;
    case 3:
      return vendor('VenMedia', n);
    case 4:
      // file path: UCS-2 name; efivar drops the last code unit (the terminator)
      return ucs2(n.subarray(4, 4 + 2 * Math.max(0, Math.floor((n.length - 4) / 2) - 1)));
    case 5:
      return need(n, 20) ? `Media(${guidText(n.subarray(4, 20))})` : undefined;
    case 6:
      return need(n, 20) ? `FvFile(${guidText(n.subarray(4, 20))})` : undefined;
    case 7:
      return need(n, 20) ? `FvVol(${guidText(n.subarray(4, 20))})` : undefined;
    case 8:
      return need(n, 24) ? `Offset(${hx(le(n, 8, 8))},${hx(le(n, 16, 8))})` : undefined;
    default:
      return `MediaPath(${subtype},${toHex(n.subarray(4, 4 + Math.floor((n.length - 4) / 2)))})`;
  }
}

function vendor(label: string, n: Uint8Array): string | undefined {
  if (!need(n, 20)) return undefined;
  const data = n.subarray(20);
  return `${label}(${guidText(n.subarray(4, 20))}${data.length > 0 ? `,${toHex(data)}` : ''})`;
}

/** UCS-2 text up to the first NUL (efivar's ucs2_to_utf8). */
export function ucs2(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = (b[i] as number) | ((b[i + 1] as number) << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder('latin1').decode(end < 0 ? b : b.subarray(0, end));
}
