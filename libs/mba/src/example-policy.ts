/**
 * @module example-policy: upstream's `example` measured-boot policy (keylime/mba/elchecking/example.py),
 * re-expressed as an explicit rule table: spec §5.5 (refstate) and §5.6 (rules).
 */
import { fromHex } from '@keylime/core';
import { Guid } from './constants';
import {
  approvedDigest, digestSet, digestsOfData, enabledIs, eventObject, iplString, keySubset, keySuperset, signaturesAllowed,
} from './example-checks';
import type { DigestSet } from './example-checks';
import { readExampleRefState } from './example-refstate';
import type { ExampleRefState, Kernel } from './example-refstate';
import type { JsonObject, JsonValue } from './json';
import type { MbLogJson } from './normalise';
import type { MbPolicy, MbRefusal } from './policy';
import { compilePythonFullMatch } from './py-regex';

/** tpm2-tools < 5.2 printed GUIDs with the first three groups byte-swapped; both are accepted (keylime#1003). */
function swapped(guid: string): string {
  const h = guid.replace(/-/g, '');
  const sw = (s: string): string => (s.match(/../g) ?? []).reverse().join('');
  const x = sw(h.slice(0, 8)) + sw(h.slice(8, 12)) + sw(h.slice(12, 16)) + h.slice(16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
const GLOBAL = [Guid.efiGlobalVariable, swapped(Guid.efiGlobalVariable)];
const SECURITY_DB = [Guid.imageSecurityDatabase, swapped(Guid.imageSecurityDatabase)];
const SHIM = [Guid.shimLock, swapped(Guid.shimLock)];
const X509 = [Guid.certX509, swapped(Guid.certX509)];
const SHA256 = [Guid.certSha256, swapped(Guid.certSha256)];

const EFI_ACTIONS: Readonly<Record<number, readonly string[]>> = {
  1: ['Entering ROM Based Setup'],
  4: ['Calling EFI Application from Boot Option', 'Returning from EFI Application from Boot Option'],
  5: ['Exit Boot Services Invocation', 'Exit Boot Services Returned with Failure', 'Exit Boot Services Returned with Success'],
};
const SEPARATORS = ['00000000', 'FFFFFFFF'].map((v) => ({ text: v, digests: digestsOfData(fromHex(v)) }));
const GRUB_CMD = compilePythonFullMatch('grub_cmd: .*', { dotAll: true });
const KERNEL_CMDLINE = compilePythonFullMatch('kernel_cmdline: .*');
const PCR9 = {
  loaderEntries: compilePythonFullMatch('.*/loader/entries.*'),
  grub: compilePythonFullMatch('.*/grub.*'),
  vmlinuz: compilePythonFullMatch('.*/vmlinuz.*'),
  initrd: compilePythonFullMatch('.*/initrd.*'),
  initramfs: compilePythonFullMatch('.*/initramfs.*'),
};

/** Per-evaluation state: the "once" counters and the events collected for the final checks. */
interface Run {
  readonly ref: ExampleRefState;
  readonly used: Map<string, number>;
  readonly sCrtms: JsonObject[];
  readonly firmwareBlobs: JsonObject[];
  readonly bsas: JsonObject[];
  readonly ipl9s: JsonObject[];
  readonly vmlinuz: JsonObject[];
  readonly cmdlines: string[];
}

type Verdict = '' | { readonly rule: string; readonly reason: string };

function refuse(rule: string, reason: string): Verdict {
  return { rule, reason };
}

/** "once" (upstream OnceTest): the `max`-th + 1 use of `key` fails. */
function once(run: Run, key: string, max = 1): Verdict {
  const n = (run.used.get(key) ?? 0) + 1;
  run.used.set(key, n);
  return n > max ? refuse('once', `${key}: test was already run once`) : '';
}

function evaluateExample(refstate: unknown, log: MbLogJson): MbRefusal | undefined {
  const ref = readExampleRefState(refstate);
  const run: Run = { ref, used: new Map(), sCrtms: [], firmwareBlobs: [], bsas: [], ipl9s: [], vmlinuz: [], cmdlines: [] };
  for (const ev of log.events) {
    const v = checkEvent(run, ev);
    if (v !== '') {
      const event = { EventNum: num(ev['EventNum']), PCRIndex: num(ev['PCRIndex']), EventType: show(ev['EventType']) };
      return { rule: v.rule, event, reason: `event #${event.EventNum} (PCR ${event.PCRIndex}, ${event.EventType}) ${v.reason}` };
    }
  }
  const k = checkKernels(run);
  if (k !== '') return { rule: 'kernels', reason: k };
  const s = checkScrtmAndBios(run);
  return s === '' ? undefined : { rule: 'scrtm_and_bios', reason: s };
}

/** A JSON value for a reason text. */
function show(v: JsonValue | undefined): string {
  return typeof v === 'string' ? v : JSON.stringify(v) ?? 'undefined';
}

function num(v: JsonValue | undefined): number {
  return typeof v === 'number' ? v : -1;
}

function checkEvent(run: Run, ev: JsonObject): Verdict {
  const pcr = ev['PCRIndex'];
  const type = ev['EventType'];
  if (typeof pcr !== 'number' || typeof type !== 'string') return refuse('dispatch', 'has no PCRIndex or EventType');
  const key = `${pcr}:${type}`;
  switch (key) {
    case '0:EV_NO_ACTION': // the Spec ID header; a StartupLocality event fails here too (spec §5.6 QUIRK)
    case '1:EV_CPU_MICROCODE':
    case '1:EV_EFI_HANDOFF_TABLES':
    case '1:EV_EFI_HANDOFF_TABLES2':
    case '5:EV_EFI_GPT_EVENT':
      return once(run, key);
    case '1:EV_PLATFORM_CONFIG_FLAGS': // edk2 measures up to four (keylime#1393)
      return once(run, key, 4);
    case '0:EV_S_CRTM_VERSION':
      run.sCrtms.push(ev);
      return '';
    case '0:EV_EFI_PLATFORM_FIRMWARE_BLOB':
    case '0:EV_EFI_PLATFORM_FIRMWARE_BLOB2':
      run.firmwareBlobs.push(ev);
      return '';
    case '2:EV_EFI_BOOT_SERVICES_DRIVER':
      return '';
    case '4:EV_EFI_BOOT_SERVICES_APPLICATION':
      run.bsas.push(ev);
      return '';
    case '1:EV_EFI_VARIABLE_BOOT':
      return bootVariable(ev);
    case '7:EV_EFI_VARIABLE_DRIVER_CONFIG':
      return variable(run, ev, driverConfigRule);
    case '7:EV_EFI_VARIABLE_AUTHORITY':
      return variable(run, ev, authorityRule);
    case '1:EV_EFI_ACTION':
    case '4:EV_EFI_ACTION':
    case '5:EV_EFI_ACTION':
      return efiAction(ev, pcr);
    case '8:EV_IPL':
      return pcr8(run, ev);
    case '9:EV_IPL':
      return pcr9(run, ev);
    case '14:EV_IPL':
      return pcr14(run, ev);
    default:
      if (type === 'EV_SEPARATOR' && pcr >= 0 && pcr <= 7) return separator(ev);
      return refuse('dispatch', `has unexpected ('PCRIndex', 'EventType') combination (${pcr}, '${type}')`);
  }
}

function separator(ev: JsonObject): Verdict {
  const reasons: string[] = [];
  for (const s of SEPARATORS) {
    if (ev['Event'] !== s.text) reasons.push(`Event is not '${s.text}'`);
    else {
      const why = approvedDigest(ev, s.digests);
      if (why === '') return '';
      reasons.push(why);
    }
  }
  return refuse('separator', `[${reasons.join(', ')}]`);
}

function efiAction(ev: JsonObject, pcr: number): Verdict {
  const reasons: string[] = [];
  for (const text of EFI_ACTIONS[pcr] ?? []) {
    if (ev['Event'] !== text) reasons.push(`Event is not '${text}'`);
    else {
      const why = approvedDigest(ev, digestsOfData(new TextEncoder().encode(text)));
      if (why === '') return '';
      reasons.push(why);
    }
  }
  return refuse('efi_action', `[${reasons.join(', ')}]`);
}

function bootVariable(ev: JsonObject): Verdict {
  const e = eventObject(ev);
  if (typeof e === 'string') return refuse('boot_variable', e);
  const guid = e['VariableName'];
  const name = e['UnicodeName'];
  if (typeof guid !== 'string' || !GLOBAL.includes(guid)) return refuse('boot_variable', `Event.VariableName is ${show(guid)} rather than ${Guid.efiGlobalVariable}`);
  if (typeof name !== 'string' || !/^(?:BootOrder|Boot[0-9a-fA-F]+)$/.test(name)) {
    return refuse('boot_variable', `Event.UnicodeName, ${show(name)}, does not match BootOrder|Boot[0-9a-fA-F]+`);
  }
  return e['VariableData'] === undefined ? refuse('boot_variable', 'Event has no VariableData field') : '';
}

/** A rule for one (variable GUID, name); undefined when the combination is not allowed. */
type VariableRule = (run: Run, guid: string, name: string) => ((data: JsonValue | undefined) => string) | undefined;

function variable(run: Run, ev: JsonObject, rule: VariableRule): Verdict {
  const e = eventObject(ev);
  if (typeof e === 'string') return refuse('variable', e);
  const guid = e['VariableName'];
  const name = e['UnicodeName'];
  if (guid === undefined || name === undefined) return refuse('variable', 'Event has no VariableName or UnicodeName');
  const test = typeof guid === 'string' && typeof name === 'string' ? rule(run, guid, name) : undefined;
  if (test === undefined) {
    return refuse('variable', `Event has unexpected ('VariableName', 'UnicodeName') combination ('${show(guid)}', '${show(name)}')`);
  }
  if (!('VariableData' in e)) return refuse(`variable:${show(name)}`, "Event has no 'VariableData' field");
  const why = test(e['VariableData']);
  return why === '' ? '' : refuse(`variable:${show(name)}`, `Event VariableData ${why}`);
}

/** Wraps a check in upstream's OnceTest, keyed by variable name. */
function onceVar(run: Run, name: string, check: (d: JsonValue | undefined) => string): (d: JsonValue | undefined) => string {
  return (d) => {
    const o = once(run, `variable ${name}`);
    return o === '' ? check(d) : o.reason;
  };
}

function driverConfigRule(run: Run, guid: string, name: string): ((d: JsonValue | undefined) => string) | undefined {
  const { ref } = run;
  const acceptEmpty = (keys: readonly unknown[]): boolean => !ref.hasSecureBoot && keys.length === 0;
  if (GLOBAL.includes(guid)) {
    if (name === 'SecureBoot') return (d) => enabledIs(d, [ref.hasSecureBoot ? 'Yes' : 'No']);
    if (name === 'PK' || name === 'KEK') {
      const keys = name === 'PK' ? ref.pk : ref.kek;
      return onceVar(run, name, (d) => (acceptEmpty(keys) ? '' : keySubset(d, X509, keys)));
    }
  }
  if (SECURITY_DB.includes(guid)) {
    if (name === 'db' || name === 'vendor_db') {
      const keys = name === 'db' ? ref.db : ref.vendorDb;
      return onceVar(run, name, (d) => (acceptEmpty(keys) ? '' : keySubset(d, [...X509, ...SHA256], keys)));
    }
    if (name === 'dbx') return onceVar(run, name, (d) => (acceptEmpty(ref.dbx) ? '' : keySuperset(d, SHA256, ref.dbx)));
  }
  return undefined;
}

function authorityRule(run: Run, guid: string, name: string): ((d: JsonValue | undefined) => string) | undefined {
  const { ref } = run;
  const accept = (): string => '';
  if (SECURITY_DB.includes(guid)) {
    // The cert that verified shim is trusted because shim's digest is checked (upstream TODO).
    if (name === 'db') return onceVar(run, 'authority db', accept);
    if (name === 'vendor_db') {
      return onceVar(run, 'authority vendor_db', (d) => (!ref.hasSecureBoot && ref.vendorDb.length === 0 ? '' : signaturesAllowed(d, ref.vendorDb)));
    }
  }
  if (SHIM.includes(guid) && (name === 'SbatLevel' || name === 'Shim')) return onceVar(run, `authority ${name}`, accept);
  if (guid === Guid.shimLock && name === 'MokListTrusted') return onceVar(run, 'authority MokListTrusted', (d) => enabledIs(d, ['Yes', 'No']));
  if (guid === Guid.shimLock && name === 'MokListRT') return onceVar(run, 'authority MokListRT', accept);
  return undefined;
}

function pcr8(run: Run, ev: JsonObject): Verdict {
  const s = iplString(ev);
  if (typeof s !== 'string') return refuse('ipl_pcr8', s.reason);
  if (GRUB_CMD.test(s)) return '';
  if (KERNEL_CMDLINE.test(s)) {
    run.cmdlines.push(s);
    return '';
  }
  return refuse('ipl_pcr8', `Event String does not match grub_cmd: .* or kernel_cmdline: .*`);
}

function pcr9(run: Run, ev: JsonObject): Verdict {
  const s = iplString(ev);
  if (typeof s !== 'string') return refuse('ipl_pcr9', s.reason);
  if (PCR9.loaderEntries.test(s) || PCR9.grub.test(s)) return '';
  if (PCR9.vmlinuz.test(s)) {
    run.vmlinuz.push(ev);
    return '';
  }
  if (PCR9.initrd.test(s) || PCR9.initramfs.test(s)) {
    run.ipl9s.push(ev);
    return '';
  }
  return refuse('ipl_pcr9', `Event String ${JSON.stringify(s)} is not a loader entry, grub file, vmlinuz or initrd`);
}

function pcr14(run: Run, ev: JsonObject): Verdict {
  const s = iplString(ev);
  if (typeof s !== 'string') return refuse('mok', s.reason);
  if (s === 'MokList' || s === 'MokListX') {
    const why = approvedDigest(ev, digestSet(s === 'MokList' ? run.ref.mokdig : run.ref.mokxdig));
    return why === '' ? '' : refuse(s === 'MokList' ? 'mokdig' : 'mokxdig', `(${s}) ${why}`);
  }
  if (s === 'MokListTrusted') return once(run, 'MokListTrusted');
  return refuse('mok', `Event String ${JSON.stringify(s)} is not MokList, MokListX or MokListTrusted`);
}

const sha256 = (hex: string): DigestSet => new Map([['sha256', new Set([hex])]]);

/** Collected events equal `tests` one to one, in order (upstream TupleTest). */
function tuple(name: string, got: readonly JsonObject[], tests: readonly DigestSet[] | undefined): string {
  if (tests === undefined) return got.length === 1 ? '' : `${name} has ${got.length} events, expected 1`;
  if (got.length !== tests.length) return `${name} has ${got.length} events, expected ${tests.length}`;
  for (const [i, t] of tests.entries()) {
    const why = approvedDigest(got[i], t);
    if (why !== '') return `${name}[${i}] ${why}`;
  }
  return '';
}

function checkKernel(run: Run, k: Kernel): string {
  const chains: DigestSet[][] = run.ref.hasSecureBoot
    ? [[sha256(k.shim), sha256(k.grub), sha256(k.kernel ?? '')], [sha256(k.shim), sha256(k.grub), sha256(k.kernel ?? ''), sha256(k.kernel ?? '')]]
    : [[sha256(k.shim), sha256(k.grub)]];
  const bsa = chains.map((c) => tuple('bsas', run.bsas, c));
  if (!bsa.includes('')) return bsa.length === 1 ? (bsa[0] ?? '') : `[${bsa.join(', ')}]`;
  const initrd = tuple('ipl9s', run.ipl9s, [sha256(k.initrd)]);
  if (initrd !== '') return initrd;
  const vmlinuz = tuple('vmlinuz', run.vmlinuz, k.vmlinuz === undefined ? undefined : [sha256(k.vmlinuz)]);
  if (vmlinuz !== '') return vmlinuz;
  if (run.cmdlines.length !== 1) return `kernel_cmdlines has ${run.cmdlines.length} events, expected 1`;
  return k.cmdline.test(run.cmdlines[0] ?? '') ? '' : `kernel_cmdlines[0] does not match ${k.cmdline.source}`;
}

function checkKernels(run: Run): string {
  if (run.ref.kernels.length === 0) return 'does not pass empty disjunction';
  const reasons = run.ref.kernels.map((k) => checkKernel(run, k));
  return reasons.includes('') ? '' : `no allowed kernel matches: [${reasons.join(', ')}]`;
}

function checkScrtmAndBios(run: Run): string {
  if (run.ref.scrtmAndBios.length === 0) return 'does not pass empty disjunction';
  const reasons = run.ref.scrtmAndBios.map((e) => {
    const s = tuple('s_crtms', run.sCrtms, [digestSet([e.scrtm])]);
    return s !== '' ? s : tuple('platform_firmware_blobs', run.firmwareBlobs, e.platformFirmware.map((d) => digestSet([d])));
  });
  return reasons.includes('') ? '' : `no allowed S-CRTM and BIOS matches: [${reasons.join(', ')}]`;
}

/** The `example` engine. */
export const examplePolicy: MbPolicy = {
  name: 'example',
  relevantPcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 14],
  validateRefstate: (refstate) => {
    readExampleRefState(refstate);
  },
  evaluate: evaluateExample,
};

