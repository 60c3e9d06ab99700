/**
 * @module tenant/identity: what the tenant checks before it trusts an agent (spec §7.3 steps 6-8):
 * accepted algorithms, the identity quote under the registrar's AK with PCR 16 bound to the NK
 * the agent returned, and the EK certificate against tpm_cert_store (or ek_check_script).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isDirectlySignedByAny, parseCertificate, pemBlocks } from '@keylime/crypto';
import type { HashAlg } from '@keylime/crypto';
import {
  INITIAL_CLOCK_INFO,
  checkClockInfo,
  checkDataPcr,
  decodeTpm2bPublic,
  prepareQuoteKey,
  tpmPublicToPem,
  verifyQuote,
} from '@keylime/tpm';
import type { QuoteSignAlg } from '@keylime/tpm';
import { oneLineMessage } from './errors';

const HASH_NAMES = ['sha1', 'sha256', 'sha384', 'sha512', 'sm3_256'] as const;

/** Upstream Encrypt.normalize: legacy `rsa`/`ecc` mean rsa2048/ecc256. */
function normalizeEnc(alg: string): string {
  if (alg === 'rsa') return 'rsa2048';
  if (alg === 'ecc') return 'ecc256';
  return alg;
}

/** Upstream algorithms.is_accepted. */
export function isAccepted(alg: string, accepted: readonly string[]): boolean {
  if (accepted.includes(alg)) return true;
  const n = normalizeEnc(alg);
  return accepted.some((a) => normalizeEnc(a) === n);
}

export function isRecognizedHash(alg: string): boolean {
  return (HASH_NAMES as readonly string[]).includes(alg);
}

/**
 * Verifies the identity quote: signature with the AK, nonce, PCR digest, clock sanity and PCR 16 =
 * binding of `pubkeyPem`. Returns undefined when good, else the reason (for a log line).
 */
export function checkIdentityQuote(input: {
  readonly quote: string;
  readonly nonce: string;
  readonly akTpmBase64: string;
  readonly hashAlg: string;
  readonly pubkeyPem: string;
}): string | undefined {
  if (input.hashAlg === 'sm3_256') return 'sm3_256 quotes are not supported';
  let ak;
  try {
    ak = prepareQuoteKey(new Uint8Array(Buffer.from(input.akTpmBase64, 'base64')));
  } catch (e) {
    return `the registrar's AK cannot be used: ${oneLineMessage(e)}`;
  }
  const signAlgs: QuoteSignAlg[] = ['rsassa', 'rsapss', 'ecdsa'];
  const verdict = verifyQuote(input.quote, {
    ak,
    nonce: input.nonce,
    hashAlg: input.hashAlg as HashAlg,
    acceptedSignAlgs: signAlgs,
  });
  if (!verdict.ok) return `${verdict.failure.id}: ${JSON.stringify(verdict.failure.context)}`;
  const clock = checkClockInfo(INITIAL_CLOCK_INFO, verdict.value.clockInfo);
  if (!clock.ok) return `${clock.failure.id}: ${JSON.stringify(clock.failure.context)}`;
  const pcr16 = checkDataPcr(verdict.value, input.pubkeyPem);
  if (pcr16 !== undefined) return `${pcr16.id}: ${JSON.stringify(pcr16.context)}`;
  return undefined;
}

/** Every certificate in the store directory (PEM bundles or DER files); unreadable files are skipped. */
export function loadCertStore(dir: string, warn: (m: string) => void): X509Certificate[] {
  const certs: X509Certificate[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    warn(`Error loading trusted certificates from the TPM cert store: ${oneLineMessage(e)}`);
    return certs;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      const data = readFileSync(file);
      const text = data.toString('latin1');
      if (text.includes('-----BEGIN ')) {
        for (const block of pemBlocks(text)) {
          if (block.label === 'CERTIFICATE')
            certs.push(new X509Certificate(Buffer.from(block.der)));
        }
      } else {
        certs.push(new X509Certificate(data));
      }
    } catch (e) {
      warn(`Ignoring certificate file ${file} due to error: ${oneLineMessage(e)}`);
    }
  }
  return certs;
}

/** Upstream verify_ek: the EK certificate (base64 DER) is signed directly by a store certificate. */
export function ekCertIsTrusted(ekcertBase64: string, store: readonly X509Certificate[]): boolean {
  let cert;
  try {
    cert = parseCertificate(ekcertBase64);
  } catch {
    return false;
  }
  return isDirectlySignedByAny(cert, store);
}

/** The EK public key as PEM, for ek_check_script's EK variable. */
export function ekPem(ekTpmBase64: string): string {
  try {
    return tpmPublicToPem(
      decodeTpm2bPublic(new Uint8Array(Buffer.from(ekTpmBase64, 'base64'))).value,
    );
  } catch {
    return '';
  }
}

/** Upstream verify_ek_script: runs the script with the agent's EK data in the environment; exit 0 = good. */
export function runEkCheckScript(
  script: string,
  workDir: string,
  env: Readonly<Record<string, string>>,
  log: { info(m: string): void; error(m: string): void; warn(m: string): void },
): boolean {
  const file = path.isAbsolute(script) ? script : path.join(workDir, script);
  try {
    if (!statSync(file).isFile()) throw new Error('not a file');
  } catch {
    log.warn(`External check script (${script}) not found; please make sure its path is correct`);
    return false;
  }
  const res = spawnSync(file, [], {
    cwd: workDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  if (res.error !== undefined) {
    log.error(
      `Error while trying to run external check script to validate EK: ${oneLineMessage(res.error)}`,
    );
    return false;
  }
  if (res.status !== 0) {
    log.error(`External check script failed to validate EK: ${output}`);
    return false;
  }
  log.info(`ek_check output: ${output}`);
  return true;
}
