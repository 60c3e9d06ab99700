/**
 * @module ca/store: a keylime_ca directory on disk, as upstream's ca_util lays it out (cacert.crt,
 * private.yml, ca-public.pem, cacrl.der/.pem, <name>-cert.crt/-private.pem/-public.pem,
 * <name>-pkg.zip): init, create, pkg, revoke, import-priv. Shared by keylime_ca and `--cert`.
 */
import { X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { CaConfig } from '@keylime/config';
import {
  createKeylimeCa,
  decodePrivateYml,
  encodePrivateYml,
  exportPrivateKeyPem,
  importPrivateKey,
  issueCertificate,
  openKeylimeCa,
  revokeCertificate,
} from '@keylime/crypto';
import type { CaKeyStore, KeylimeCa, KeylimeCaOptions } from '@keylime/crypto';
import { UserError, oneLineMessage } from '../tenant/errors';
import { buildStoredZip } from './zip';

/** Where and with which password and profile the CA lives. */
export interface CaDir {
  readonly dir: string;
  readonly password: string;
  readonly config: CaConfig;
}

/** Something that receives upstream's INFO/WARNING lines. */
export interface CaLog {
  info(message: string): void;
  warn(message: string): void;
}

const FILE_MODE = 0o640;

function profileOf(config: CaConfig): KeylimeCaOptions {
  return {
    country: config.certCountry,
    caName: config.certCaName,
    state: config.certState,
    locality: config.certLocality,
    organization: config.certOrganization,
    orgUnit: config.certOrgUnit,
    caLifetimeDays: config.certCaLifetimeDays,
    keyBits: config.certBits,
    crlDistributionPoint: config.certCrlDist,
  };
}

function writeFile(file: string, data: string | Uint8Array): void {
  writeFileSync(file, data, { mode: FILE_MODE });
  chmodSync(file, FILE_MODE);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `Cannot read ${what} ${file}: ${code === 'ENOENT' ? 'no such file' : oneLineMessage(e)}`,
    );
  }
}

/** Upstream fs_util.ch_dir: the directory is created (0700) when missing. */
function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UserError(`Cannot create CA directory ${dir}: ${oneLineMessage(e)}`);
  }
  if (!statSync(dir).isDirectory()) throw new UserError(`${dir} is not a directory`);
}

function requireCa(dir: string): void {
  if (!existsSync(path.join(dir, 'cacert.crt')) || !existsSync(path.join(dir, 'private.yml'))) {
    throw new UserError(
      `No CA in ${dir} (cacert.crt or private.yml missing); run keylime_ca -c init -d ${dir} first`,
    );
  }
}

function saltOf(privateYml: string): string {
  const m = /^salt: (\S+)\s*$/m.exec(privateYml);
  if (!m?.[1]) throw new UserError('private.yml has no salt');
  return m[1];
}

async function readPrivate(ca: CaDir): Promise<{ store: CaKeyStore; salt: string; text: string }> {
  const text = readText(path.join(ca.dir, 'private.yml'), 'CA key store');
  try {
    return { store: await decodePrivateYml(text, ca.password), salt: saltOf(text), text };
  } catch (e) {
    if (e instanceof UserError) throw e;
    if ((e as { code?: unknown }).code === 'KL_CRYPTO_DECRYPT_FAILED') {
      throw new UserError('Invalid password for keystore');
    }
    throw new UserError(`Cannot read the CA key store in ${ca.dir}: ${oneLineMessage(e)}`);
  }
}

async function writePrivate(ca: CaDir, store: CaKeyStore, salt?: string): Promise<void> {
  writeFile(path.join(ca.dir, 'private.yml'), await encodePrivateYml(store, ca.password, salt));
}

async function openCa(ca: CaDir): Promise<{ ca: KeylimeCa; store: CaKeyStore; salt: string }> {
  requireCa(ca.dir);
  const { salt, text } = await readPrivate(ca);
  const cert = readText(path.join(ca.dir, 'cacert.crt'), 'CA certificate');
  try {
    const opened = await openKeylimeCa(cert, text, {
      ...profileOf(ca.config),
      caPassword: ca.password,
    });
    return { ...opened, salt };
  } catch (e) {
    throw new UserError(`Cannot open the CA in ${ca.dir}: ${oneLineMessage(e)}`);
  }
}

/** Upstream cmd_init: removes old keys and certificates, makes a new CA (serial 1) and an empty CRL. */
export async function caInit(ca: CaDir, log: CaLog): Promise<void> {
  ensureDir(ca.dir);
  for (const f of readdirSync(ca.dir)) {
    if (/\.(pem|crt|zip|der)$/.test(f) || f === 'private.yml')
      rmSync(path.join(ca.dir, f), { force: true });
  }
  const created = await createKeylimeCa(profileOf(ca.config));
  writeFile(path.join(ca.dir, 'cacert.crt'), created.certificatePem);
  await writePrivate(ca, {
    ca: created.privateKeyPem,
    lastSerial: 1,
    revokedSerials: [],
    keys: {},
  });
  writeFile(path.join(ca.dir, 'ca-public.pem'), created.publicKeyPem);
  writeFile(path.join(ca.dir, 'cacrl.der'), created.crlDer);
  writeFile(path.join(ca.dir, 'cacrl.pem'), created.crlPem);
  log.info(`CA certificate created successfully in ${ca.dir}`);
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

function checkName(name: string): void {
  if (!NAME_RE.test(name) || name === 'ca' || name === 'lastserial' || name === 'revoked_keys') {
    throw new UserError(
      `Invalid certificate name "${name}": use letters, digits, '.', '_' and '-' (not ca, lastserial, revoked_keys)`,
    );
  }
}

/** Upstream cmd_mkcert: a leaf signed by the CA, its key stored in private.yml and on disk. */
export async function caMkcert(ca: CaDir, name: string, log: CaLog): Promise<number> {
  checkName(name);
  ensureDir(ca.dir);
  const opened = await openCa(ca);
  const issued = await issueCertificate(opened.ca, { commonName: name, kind: 'client' });
  const cert = issued.certificate;
  writeFile(path.join(ca.dir, `${name}-cert.crt`), cert.certificatePem);
  await writePrivate(
    ca,
    {
      ...opened.store,
      lastSerial: issued.ca.lastSerial,
      keys: { ...opened.store.keys, [name]: cert.privateKeyPem },
    },
    opened.salt,
  );
  writeFile(path.join(ca.dir, `${name}-private.pem`), cert.privateKeyPem);
  writeFile(path.join(ca.dir, `${name}-public.pem`), cert.publicKeyPem);
  log.info(`Created certificate for name ${name} successfully in ${ca.dir}`);
  return cert.serial;
}

/** RFC 4514 text of a certificate subject, as python-cryptography's rfc4514_string() writes it. */
export function rfc4514Subject(cert: X509Certificate): string {
  const escape = (v: string): string =>
    v
      .replace(/([\\,+"<>;=])/g, '\\$1')
      .replace(/^([ #])/, '\\$1')
      .replace(/ $/, '\\ ');
  return cert.subject
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const i = l.indexOf('=');
      return `${l.slice(0, i)}=${escape(l.slice(i + 1))}`;
    })
    .reverse()
    .join(',');
}

export interface CertPackage {
  readonly zip: Uint8Array;
  readonly serial: number;
  readonly subject: string;
  /** The package's files, for callers that add more (the tenant's RevocationNotifier cert). */
  readonly entries: readonly { name: string; data: Uint8Array }[];
}

/**
 * Upstream cmd_certpkg: a STORED zip with <name>-public.pem, -cert.crt, the unencrypted
 * -private.pem from private.yml, cacert.crt, cacrl.der, cacrl.pem. Also writes <name>-pkg.zip
 * (with the on-disk, possibly protected, private key unless `insecure`).
 */
export async function caCertPkg(
  ca: CaDir,
  name: string,
  insecure: boolean,
  log: CaLog,
): Promise<CertPackage> {
  checkName(name);
  requireCa(ca.dir);
  const read = (f: string): Uint8Array => new Uint8Array(readFileSync(path.join(ca.dir, f)));
  const files = ['cacert.crt', `${name}-public.pem`, `${name}-cert.crt`, 'cacrl.der', 'cacrl.pem'];
  for (const f of files) {
    if (!existsSync(path.join(ca.dir, f)))
      throw new UserError(`Cannot build the package for ${name}: ${f} is missing in ${ca.dir}`);
  }
  const certPem = read(`${name}-cert.crt`);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(certPem));
  } catch (e) {
    throw new UserError(`${name}-cert.crt is not a certificate: ${oneLineMessage(e)}`);
  }
  const { store } = await readPrivate(ca);
  const privatePem = store.keys[name];
  if (privatePem === undefined)
    throw new UserError(`The CA key store has no private key for ${name}`);
  const head = [
    { name: `${name}-public.pem`, data: read(`${name}-public.pem`) },
    { name: `${name}-cert.crt`, data: certPem },
  ];
  const tail = [
    { name: 'cacert.crt', data: read('cacert.crt') },
    { name: 'cacrl.der', data: read('cacrl.der') },
    { name: 'cacrl.pem', data: read('cacrl.pem') },
  ];
  const entries = [
    ...head,
    { name: `${name}-private.pem`, data: new Uint8Array(Buffer.from(privatePem, 'utf8')) },
    ...tail,
  ];
  const zip = buildStoredZip(entries);
  if (insecure) {
    log.warn('Unprotected private keys in cert package being written to disk');
    writeFile(path.join(ca.dir, `${name}-pkg.zip`), zip);
  } else {
    const onDisk = existsSync(path.join(ca.dir, `${name}-private.pem`))
      ? read(`${name}-private.pem`)
      : new Uint8Array();
    writeFile(
      path.join(ca.dir, `${name}-pkg.zip`),
      buildStoredZip([...head, { name: `${name}-private.pem`, data: onDisk }, ...tail]),
    );
  }
  log.info(`Creating cert package for ${name} in ${name}-pkg.zip`);
  return {
    zip,
    serial: Number(BigInt(`0x${cert.serialNumber}`)),
    subject: rfc4514Subject(cert),
    entries,
  };
}

/** Upstream cmd_revoke: adds the certificate's serial to revoked_keys and re-signs the CRL. */
export async function caRevoke(
  ca: CaDir,
  target: { name?: string; serial?: string },
  log: CaLog,
): Promise<Uint8Array> {
  if (target.name !== undefined && target.serial !== undefined) {
    throw new UserError('You may not specify a cert and a serial at the same time');
  }
  let serial = target.serial;
  if (target.name !== undefined) {
    checkName(target.name);
    const pem = readText(path.join(ca.dir, `${target.name}-cert.crt`), 'certificate');
    try {
      serial = BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString();
    } catch (e) {
      throw new UserError(`${target.name}-cert.crt is not a certificate: ${oneLineMessage(e)}`);
    }
  }
  if (serial === undefined) throw new UserError('You must specify a cert or a serial to revoke');
  if (!/^[0-9]+$/.test(serial)) throw new UserError(`Invalid serial number: ${serial}`);
  const opened = await openCa(ca);
  const revoked = await revokeCertificate(opened.ca, serial);
  await writePrivate(ca, { ...opened.store, revokedSerials: revoked.revokedSerials }, opened.salt);
  const der = path.join(ca.dir, 'cacrl.der');
  // Upstream only rewrites the CRL files when cacrl.der is not empty.
  if (existsSync(der) && statSync(der).size > 0) {
    writeFile(der, revoked.crlDer);
    writeFile(path.join(ca.dir, 'cacrl.pem'), revoked.crlPem);
  }
  log.info(`Revoked certificate with serial ${serial}; CRL updated in ${ca.dir}`);
  return revoked.crlDer;
}

/** Upstream cmd_import_priv: replaces the CA key in private.yml and sets lastserial = serial + 1. */
export async function caImportPriv(
  ca: CaDir,
  keyFile: string,
  lastSerial: string,
  log: CaLog,
): Promise<void> {
  if (!/^[0-9]+$/.test(lastSerial)) throw new UserError(`Invalid serial number: ${lastSerial}`);
  const pem = readText(keyFile, 'private key');
  let keyPem: string;
  try {
    keyPem = exportPrivateKeyPem(importPrivateKey(pem));
  } catch (e) {
    throw new UserError(`${keyFile} is not an unencrypted private key: ${oneLineMessage(e)}`);
  }
  ensureDir(ca.dir);
  const existing = existsSync(path.join(ca.dir, 'private.yml')) ? await readPrivate(ca) : undefined;
  const store: CaKeyStore = existing?.store ?? {
    ca: '',
    lastSerial: 0,
    revokedSerials: [],
    keys: {},
  };
  await writePrivate(
    ca,
    { ...store, ca: keyPem, lastSerial: Number(lastSerial) + 1 },
    existing?.salt,
  );
  log.info(`Imported CA private key from ${keyFile} into ${ca.dir}`);
}
