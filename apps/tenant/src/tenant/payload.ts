/**
 * @module tenant/payload: the bootstrap key K = U ⊕ V and what it protects (spec §5.1, §5.7): `-f`
 * encrypts a file, `-k`/`-p` take pre-made keys and payload, `--cert` builds a certificate package
 * zip (with `--include` files and the RevocationNotifier certificate). Keys are never printed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CaConfig } from '@keylime/config';
import { decryptPayload, encryptPayload, generateBootstrapKey } from '@keylime/crypto';
import { caCertPkg, caInit, caMkcert } from '../ca/store';
import type { CaLog } from '../ca/store';
import { buildStoredZip } from '../ca/zip';
import { UserError, oneLineMessage } from './errors';

export interface PayloadArgs {
  readonly file: string | undefined;
  readonly keyfile: string | undefined;
  readonly payload: string | undefined;
  readonly caDir: string | undefined;
  readonly inclDir: string | undefined;
  readonly verify: boolean;
}

/** K, U, V (all empty without a payload: attestation only), the payload and what the verifier keeps. */
export interface KeyMaterial {
  readonly k: Uint8Array;
  readonly u: Uint8Array;
  readonly v: Uint8Array;
  /** base64(IV ‖ AES-GCM ciphertext ‖ tag), or undefined. */
  readonly payload: string | undefined;
  readonly metadata: Readonly<Record<string, string | number>>;
  /** PEM of the RevocationNotifier private key (--cert), else "". */
  readonly revocationKey: string;
}

export interface CaAccess {
  /** Upstream CA_WORK_DIR, for `--cert default`. */
  readonly defaultDir: string;
  readonly config: () => CaConfig;
  readonly password: () => Promise<string>;
  readonly log: CaLog;
}

const NONE: KeyMaterial = {
  k: new Uint8Array(),
  u: new Uint8Array(),
  v: new Uint8Array(),
  payload: undefined,
  metadata: {},
  revocationKey: '',
};

function readInput(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `Cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : oneLineMessage(e)}`,
    );
  }
}

/** user_data_encrypt.encrypt: fresh K/U/V, the ciphertext, and upstream's decrypt self-check. */
export function encryptForAgent(contents: Uint8Array): {
  k: Uint8Array;
  u: Uint8Array;
  v: Uint8Array;
  payload: string;
} {
  const { k, u, v } = generateBootstrapKey();
  const payload = encryptPayload(k, contents);
  if (!Buffer.from(decryptPayload(k, payload)).equals(Buffer.from(contents))) {
    throw new UserError('Payload self-check failed: decryption did not return the plaintext');
  }
  return { k, u, v, payload };
}

/** `-k keyfile`: three base64 lines read as K, U, V (upstream's order). */
export function readKeyFile(file: string): { k: Uint8Array; u: Uint8Array; v: Uint8Array } {
  const lines = readInput(file, 'key file').toString('utf8').split(/\r?\n/);
  const decode = (i: number, name: string): Uint8Array => {
    const text = (lines[i] ?? '').trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length === 0 || text.length % 4 !== 0) {
      throw new UserError(`Invalid key file ${file}: line ${i + 1} (${name}) is not base64`);
    }
    return new Uint8Array(Buffer.from(text, 'base64'));
  };
  return { k: decode(0, 'K'), u: decode(1, 'U'), v: decode(2, 'V') };
}

/** The certificate package of `--cert` (upstream init_add, ca_dir branch). */
async function certPackage(
  agentUuid: string,
  args: PayloadArgs,
  ca: CaAccess,
): Promise<KeyMaterial> {
  const dir = path.resolve(
    args.caDir === 'default' ? ca.defaultDir : (args.caDir ?? ca.defaultDir),
  );
  const caDir = { dir, password: await ca.password(), config: ca.config() };
  if (!existsSync(dir) || !existsSync(path.join(dir, 'cacert.crt'))) {
    ca.log.warn('CA directory does not exist. Creating...');
    await caInit(caDir, ca.log);
  }
  if (!existsSync(path.join(dir, `${agentUuid}-private.pem`)))
    await caMkcert(caDir, agentUuid, ca.log);
  let pkg;
  try {
    pkg = await caCertPkg(caDir, agentUuid, false, ca.log);
  } catch (e) {
    throw new UserError(`Error reading the keystore from ${dir}: ${oneLineMessage(e)}`);
  }
  if (!existsSync(path.join(dir, 'RevocationNotifier-private.pem')))
    await caMkcert(caDir, 'RevocationNotifier', ca.log);
  const rev = await caCertPkg(caDir, 'RevocationNotifier', false, ca.log);
  const revKey = rev.entries.find((e) => e.name === 'RevocationNotifier-private.pem');
  const revCert = rev.entries.find((e) => e.name === 'RevocationNotifier-cert.crt');
  if (revKey === undefined || revCert === undefined)
    throw new UserError('RevocationNotifier package is incomplete');
  const entries = [...pkg.entries, { name: 'RevocationNotifier-cert.crt', data: revCert.data }];
  if (args.inclDir !== undefined) {
    if (existsSync(args.inclDir) && statSync(args.inclDir).isDirectory()) {
      for (const name of readdirSync(args.inclDir).sort()) {
        const file = path.join(args.inclDir, name);
        if (statSync(file).isFile())
          entries.push({ name, data: new Uint8Array(readInput(file, 'include file')) });
      }
    } else {
      ca.log.warn(`Specified include directory ${args.inclDir} does not exist. Skipping...`);
    }
  }
  const enc = encryptForAgent(buildStoredZip(entries));
  return {
    ...enc,
    metadata: { cert_serial: pkg.serial, subject: pkg.subject },
    revocationKey: Buffer.from(revKey.data).toString('utf8'),
  };
}

/** Upstream init_add's payload part: checks, then the key material for the chosen mode. */
export async function buildKeyMaterial(
  agentUuid: string,
  args: PayloadArgs,
  maxPayloadSize: number,
  ca: CaAccess,
): Promise<KeyMaterial> {
  if (args.verify && !(args.file || args.caDir || args.keyfile)) {
    throw new UserError(
      '--verify only works when a payload is provided to the agent via -k, -f, or --cert',
    );
  }
  const modes = [args.keyfile, args.file, args.caDir].filter((m) => m !== undefined).length;
  if (modes > 1) {
    throw new UserError(
      'You must specify one of -k, -f, or --cert to specify the key/contents to be securely delivered to the agent',
    );
  }
  if (args.caDir === undefined && args.inclDir !== undefined) {
    throw new UserError('--include option is only valid when used with --cert');
  }
  let material = NONE;
  if (args.keyfile !== undefined) {
    const keys = readKeyFile(args.keyfile);
    const payload =
      args.payload !== undefined ? readInput(args.payload, 'payload').toString('utf8') : undefined;
    material = { ...NONE, ...keys, payload };
  } else if (args.file !== undefined) {
    material = { ...NONE, ...encryptForAgent(new Uint8Array(readInput(args.file, 'file'))) };
  } else if (args.caDir !== undefined) {
    material = await certPackage(agentUuid, args, ca);
  }
  if (material.payload !== undefined && material.payload.length > maxPayloadSize) {
    throw new UserError(
      `Payload size ${material.payload.length} exceeds max size ${maxPayloadSize}`,
    );
  }
  return material;
}
