/**
 * @module policy/runtime-sign: `keylime-policy sign runtime` (upstream
 * `keylime/policy/sign_runtime_policy.py`): DSSE envelope with the ecdsa or x509 backend.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { ecdsaSigner, signDsse, toPythonJson, validateRuntimePolicy } from '@keylime/ima';
import type { DsseSigner } from '@keylime/ima';
import * as crypto from 'node:crypto';
import { generateEcKeyPairSync } from '@keylime/crypto';
import { CliError, readText, writeOutput } from './runtime-util';

export const KEYLIME_DEFAULT_EC_KEY_FILE = 'keylime-ecdsa-key.pem';
export const VALID_BACKENDS = ['ecdsa', 'x509'] as const;

export interface SignRuntimeOptions {
  readonly output: string;
  readonly runtimePolicy: string;
  readonly keyfile?: string;
  readonly keypath?: string;
  readonly backend: string;
  readonly certOutfile?: string;
}

/** Self-signed certificate as upstream's x509 backend builds it (CN dsse_lib, 30 days, SAN, CA:false). */
async function selfSignedCertificate(privateKey: crypto.KeyObject): Promise<string> {
  const subtle = crypto.webcrypto.subtle;
  const jwk = privateKey.export({ format: 'jwk' });
  const namedCurve = jwk.crv ?? 'P-256';
  const alg = { name: 'ECDSA', namedCurve };
  const priv = await subtle.importKey('jwk', jwk, alg, true, ['sign']);
  const pubJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const pub = await subtle.importKey('jwk', pubJwk, alg, true, ['verify']);
  const day = 24 * 3600 * 1000;
  x509.cryptoProvider.set(
    crypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0],
  );
  const params: Record<string, unknown> = {
    serialNumber: crypto
      .randomBytes(16)
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: 'CN=dsse_lib',
    notBefore: new Date(Date.now() - day),
    notAfter: new Date(Date.now() + 30 * day),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    // CryptoKeyPair is a DOM type this app does not compile against; Node's webcrypto keys fit it.
    keys: { privateKey: priv, publicKey: pub },
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'dsse_lib' }], false),
      new x509.BasicConstraintsExtension(false, undefined, true),
    ],
  };
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    params as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0],
  );
  return cert.toString('pem') + '\n';
}

function loadOrCreateKey(opts: SignRuntimeOptions): crypto.KeyObject {
  if (opts.keyfile) {
    let key: crypto.KeyObject;
    try {
      key = crypto.createPrivateKey(readText(opts.keyfile, 'key file'));
    } catch (e) {
      if (e instanceof CliError)
        throw new CliError(`The specified key '${opts.keyfile}' does not exist`);
      throw new CliError(`The specified key '${opts.keyfile}' is not a PEM private key`);
    }
    if (key.asymmetricKeyType !== 'ec')
      throw new CliError('Only elliptic curve keys are supported');
    return key;
  }
  const { privateKey } = generateEcKeyPairSync('P-256');
  // TraditionalOpenSSL PEM ("EC PRIVATE KEY"), as upstream writes it.
  writeOutput(
    opts.keypath || KEYLIME_DEFAULT_EC_KEY_FILE,
    privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
  );
  return privateKey;
}

/** Signs the policy file and writes the envelope; returns the envelope text. */
export async function signRuntimePolicy(opts: SignRuntimeOptions): Promise<string> {
  if (opts.keyfile && opts.keypath)
    throw new CliError('Only one of keyfile or keypath must be specified at once');
  const backend = opts.backend.toLowerCase();
  if (!(VALID_BACKENDS as readonly string[]).includes(backend)) {
    throw new CliError(
      `invalid backend '${opts.backend}'; the valid alternatives are: ${VALID_BACKENDS.join(', ')}`,
    );
  }
  if (backend === 'x509' && !opts.certOutfile)
    throw new CliError('x509 backend and no cerficate output file specified');
  const key = loadOrCreateKey(opts);
  let signer: DsseSigner;
  if (backend === 'x509') {
    const pem = await selfSignedCertificate(key);
    writeOutput(opts.certOutfile as string, pem);
    signer = ecdsaSigner(key, pem);
  } else {
    signer = ecdsaSigner(key);
  }
  let payload: string;
  try {
    payload = toPythonJson(
      validateRuntimePolicy(JSON.parse(readText(opts.runtimePolicy, 'runtime policy file'))),
    );
  } catch (e) {
    if (e instanceof CliError)
      throw new CliError(
        `The runtime policy file specified (${opts.runtimePolicy}) does not seem to exist`,
      );
    throw new CliError(
      `Unable to validate the runtime policy '${opts.runtimePolicy}'; please make sure to provide a valid runtime policy`,
    );
  }
  const envelope = signDsse(Buffer.from(payload, 'utf8'), signer);
  writeOutput(opts.output, opts.output === '/dev/stdout' ? `${envelope}\n` : envelope);
  return envelope;
}
