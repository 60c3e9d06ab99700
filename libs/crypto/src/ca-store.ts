/**
 * @module ca-store: upstream's cv_ca file set (spec §6.1) as a name → bytes map, and its
 * `private.yml` key store (YAML {salt, priv}; priv = AES-GCM payload under PBKDF2-HMAC-SHA256).
 */
import { pbkdf2, randomBytes } from 'node:crypto';
import { CryptoErrorCode, cryptoError } from './errors';
import {
  caProfile,
  createKeylimeCa,
  crlToPem,
  generateCrl,
  issueCertificate,
  serverSubjectAltNames,
} from './ca';
import type { IssuedCertificate, KeylimeCa, KeylimeCaOptions, ServerSanInput } from './ca';
import { exportPublicKeyPem, importPrivateKey } from './keys';
import { decryptPayload, encryptPayload } from './payload';
import { certificateHasPublicKey, parseCertificate } from './x509';

/** `[ca] password` default; upstream uses the literal string "default". */
export const DEFAULT_CA_PASSWORD = 'default';
/** Upstream crypto.kdf parameters for private.yml. */
export const PRIVATE_YML_PBKDF2_ITERATIONS = 100_000;

/** Decrypted content of private.yml (upstream's `priv[0]` dict). */
export interface CaKeyStore {
  /** CA private key PEM (unencrypted PKCS#8). */
  readonly ca: string;
  readonly lastSerial: number;
  readonly revokedSerials: readonly string[];
  /** Per-certificate private key PEM by name ("server", "client", agent ids...). */
  readonly keys: Readonly<Record<string, string>>;
}

const SALT_RE = /^[A-Za-z0-9+/]{43}=$/;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

function deriveKey(password: string, salt: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    pbkdf2(
      Buffer.from(password, 'utf8'),
      Buffer.from(salt, 'utf8'),
      PRIVATE_YML_PBKDF2_ITERATIONS,
      32,
      'sha256',
      (err, key) => {
        if (err)
          reject(
            cryptoError(CryptoErrorCode.CaFailed, 'key store key derivation failed', {
              cause: err,
            }),
          );
        else resolve(new Uint8Array(key));
      },
    );
  });
}

/** PyYAML's `!!binary |` block: base64 in 76-character lines, indented two spaces. */
function yamlBinary(key: string, data: Uint8Array): string {
  const b64 = Buffer.from(data).toString('base64');
  const lines = b64.match(/.{1,76}/g) ?? [''];
  return `${key}: !!binary |\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

/** The inner YAML of private.yml exactly as PyYAML's SafeDumper writes it (keys sorted, bytes as !!binary). */
export function keyStoreToYaml(store: CaKeyStore): string {
  const entries: [string, string][] = [
    ['ca', yamlBinary('ca', Buffer.from(store.ca, 'utf8'))],
    ['lastserial', `lastserial: ${store.lastSerial}\n`],
    [
      'revoked_keys',
      store.revokedSerials.length === 0
        ? 'revoked_keys: []\n'
        : `revoked_keys:\n${store.revokedSerials.map((s) => `- '${s}'\n`).join('')}`,
    ],
  ];
  for (const [name, pem] of Object.entries(store.keys)) {
    if (!NAME_RE.test(name) || name === 'ca' || name === 'lastserial' || name === 'revoked_keys') {
      throw cryptoError(CryptoErrorCode.BadArgument, 'key store entry name is not allowed', {
        details: { name },
      });
    }
    entries.push([name, yamlBinary(name, Buffer.from(pem, 'utf8'))]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return entries.map((e) => e[1]).join('');
}

/** Encrypts a key store into private.yml text. `salt` is for tests (base64 of 32 bytes). */
export async function encodePrivateYml(
  store: CaKeyStore,
  password: string = DEFAULT_CA_PASSWORD,
  salt: string = randomBytes(32).toString('base64'),
): Promise<string> {
  if (!SALT_RE.test(salt))
    throw cryptoError(CryptoErrorCode.BadArgument, 'salt must be base64 of 32 bytes');
  const key = await deriveKey(password, salt);
  const priv = encryptPayload(key, Buffer.from(keyStoreToYaml(store), 'utf8'));
  // Upstream dumps the base64 ciphertext as bytes, hence a second base64 layer (!!binary).
  return `${yamlBinary('priv', Buffer.from(priv, 'ascii'))}salt: ${salt}\n`;
}

type YamlValue =
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'scalar'; text: string }
  | { kind: 'list'; items: string[] };

/**
 * Reads the small YAML subset PyYAML writes for these files: top-level `key: scalar`,
 * `key: !!binary |` blocks, `key: []`, and `key:` followed by `- item` lines. Anything else fails.
 */
function parseFlatYaml(text: string): Map<string, YamlValue> {
  const out = new Map<string, YamlValue>();
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let i = 0;
  const bad = (): never => {
    throw cryptoError(
      CryptoErrorCode.BadKeyEncoding,
      'CA key store YAML is not in the expected form',
      {
        details: { line: i + 1 },
      },
    );
  };
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (line.trim() === '' || line.startsWith('#')) {
      i++;
      continue;
    }
    const m = /^([A-Za-z0-9_.-]+):(?: (.*))?$/.exec(line);
    if (!m) return bad();
    const key = m[1] ?? '';
    const rest = (m[2] ?? '').trim();
    if (out.has(key)) return bad();
    i++;
    if (rest === '!!binary |' || rest === '!!binary |-') {
      let b64 = '';
      while (i < lines.length && /^ {2,}\S/.test(lines[i] ?? '')) {
        b64 += (lines[i] ?? '').trim();
        i++;
      }
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return bad();
      out.set(key, { kind: 'binary', data: new Uint8Array(Buffer.from(b64, 'base64')) });
    } else if (rest === '[]') {
      out.set(key, { kind: 'list', items: [] });
    } else if (rest === '') {
      const items: string[] = [];
      while (i < lines.length && /^ *- /.test(lines[i] ?? '')) {
        const item = (lines[i] ?? '').replace(/^ *- /, '').trim();
        items.push(item.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1'));
        i++;
      }
      out.set(key, { kind: 'list', items });
    } else {
      out.set(key, {
        kind: 'scalar',
        text: rest.replace(/^'(.*)'$/, '$1').replace(/^"(.*)"$/, '$1'),
      });
    }
  }
  return out;
}

/** Decrypts private.yml; a wrong password is KL_CRYPTO_DECRYPT_FAILED. */
export async function decodePrivateYml(
  text: string,
  password: string = DEFAULT_CA_PASSWORD,
): Promise<CaKeyStore> {
  const outer = parseFlatYaml(text);
  const priv = outer.get('priv');
  const salt = outer.get('salt');
  if (priv?.kind !== 'binary' || salt?.kind !== 'scalar') {
    throw cryptoError(CryptoErrorCode.BadKeyEncoding, 'private.yml lacks priv or salt');
  }
  const key = await deriveKey(password, salt.text);
  const plain = Buffer.from(decryptPayload(key, Buffer.from(priv.data).toString('ascii'))).toString(
    'utf8',
  );
  const inner = parseFlatYaml(plain);
  const ca = inner.get('ca');
  const last = inner.get('lastserial');
  const revoked = inner.get('revoked_keys');
  if (ca?.kind !== 'binary' || last?.kind !== 'scalar' || !/^[0-9]+$/.test(last.text)) {
    throw cryptoError(CryptoErrorCode.BadKeyEncoding, 'private.yml content lacks ca or lastserial');
  }
  const keys: Record<string, string> = {};
  for (const [name, v] of inner) {
    if (name === 'ca' || name === 'lastserial' || name === 'revoked_keys') continue;
    if (v.kind === 'binary') keys[name] = Buffer.from(v.data).toString('utf8');
  }
  return {
    ca: Buffer.from(ca.data).toString('utf8'),
    lastSerial: Number(last.text),
    revokedSerials: revoked?.kind === 'list' ? revoked.items : [],
    keys,
  };
}

export interface CvCaFilesOptions extends KeylimeCaOptions {
  /** SAN inputs for the server certificate (hostname etc. looked up by the caller). */
  readonly server?: ServerSanInput;
  /** true for the verifier (cv_ca), false for a registrar's own reg_ca. Default true. */
  readonly includeClient?: boolean;
  /** `server_key_password` / `client_key_password`; empty or absent means unencrypted. */
  readonly serverKeyPassword?: string;
  readonly clientKeyPassword?: string;
  /** `[ca] password` protecting private.yml. Default "default". */
  readonly caPassword?: string;
}

export interface CvCaResult {
  readonly ca: KeylimeCa;
  readonly server: IssuedCertificate;
  readonly client?: IssuedCertificate;
  /** File name → exact bytes, as upstream writes them into the tls directory. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/**
 * Upstream `tls_dir = generate` for a fresh directory: cmd_init (CA serial 1, empty CRL), then
 * cmd_mkcert "server" (serial 2) and, for the verifier, "client" (serial 3). The caller writes
 * the files (upstream uses mode 0640 under umask 037).
 */
export async function generateCvCaFiles(options: CvCaFilesOptions = {}): Promise<CvCaResult> {
  let ca = await createKeylimeCa(options);
  const now = options.now;
  const issuedServer = await issueCertificate(ca, {
    commonName: 'server',
    kind: 'server',
    subjectAltNames: serverSubjectAltNames(options.server),
    ...(options.serverKeyPassword ? { passphrase: options.serverKeyPassword } : {}),
    ...(now ? { now } : {}),
  });
  ca = issuedServer.ca;
  let client: IssuedCertificate | undefined;
  if (options.includeClient ?? true) {
    const issuedClient = await issueCertificate(ca, {
      commonName: 'client',
      kind: 'client',
      ...(options.clientKeyPassword ? { passphrase: options.clientKeyPassword } : {}),
      ...(now ? { now } : {}),
    });
    ca = issuedClient.ca;
    client = issuedClient.certificate;
  }
  const server = issuedServer.certificate;
  const keys: Record<string, string> = { server: server.privateKeyPem };
  if (client) keys['client'] = client.privateKeyPem;
  const privateYml = await encodePrivateYml(
    { ca: ca.privateKeyPem, lastSerial: ca.lastSerial, revokedSerials: ca.revokedSerials, keys },
    options.caPassword ?? DEFAULT_CA_PASSWORD,
  );
  const files = new Map<string, Uint8Array>([
    ['cacert.crt', utf8(ca.certificatePem)],
    ['ca-public.pem', utf8(ca.publicKeyPem)],
    ['cacrl.der', ca.crlDer],
    ['cacrl.pem', utf8(ca.crlPem)],
    ['private.yml', utf8(privateYml)],
    ['server-cert.crt', utf8(server.certificatePem)],
    ['server-private.pem', utf8(server.privateKeyPem)],
    ['server-public.pem', utf8(server.publicKeyPem)],
  ]);
  if (client) {
    files.set('client-cert.crt', utf8(client.certificatePem));
    files.set('client-private.pem', utf8(client.privateKeyPem));
    files.set('client-public.pem', utf8(client.publicKeyPem));
  }
  return { ca, server, ...(client ? { client } : {}), files };
}

/**
 * Re-opens an existing CA from cacert.crt and private.yml (e.g. to issue a missing server
 * certificate, or for keylime_ca). The profile comes from the caller's `[ca]` config; the CRL is
 * re-signed from the stored revoked serials.
 */
export async function openKeylimeCa(
  certificatePem: string,
  privateYml: string,
  options: KeylimeCaOptions & { readonly caPassword?: string } = {},
): Promise<{ ca: KeylimeCa; store: CaKeyStore }> {
  const store = await decodePrivateYml(privateYml, options.caPassword ?? DEFAULT_CA_PASSWORD);
  const caKey = importPrivateKey(store.ca);
  if (!certificateHasPublicKey(parseCertificate(certificatePem), caKey)) {
    throw cryptoError(CryptoErrorCode.BadKey, 'private.yml CA key does not match cacert.crt');
  }
  const crlDer = await generateCrl(certificatePem, store.ca, store.revokedSerials, options.now);
  return {
    ca: {
      certificatePem,
      privateKeyPem: store.ca,
      publicKeyPem: exportPublicKeyPem(caKey),
      crlDer,
      crlPem: crlToPem(crlDer),
      lastSerial: store.lastSerial,
      revokedSerials: store.revokedSerials,
      profile: caProfile(options),
    },
    store,
  };
}
