/** @module constants: TCG PC Client event types, hash algorithm ids and EFI GUIDs the log uses. */

/** Event types (TCG PC Client PFP, table 9 and 10), spelled as tpm2_eventlog prints them. */
export const EventType = {
  EV_PREBOOT_CERT: 0x0,
  EV_POST_CODE: 0x1,
  EV_UNUSED: 0x2,
  EV_NO_ACTION: 0x3,
  EV_SEPARATOR: 0x4,
  EV_ACTION: 0x5,
  EV_EVENT_TAG: 0x6,
  EV_S_CRTM_CONTENTS: 0x7,
  EV_S_CRTM_VERSION: 0x8,
  EV_CPU_MICROCODE: 0x9,
  EV_PLATFORM_CONFIG_FLAGS: 0xa,
  EV_TABLE_OF_DEVICES: 0xb,
  EV_COMPACT_HASH: 0xc,
  EV_IPL: 0xd,
  EV_IPL_PARTITION_DATA: 0xe,
  EV_NONHOST_CODE: 0xf,
  EV_NONHOST_CONFIG: 0x10,
  EV_NONHOST_INFO: 0x11,
  EV_OMIT_BOOT_DEVICE_EVENTS: 0x12,
  EV_EFI_VARIABLE_DRIVER_CONFIG: 0x80000001,
  EV_EFI_VARIABLE_BOOT: 0x80000002,
  EV_EFI_BOOT_SERVICES_APPLICATION: 0x80000003,
  EV_EFI_BOOT_SERVICES_DRIVER: 0x80000004,
  EV_EFI_RUNTIME_SERVICES_DRIVER: 0x80000005,
  EV_EFI_GPT_EVENT: 0x80000006,
  EV_EFI_ACTION: 0x80000007,
  EV_EFI_PLATFORM_FIRMWARE_BLOB: 0x80000008,
  EV_EFI_HANDOFF_TABLES: 0x80000009,
  EV_EFI_PLATFORM_FIRMWARE_BLOB2: 0x8000000a,
  EV_EFI_HANDOFF_TABLES2: 0x8000000b,
  EV_EFI_VARIABLE_BOOT2: 0x8000000c,
  EV_EFI_HCRTM_EVENT: 0x80000010,
  EV_EFI_VARIABLE_AUTHORITY: 0x800000e0,
} as const;
export type EventTypeName = keyof typeof EventType;

/** What tpm2_eventlog prints for a type it does not know; the policy sees this string. */
export const UNKNOWN_EVENT_TYPE = 'Unknown event type';

const EVENT_TYPE_NAMES: ReadonlyMap<number, EventTypeName> = new Map(
  (Object.entries(EventType) as [EventTypeName, number][]).map(([name, value]) => [value, name]),
);

/** The tpm2_eventlog name of an event type (spec §5.3), or "Unknown event type". */
export function eventTypeName(type: number): string {
  return EVENT_TYPE_NAMES.get(type) ?? UNKNOWN_EVENT_TYPE;
}

/** TPM_ALG_ID values of the hash algorithms a log may carry (TPM 2.0 Part 2 §6.3). */
export const HashAlgId = {
  sha1: 0x0004,
  sha256: 0x000b,
  sha384: 0x000c,
  sha512: 0x000d,
  sm3_256: 0x0012,
} as const;
export type BankName = keyof typeof HashAlgId;

/** Digest size of each known algorithm; the Spec ID table must agree with it. */
export const DIGEST_SIZE: Readonly<Record<BankName, number>> = {
  sha1: 20,
  sha256: 32,
  sha384: 48,
  sha512: 64,
  sm3_256: 32,
};

/** The algorithm name for a TPM_ALG_ID, or undefined when it is not a hash we know. */
export function bankName(algId: number): BankName | undefined {
  for (const [name, id] of Object.entries(HashAlgId) as [BankName, number][]) {
    if (id === algId) return name;
  }
  return undefined;
}

/** GUIDs the example policy and the decoder care about (canonical spelling, spec §5.6). */
export const Guid = {
  efiGlobalVariable: '8be4df61-93ca-11d2-aa0d-00e098032b8c',
  imageSecurityDatabase: 'd719b2cb-3d3a-4596-a3bc-dad00e67656f',
  shimLock: '605dab50-e046-4300-abb6-3dd810dd8b23',
  certX509: 'a5c059a1-94e4-4aa7-87b5-ab155c2bf072',
  certSha256: 'c1c41626-504c-4092-aca9-41f936934328',
} as const;

/** PCRs a PC Client TPM has (PFP §2.3.4); higher indices in a log are rejected. */
export const PCR_COUNT = 24;
