/**
 * @module example-refstate: the `example` policy's reference state (spec §5.5): its JSON shape as
 * upstream writes it, and a strict reader that turns it into the typed form the rules use.
 */
import { refStateError } from './errors';
import { isJsonObject } from './json';
import { compilePythonFullMatch } from './py-regex';

/** `{alg: "0x<hex>"}` as written in a refstate. */
export type DigestJson = Readonly<Record<string, string>>;
export interface SignatureJson {
  readonly SignatureOwner: string;
  readonly SignatureData: string;
}
export interface KernelJson {
  readonly shim_authcode_sha256: string;
  readonly grub_authcode_sha256: string;
  readonly kernel_authcode_sha256?: string;
  readonly vmlinuz_plain_sha256?: string;
  readonly initrd_plain_sha256: string;
  readonly kernel_cmdline: string;
}
/** The refstate document (what `keylime-policy create measured-boot` writes). */
export interface ExampleRefStateJson {
  readonly has_secureboot?: boolean;
  readonly scrtm_and_bios: readonly { readonly scrtm: DigestJson; readonly platform_firmware: readonly DigestJson[] }[];
  readonly pk: readonly SignatureJson[];
  readonly kek: readonly SignatureJson[];
  readonly db: readonly SignatureJson[];
  readonly dbx: readonly SignatureJson[];
  readonly vendor_db?: readonly SignatureJson[];
  readonly mokdig: readonly DigestJson[];
  readonly mokxdig: readonly DigestJson[];
  readonly kernels: readonly KernelJson[];
}

/** Digest with the `0x` removed: alg → lowercase hex. */
export type Digest = ReadonlyMap<string, string>;
export interface Signature {
  readonly owner: string;
  /** Lowercase hex without `0x`. */
  readonly data: string;
}
export interface Kernel {
  readonly shim: string;
  readonly grub: string;
  /** Authenticode digest of the kernel (Secure Boot). */
  readonly kernel: string | undefined;
  /** Plain digest of vmlinuz (without Secure Boot). */
  readonly vmlinuz: string | undefined;
  readonly initrd: string;
  /** Full-match regex for the whole `kernel_cmdline: …` string. */
  readonly cmdline: RegExp;
}
export interface ExampleRefState {
  readonly hasSecureBoot: boolean;
  readonly scrtmAndBios: readonly { readonly scrtm: Digest; readonly platformFirmware: readonly Digest[] }[];
  readonly pk: readonly Signature[];
  readonly kek: readonly Signature[];
  readonly db: readonly Signature[];
  readonly dbx: readonly Signature[];
  readonly vendorDb: readonly Signature[];
  readonly mokdig: readonly Digest[];
  readonly mokxdig: readonly Digest[];
  readonly kernels: readonly Kernel[];
}

const HEX = /^0x[0-9a-f]+$/;

/**
 * Validates a refstate as upstream's `Example.refstate_to_test` does and returns the typed form.
 * Throws KeylimeError KL_MBA_INVALID_REFSTATE naming the offending path.
 */
export function readExampleRefState(v: unknown): ExampleRefState {
  if (!isJsonObject(v)) throw refStateError('refstate is not a JSON object');
  const sb = v['has_secureboot'] ?? true;
  if (typeof sb !== 'boolean') throw refStateError('refstate.has_secureboot is not a boolean');
  const kernels = list(v, 'kernels').map((k, i) => kernel(k, `kernels[${i}]`, sb));
  const scrtmAndBios = list(v, 'scrtm_and_bios').map((e, i) => {
    const where = `scrtm_and_bios[${i}]`;
    if (!isJsonObject(e)) throw refStateError(`refstate.${where} is not an object`);
    return {
      scrtm: digest(e['scrtm'], `${where}.scrtm`),
      platformFirmware: list(e, 'platform_firmware', where).map((d, j) => digest(d, `${where}.platform_firmware[${j}]`)),
    };
  });
  return {
    hasSecureBoot: sb,
    scrtmAndBios,
    pk: signatures(v, 'pk'),
    kek: signatures(v, 'kek'),
    db: signatures(v, 'db'),
    dbx: signatures(v, 'dbx'),
    vendorDb: v['vendor_db'] === undefined ? [] : signatures(v, 'vendor_db'),
    mokdig: list(v, 'mokdig').map((d, i) => digest(d, `mokdig[${i}]`)),
    mokxdig: list(v, 'mokxdig').map((d, i) => digest(d, `mokxdig[${i}]`)),
    kernels,
  };
}

function list(o: Readonly<Record<string, unknown>>, key: string, where = ''): readonly unknown[] {
  const v = o[key];
  const path = where === '' ? key : `${where}.${key}`;
  if (v === undefined) throw refStateError(`refstate lacks ${path}`);
  if (!Array.isArray(v)) throw refStateError(`refstate.${path} is not a list`);
  return v;
}

function hex(v: unknown, path: string): string {
  if (typeof v !== 'string' || !HEX.test(v)) {
    throw refStateError(`refstate.${path} is not 0x followed by some lowercase hex digits`);
  }
  return v.slice(2);
}

function digest(v: unknown, path: string): Digest {
  if (!isJsonObject(v)) throw refStateError(`refstate.${path} is not a digest object`);
  return new Map(Object.entries(v).map(([alg, h]) => [alg, hex(h, `${path}.${alg}`)]));
}

function signatures(o: Readonly<Record<string, unknown>>, key: string): Signature[] {
  return list(o, key).map((s, i) => {
    const path = `${key}[${i}]`;
    if (!isJsonObject(s)) throw refStateError(`refstate.${path} is not an object`);
    const owner = s['SignatureOwner'];
    const data = s['SignatureData'];
    if (typeof owner !== 'string') throw refStateError(`refstate.${path}.SignatureOwner is not a string`);
    if (typeof data !== 'string' || !data.startsWith('0x')) throw refStateError(`refstate.${path}.SignatureData does not start with 0x`);
    return { owner, data: data.slice(2) };
  });
}

function kernel(k: unknown, path: string, sb: boolean): Kernel {
  if (!isJsonObject(k)) throw refStateError(`refstate.${path} is not an object`);
  const cmdline = k['kernel_cmdline'];
  if (typeof cmdline !== 'string') throw refStateError(`refstate.${path}.kernel_cmdline is not a string`);
  return {
    shim: hex(k['shim_authcode_sha256'], `${path}.shim_authcode_sha256`),
    grub: hex(k['grub_authcode_sha256'], `${path}.grub_authcode_sha256`),
    kernel: sb ? hex(k['kernel_authcode_sha256'], `${path}.kernel_authcode_sha256`) : undefined,
    vmlinuz: sb ? undefined : hex(k['vmlinuz_plain_sha256'], `${path}.vmlinuz_plain_sha256`),
    initrd: hex(k['initrd_plain_sha256'], `${path}.initrd_plain_sha256`),
    cmdline: compilePythonFullMatch(`kernel_cmdline: ${cmdline}`),
  };
}
