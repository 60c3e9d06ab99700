/**
 * @module quote-verify: full quote verifications per second (@keylime/tpm verifyQuote on the Keylime
 * quote string) beside Node's raw crypto.verify on the same key and message, RSA-2048 and ECC P-256.
 * Rates are per second of this process's CPU time. Run: `tools/bench quote-verify [seconds-per-case]`.
 */
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  EK_LOW_TEMPLATE,
  TpmAlg,
  TpmSt,
  encodePcrBlob,
  encodeTpm2bPublic,
  encodeTpmsAttest,
  encodeTpmtSignature,
  formatQuoteString,
  pcrBlobFromValues,
  pcrSelection,
  prepareQuoteKey,
  tpmPublicFromKeyObject,
  verifyQuote,
} from '@keylime/tpm';

const seconds = Number(process.argv[2] ?? '2');
const NONCE = 'Ai5M5SjYjnkyv4P7itH1';
const PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 10, 16];

interface Case {
  name: string;
  quote: string;
  attest: Uint8Array;
  signature: Uint8Array;
  rawKey: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
  ak: ReturnType<typeof prepareQuoteKey>;
}

function makeCase(kind: 'rsa' | 'ecc'): Case {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const values = PCRS.map((p) => createHash('sha256').update(Uint8Array.of(p)).digest());
  const sel = [pcrSelection(TpmAlg.Sha256, PCRS)];
  const pcrDigest = createHash('sha256');
  for (const v of values) pcrDigest.update(v);
  const attest = encodeTpmsAttest({
    type: TpmSt.AttestQuote,
    qualifiedSigner: new Uint8Array(34),
    extraData: Buffer.from(NONCE),
    clockInfo: { clock: 123456n, resetCount: 1, restartCount: 0, safe: 1 },
    firmwareVersion: 0x2019102300163636n,
    attested: { pcrSelect: sel, pcrDigest: pcrDigest.digest() },
  });
  let sigBytes: Uint8Array;
  let tpmSig: Uint8Array;
  if (kind === 'rsa') {
    sigBytes = sign('sha256', attest, pair.privateKey);
    tpmSig = encodeTpmtSignature({ sigAlg: TpmAlg.RsaSsa, hash: TpmAlg.Sha256, sig: sigBytes });
  } else {
    sigBytes = sign('sha256', attest, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    tpmSig = encodeTpmtSignature({
      sigAlg: TpmAlg.Ecdsa,
      hash: TpmAlg.Sha256,
      signatureR: sigBytes.subarray(0, 32),
      signatureS: sigBytes.subarray(32),
    });
  }
  const pub = tpmPublicFromKeyObject(pair.publicKey, {
    ...EK_LOW_TEMPLATE,
    symmetric: { algorithm: TpmAlg.Null },
    scheme: { scheme: kind === 'rsa' ? TpmAlg.RsaSsa : TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 },
  });
  const ak = prepareQuoteKey(encodeTpm2bPublic(pub));
  const quote = formatQuoteString({
    attest,
    signature: tpmSig,
    pcrBlob: encodePcrBlob(pcrBlobFromValues(sel, values)),
  });
  const rawKey =
    kind === 'rsa' ? pair.publicKey : { key: pair.publicKey, dsaEncoding: 'ieee-p1363' as const };
  return {
    name: kind === 'rsa' ? 'RSA-2048 / RSASSA-SHA256' : 'ECC P-256 / ECDSA-SHA256',
    quote,
    attest,
    signature: sigBytes,
    rawKey,
    ak,
  };
}

/**
 * Runs `fn` for about `ms` milliseconds of this process's CPU time, in batches; returns operations per
 * CPU-second. CPU time instead of wall time: the benchmark machine is shared, and other processes'
 * load would otherwise dominate the figures.
 */
function rate(fn: () => boolean, ms: number): number {
  let n = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < ms * 1000) {
    for (let i = 0; i < 200; i++) if (!fn()) throw new Error('verification failed');
    n += 200;
    const d = process.cpuUsage(start);
    used = d.user + d.system;
  }
  return n / (used / 1e6);
}

function main(): void {
  console.log(
    `quote-verify: node ${process.version}, ${seconds}s CPU time per case, PCRs ${PCRS.join(',')} (sha256), 1200-byte PCR blob`,
  );
  for (const c of [makeCase('rsa'), makeCase('ecc')]) {
    const raw = (): boolean => verify('sha256', c.attest, c.rawKey, c.signature);
    const full = (): boolean =>
      verifyQuote(c.quote, { ak: c.ak, nonce: NONCE, hashAlg: 'sha256' }).ok;
    rate(raw, 300);
    rate(full, 300);
    // Alternate short rounds and keep each side's best, so load from other processes on a shared
    // machine affects both sides alike.
    const rounds = 4;
    const slice = (seconds * 1000) / rounds;
    let r = 0;
    let f = 0;
    for (let i = 0; i < rounds; i++) {
      r = Math.max(r, rate(raw, slice));
      f = Math.max(f, rate(full, slice));
    }
    console.log(
      `${c.name.padEnd(26)} raw crypto.verify ${r.toFixed(0).padStart(7)}/s   full verifyQuote ${f.toFixed(0).padStart(7)}/s   ratio ${((100 * f) / r).toFixed(1)}%`,
    );
  }
}

main();
