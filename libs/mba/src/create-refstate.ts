/**
 * @module create-refstate: builds an `example` reference state from a log, as upstream's
 * `keylime-policy create measured-boot` does (keylime/policy/create_mb_policy.py; spec §5.5).
 * The log here is the operator's own file, so it is used without a quote.
 */
import { KeylimeError } from '@keylime/core';
import { MbaErrorCode } from './errors';
import type { DigestJson, ExampleRefStateJson, KernelJson, SignatureJson } from './example-refstate';
import { isJsonObject } from './json';
import type { JsonObject, JsonValue } from './json';
import type { MbLogJson } from './normalise';
import { pyReEscape } from './py-regex';

export interface CreateRefStateOptions {
  /** `-i/--without-secureboot`: allow a log with Secure Boot disabled. */
  readonly withoutSecureBoot?: boolean;
}

export interface CreatedRefState {
  readonly refstate: ExampleRefStateJson;
  /** Upstream's warnings (flag ignored, Secure Boot state unknown). */
  readonly warnings: readonly string[];
}

/** Firmware-internal UEFI applications (boot menu etc.) have no reference values; skip them (upstream, Lernstick). */
const FIRMWARE_APP = /^FvVol\(\w{8}-\w{4}-\w{4}-\w{4}-\w{12}\)\/FvFile\(\w{8}-\w{4}-\w{4}-\w{4}-\w{12}\)/;

/** Throws KeylimeError KL_MBA_REFSTATE_GENERATION with upstream's reason when the log does not fit. */
export function createMeasuredBootRefState(log: MbLogJson, options: CreateRefStateOptions = {}): CreatedRefState {
  const events = log.events;
  if (events.length === 0) fail('No events found on binary boot measurements log');
  const warnings: string[] = [];
  const sb = secureBootEnabled(events, warnings);
  if (!sb && options.withoutSecureBoot !== true) fail('Provided eventlog has SecureBoot disabled, but -i flag was not set');
  if (sb && options.withoutSecureBoot === true) {
    warnings.push('-i/--without-secureboot was set to create a reference state without SecureBoot, but the provided eventlog has SecureBoot enabled. Ignoring this flag');
  }
  const scrtm = events.find((e) => e['EventType'] === 'EV_S_CRTM_VERSION');
  const keys = driverConfigKeys(events);
  return {
    refstate: {
      has_secureboot: sb,
      scrtm_and_bios: [
        {
          ...(scrtm === undefined ? {} : { scrtm: sha256Of(scrtm) }),
          platform_firmware: events
            .filter((e) => e['EventType'] === 'EV_EFI_PLATFORM_FIRMWARE_BLOB' || e['EventType'] === 'EV_EFI_PLATFORM_FIRMWARE_BLOB2')
            .map(sha256Of),
        } as { scrtm: DigestJson; platform_firmware: DigestJson[] },
      ],
      ...keys,
      vendor_db: vendorDb(events),
      mokdig: iplWith(events, 'MokList').map(sha256Of),
      mokxdig: iplWith(events, 'MokListX').map(sha256Of),
      kernels: [kernel(events, sb)],
    },
    warnings,
  };
}

function fail(message: string): never {
  throw new KeylimeError(MbaErrorCode.RefStateGeneration, message);
}

function ev(e: JsonObject): JsonObject {
  const x = e['Event'];
  return isJsonObject(x) ? x : {};
}

function sha256Of(e: JsonObject): DigestJson {
  const list = Array.isArray(e['Digests']) ? e['Digests'] : [];
  for (const d of list) {
    if (isJsonObject(d) && d['AlgorithmId'] === 'sha256' && typeof d['Digest'] === 'string') return { sha256: `0x${d['Digest']}` };
  }
  return {};
}

function secureBootEnabled(events: readonly JsonObject[], warnings: string[]): boolean {
  for (const e of events) {
    if (e['EventType'] !== 'EV_EFI_VARIABLE_DRIVER_CONFIG' || ev(e)['UnicodeName'] !== 'SecureBoot') continue;
    const data = ev(e)['VariableData'];
    if (isJsonObject(data) && 'Enabled' in data) return data['Enabled'] === 'Yes';
  }
  warnings.push('SecureBoot state could not be determined; assuming disabled');
  return false;
}

function signatures(list: JsonValue | undefined): SignatureJson[] {
  const out: SignatureJson[] = [];
  for (const s of Array.isArray(list) ? list : []) {
    if (isJsonObject(s) && typeof s['SignatureOwner'] === 'string' && typeof s['SignatureData'] === 'string') {
      out.push({ SignatureOwner: s['SignatureOwner'], SignatureData: `0x${s['SignatureData']}` });
    }
  }
  return out;
}

function driverConfigKeys(events: readonly JsonObject[]): Record<'pk' | 'kek' | 'db' | 'dbx', SignatureJson[]> {
  const out: Record<'pk' | 'kek' | 'db' | 'dbx', SignatureJson[]> = { pk: [], kek: [], db: [], dbx: [] };
  for (const e of events) {
    const name = ev(e)['UnicodeName'];
    if (e['EventType'] !== 'EV_EFI_VARIABLE_DRIVER_CONFIG' || typeof name !== 'string') continue;
    const key = name.toLowerCase();
    const data = ev(e)['VariableData'];
    if ((key === 'pk' || key === 'kek' || key === 'db' || key === 'dbx') && data !== undefined && data !== null) {
      out[key] = (Array.isArray(data) ? data : []).flatMap((l) => (isJsonObject(l) ? signatures(l['Keys']) : []));
    }
  }
  return out;
}

function vendorDb(events: readonly JsonObject[]): SignatureJson[] {
  return events
    .filter((e) => e['EventType'] === 'EV_EFI_VARIABLE_AUTHORITY' && str(ev(e)['UnicodeName']).toLowerCase() === 'vendor_db')
    .flatMap((e) => signatures(ev(e)['VariableData']));
}

function iplWith(events: readonly JsonObject[], text: string): JsonObject[] {
  return events.filter((e) => e['EventType'] === 'EV_IPL' && ev(e)['String'] === text);
}

function str(v: JsonValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

function iplString(e: JsonObject): string {
  const s = ev(e)['String'];
  return typeof s === 'string' ? s : '';
}

function kernel(events: readonly JsonObject[], sb: boolean): KernelJson {
  const apps = events
    .filter((e) => e['EventType'] === 'EV_EFI_BOOT_SERVICES_APPLICATION' && !FIRMWARE_APP.test(str(ev(e)['DevicePath'])))
    .map((e) => sha256Of(e)['sha256']);
  if (sb && apps.length !== 3 && apps.length !== 4) {
    fail(`Expected 3 different UEFI applications to be booted (Shim, Grub, Linux); got: ${apps.length}`);
  }
  if (!sb && apps.length !== 2) fail(`Expected 2 different UEFI applications to be booted (Shim, Grub); got: ${apps.length}`);
  if (apps.some((a) => a === undefined)) fail('a booted UEFI application has no sha256 digest');
  const pcr = (n: number): JsonObject[] => events.filter((e) => e['EventType'] === 'EV_IPL' && e['PCRIndex'] === n);
  const initrd = pcr(9).find((e) => iplString(e).includes('initrd') || iplString(e).includes('initramfs'));
  const vmlinuz = pcr(9).find((e) => iplString(e).includes('vmlinuz'));
  const cmdline = pcr(8).find((e) => iplString(e).includes('kernel_cmdline'));
  if (initrd === undefined) fail('no initrd/initramfs EV_IPL event in PCR 9');
  if (!sb && vmlinuz === undefined) fail('no vmlinuz EV_IPL event in PCR 9');
  if (cmdline === undefined) fail('no kernel_cmdline EV_IPL event in PCR 8');
  // Key order as upstream writes it, so the JSON output is the same.
  return {
    ...(sb ? { kernel_authcode_sha256: apps[2] } : {}),
    shim_authcode_sha256: apps[0] as string,
    grub_authcode_sha256: apps[1] as string,
    initrd_plain_sha256: sha256Of(initrd)['sha256'] ?? fail('the initrd event has no sha256 digest'),
    ...(!sb && vmlinuz !== undefined ? { vmlinuz_plain_sha256: sha256Of(vmlinuz)['sha256'] ?? fail('the vmlinuz event has no sha256 digest') } : {}),
    kernel_cmdline: pyReEscape(iplString(cmdline).slice('kernel_cmdline: '.length)),
  };
}
