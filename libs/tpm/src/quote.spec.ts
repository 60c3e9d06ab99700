/** @module quote.spec: quote verification, clock and PCR 16 checks, PCR replay, against upstream vectors and software quotes. */
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { dataFile, hex, specVectors, textFile, toHexStr, upstream } from '../tests/fixtures';
import { encodeTpmsAttest } from './attest';
import type { TpmsClockInfo } from './attest';
import { TpmAlg, TpmSt } from './constants';
import { DataPcrEventId, QuoteEventId } from './failure';
import { tpmHash } from './hash';
import { EK_LOW_TEMPLATE, tpmPublicFromKeyObject } from './keys';
import { DataPcrBinding, dataPcrValue, pcrExtend, pcrInitialValue, pcrReplay } from './pcr';
import { encodePcrBlob, pcrBlobFromValues } from './pcr-blob';
import { pcrSelection } from './pcr-selection';
import { decodeTpm2bPublic, encodeTpm2bPublic } from './public';
import {
  INITIAL_CLOCK_INFO,
  checkClockInfo,
  checkDataPcr,
  prepareQuoteKey,
  verifyQuote,
} from './quote';
import type { QuoteVerificationKey } from './quote';
import { formatQuoteString, parseQuoteString } from './quote-string';
import { decodeTpmtSignature, encodeTpmtSignature } from './signature';
import type { TpmtSignatureEcdsa } from './signature';

const cq = upstream.checkquote;

function akFromPem(pem: string): QuoteVerificationKey {
  const pub = tpmPublicFromKeyObject(createPublicKey(pem), {
    ...EK_LOW_TEMPLATE,
    symmetric: { algorithm: TpmAlg.Null },
    scheme: { scheme: TpmAlg.RsaSsa, hashAlg: TpmAlg.Sha256 },
  });
  return prepareQuoteKey(encodeTpm2bPublic(pub));
}

const upstreamQuote = formatQuoteString({
  attest: hex(cq.quoteblob),
  signature: hex(cq.sigblob),
  pcrBlob: hex(cq.pcrblob),
});

/** Builds a signed quote over `pcrs` with a software key, as an agent would. */
function softwareQuote(
  key: KeyObject,
  nonce: Uint8Array,
  values: Map<number, Uint8Array>,
  opts: { ecdsa?: boolean; clock?: bigint } = {},
): string {
  const pcrs = [...values.keys()].sort((a, b) => a - b);
  const sel = [pcrSelection(TpmAlg.Sha256, pcrs)];
  const ordered = pcrs.map((p) => values.get(p)!);
  const attest = encodeTpmsAttest({
    type: TpmSt.AttestQuote,
    qualifiedSigner: hex('000b' + '00'.repeat(32)),
    extraData: nonce,
    clockInfo: { clock: opts.clock ?? 100n, resetCount: 1, restartCount: 0, safe: 1 },
    firmwareVersion: 7n,
    attested: { pcrSelect: sel, pcrDigest: tpmHash(TpmAlg.Sha256, ...ordered) },
  });
  let signature: Uint8Array;
  if (opts.ecdsa === true) {
    const rs = sign('sha256', attest, { key, dsaEncoding: 'ieee-p1363' });
    signature = encodeTpmtSignature({
      sigAlg: TpmAlg.Ecdsa,
      hash: TpmAlg.Sha256,
      signatureR: rs.subarray(0, 32),
      signatureS: rs.subarray(32),
    });
  } else {
    signature = encodeTpmtSignature({
      sigAlg: TpmAlg.RsaSsa,
      hash: TpmAlg.Sha256,
      sig: sign('sha256', attest, key),
    });
  }
  return formatQuoteString({
    attest,
    signature,
    pcrBlob: encodePcrBlob(pcrBlobFromValues(sel, ordered)),
  });
}

describe('verifyQuote', () => {
  const ak = akFromPem(cq.akPem);

  it('accepts upstream test_checkquote and returns the PCR map', () => {
    const v = verifyQuote(upstreamQuote, { ak, nonce: cq.nonce, hashAlg: 'sha256' });
    if (!v.ok) throw new Error(JSON.stringify(v.failure));
    expect(Object.fromEntries([...v.value.pcrs].map(([k, x]) => [String(k), x]))).toEqual(cq.pcrs);
    expect(v.value.clockInfo.clock).toBe(1284787942n);
    expect(v.value.hashAlg).toBe('sha256');
  });

  it('keeps only what verification needs in a prepared AK, not the parsed public area', () => {
    // The verifier holds one prepared AK per enrolled agent: the TPMT_PUBLIC (≈1 KiB) is dropped.
    expect(Object.keys(ak).sort()).toEqual(['coordinateSize', 'keyObject', 'type']);
    expect(ak.type).toBe(TpmAlg.Rsa);
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const ecKey = prepareQuoteKey(
      encodeTpm2bPublic(tpmPublicFromKeyObject(ec.publicKey, EK_LOW_TEMPLATE)),
    );
    expect(Object.keys(ecKey).sort()).toEqual(['coordinateSize', 'keyObject', 'type']);
    expect(ecKey.type).toBe(TpmAlg.Ecc);
    expect(ecKey.coordinateSize).toBe(32);
  });

  it('verifies ECDSA quotes as DER and fails a quote whose r or s is zero or over-long', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = prepareQuoteKey(
      encodeTpm2bPublic(
        tpmPublicFromKeyObject(ec.publicKey, {
          ...EK_LOW_TEMPLATE,
          symmetric: { algorithm: TpmAlg.Null },
          scheme: { scheme: TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 },
        }),
      ),
    );
    // The cached key is the bare KeyObject: no IEEE-P1363 wrapper (OpenSSL keeps ≈2 KiB per key for it).
    expect(key.keyObject.type).toBe('public');
    const nonce = hex('0102');
    const values = new Map([[16, new Uint8Array(32)]]);
    const good = softwareQuote(ec.privateKey, nonce, values, { ecdsa: true });
    expect(verifyQuote(good, { ak: key, nonce, hashAlg: 'sha256' }).ok).toBe(true);
    const parts = parseQuoteString(good);
    const sig = decodeTpmtSignature(parts.signature) as TpmtSignatureEcdsa;
    for (const [r, s, error] of [
      [new Uint8Array(32), sig.signatureS, /ECDSA r is zero/],
      [sig.signatureR, hex('00'), /ECDSA s is zero/],
      [
        hex('01' + '00'.repeat(32)),
        sig.signatureS,
        /ECDSA r of 33 bytes exceeds the curve size 32/,
      ],
      [sig.signatureR, hex('ff'.repeat(33)), /ECDSA s of 33 bytes exceeds the curve size 32/],
    ] as const) {
      const signature = encodeTpmtSignature({ ...sig, signatureR: r, signatureS: s });
      const v = verifyQuote({ ...parts, signature }, { ak: key, nonce, hashAlg: 'sha256' });
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.failure.context['error']).toMatch(error);
    }
    // Leading zero bytes beyond the curve size are only padding: still the same signature.
    const padded = encodeTpmtSignature({
      ...sig,
      signatureR: Uint8Array.of(0, ...sig.signatureR),
    });
    expect(
      verifyQuote({ ...parts, signature: padded }, { ak: key, nonce, hashAlg: 'sha256' }).ok,
    ).toBe(true);
  });

  it('accepts the tpm2-tools quote.out with its binary nonce and ak.pub', () => {
    const key = prepareQuoteKey(dataFile('upstream/ak.pub'));
    const parts = {
      attest: dataFile('upstream/quote.out'),
      signature: dataFile('upstream/quotesig.out'),
      pcrBlob: dataFile('upstream/quotepcr.out'),
    };
    const v = verifyQuote(parts, {
      ak: key,
      nonce: dataFile('upstream/rand.out'),
      hashAlg: 'sha256',
    });
    if (!v.ok) throw new Error(JSON.stringify(v.failure));
    expect(Object.fromEntries([...v.value.pcrs].map(([k, x]) => [String(k), x]))).toEqual(
      specVectors.quoteOut.pcrs,
    );
    const pemKey = akFromPem(textFile('upstream/akpub.pem'));
    expect(
      verifyQuote(parts, { ak: pemKey, nonce: dataFile('upstream/rand.out'), hashAlg: 'sha256' })
        .ok,
    ).toBe(true);
  });

  it('rejects the upstream negative cases with qoute_validation.quote_validation, irrecoverable', () => {
    const badNonce = 'a' + cq.nonce.slice(1);
    const cases: [string, Parameters<typeof verifyQuote>[1]][] = [
      [upstreamQuote, { ak, nonce: badNonce, hashAlg: 'sha256' }],
      [upstreamQuote, { ak, nonce: cq.nonce, hashAlg: 'sha1' }],
      [upstreamQuote, { ak, nonce: cq.nonce, hashAlg: 'sha256', acceptedHashAlgs: ['sha384'] }],
      [upstreamQuote, { ak, nonce: cq.nonce, hashAlg: 'sha256', acceptedSignAlgs: ['ecdsa'] }],
      ['x' + upstreamQuote.slice(1), { ak, nonce: cq.nonce, hashAlg: 'sha256' }],
      [upstreamQuote + ':', { ak, nonce: cq.nonce, hashAlg: 'sha256' }],
    ];
    for (const [q, ex] of cases) {
      const v = verifyQuote(q, ex);
      expect(v.ok).toBe(false);
      if (!v.ok) {
        expect(v.failure.id).toBe('qoute_validation.quote_validation');
        expect(v.failure.id).toBe(QuoteEventId.QuoteValidation);
        expect(v.failure.recoverable).toBe(false);
        expect(v.failure.context['message']).toBe('Quote data validation');
      }
    }
  });

  it('rejects every single-byte corruption of quote, signature and PCR blob', () => {
    const parts = {
      attest: hex(cq.quoteblob),
      signature: hex(cq.sigblob),
      pcrBlob: hex(cq.pcrblob),
    };
    for (const which of ['attest', 'signature', 'pcrBlob'] as const) {
      for (let i = 0; i < parts[which].length; i++) {
        for (const flip of [0x01, 0x80]) {
          const bad = new Uint8Array(parts[which]);
          bad[i] = bad[i]! ^ flip;
          const v = verifyQuote(
            { ...parts, [which]: bad },
            { ak, nonce: cq.nonce, hashAlg: 'sha256' },
          );
          if (v.ok) throw new Error(`${which} byte ${i} ^ ${flip} accepted`);
        }
      }
    }
  });

  it('verifies software-made RSA and ECDSA quotes, including base64 nonces and several digest lists', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const values = new Map<number, Uint8Array>();
    for (const p of [0, 1, 2, 3, 4, 5, 6, 7, 10, 16])
      values.set(p, tpmHash(TpmAlg.Sha256, Uint8Array.of(p)));
    const nonce = Uint8Array.from({ length: 16 }, (_, i) => i);
    for (const [pair, ecdsa] of [
      [rsa, false],
      [ec, true],
    ] as const) {
      const tpmPub = tpmPublicFromKeyObject(pair.publicKey, {
        ...EK_LOW_TEMPLATE,
        symmetric: { algorithm: TpmAlg.Null },
        scheme: ecdsa
          ? { scheme: TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 }
          : { scheme: TpmAlg.RsaSsa, hashAlg: TpmAlg.Sha256 },
      });
      const key = prepareQuoteKey(decodeTpm2bPublic(encodeTpm2bPublic(tpmPub)));
      const q = softwareQuote(pair.privateKey, nonce, values, { ecdsa });
      const v = verifyQuote(q, {
        ak: key,
        nonce: Buffer.from(nonce).toString('base64'),
        hashAlg: 'sha256',
      });
      if (!v.ok) throw new Error(JSON.stringify(v.failure));
      expect([...v.value.pcrs.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 10, 16]);
      // The other key type's AK must not verify it.
      const otherKey = ecdsa
        ? akFromPem(cq.akPem)
        : prepareQuoteKey(encodeTpm2bPublic(tpmPublicFromKeyObject(ec.publicKey, EK_LOW_TEMPLATE)));
      expect(verifyQuote(q, { ak: otherKey, nonce, hashAlg: 'sha256' }).ok).toBe(false);
    }
  });

  it('rejects a PCR blob whose selection differs from the quoted one even when the digest matches', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = prepareQuoteKey(
      encodeTpm2bPublic(
        tpmPublicFromKeyObject(rsa.publicKey, {
          ...EK_LOW_TEMPLATE,
          symmetric: { algorithm: TpmAlg.Null },
        }),
      ),
    );
    const v1 = new Uint8Array(32).fill(1);
    const attest = encodeTpmsAttest({
      type: TpmSt.AttestQuote,
      qualifiedSigner: new Uint8Array(0),
      extraData: hex('01'),
      clockInfo: INITIAL_CLOCK_INFO,
      firmwareVersion: 0n,
      attested: {
        pcrSelect: [pcrSelection(TpmAlg.Sha256, [15])],
        pcrDigest: tpmHash(TpmAlg.Sha256, v1),
      },
    });
    const signature = encodeTpmtSignature({
      sigAlg: TpmAlg.RsaSsa,
      hash: TpmAlg.Sha256,
      sig: sign('sha256', attest, rsa.privateKey),
    });
    const pcrBlob = encodePcrBlob(pcrBlobFromValues([pcrSelection(TpmAlg.Sha256, [16])], [v1]));
    const v = verifyQuote(
      { attest, signature, pcrBlob },
      { ak: key, nonce: hex('01'), hashAlg: 'sha256' },
    );
    expect(v.ok === false && String(v.failure.context['error'])).toMatch(/differ/);
  });
});

describe('checkClockInfo (verifier §3.5)', () => {
  const c = (
    clock: bigint,
    resetCount: number,
    restartCount: number,
    safe: 0 | 1 = 1,
  ): TpmsClockInfo => ({
    clock,
    resetCount,
    restartCount,
    safe,
  });
  it('follows upstream check_quote_timing', () => {
    expect(checkClockInfo(INITIAL_CLOCK_INFO, c(5n, 0, 0))).toEqual({
      ok: true,
      value: c(5n, 0, 0),
    });
    expect(checkClockInfo(c(5n, 0, 0), c(5n, 0, 0)).ok).toBe(false);
    expect(checkClockInfo(c(5n, 1, 0), c(9n, 0, 0)).ok).toBe(false);
    expect(checkClockInfo(c(5n, 1, 1), c(9n, 1, 0)).ok).toBe(false);
    expect(checkClockInfo(c(5n, 1, 1), c(9n, 1, 1, 0)).ok).toBe(false);
    // Only one counter changed: clock still has to grow.
    expect(checkClockInfo(c(5n, 1, 1), c(3n, 2, 1)).ok).toBe(false);
    // Both changed: accepted, reference kept.
    expect(checkClockInfo(c(5n, 1, 1), c(3n, 2, 2))).toEqual({ ok: true, value: c(5n, 1, 1) });
    const f = checkClockInfo(c(5n, 1, 0), c(9n, 0, 0));
    expect(f.ok === false && f.failure).toEqual({
      id: 'qoute_validation.quote_validation',
      context: {
        message: 'Validation of clockinfo from quote using tpm2-tools',
        data: 'resetCount value decreased on TPM between two consecutive quotes',
      },
      recoverable: false,
    });
  });
});

describe('PCR replay and the PCR 16 binding', () => {
  it('matches the spec KAT and upstream sim_extend', () => {
    expect(dataPcrValue('sha256', specVectors.pcr16Binding.pem)).toBe(
      specVectors.pcr16Binding.expected,
    );
  });

  it('extends and replays SHA-1/256/384 banks', () => {
    for (const [bank, size] of [
      ['sha1', 20],
      ['sha256', 32],
      ['sha384', 48],
    ] as const) {
      const d = new Uint8Array(size).fill(0xab);
      const once = pcrExtend(bank, pcrInitialValue(bank), d);
      expect(once.length).toBe(size);
      expect(pcrReplay(bank, [d, d])).toEqual(pcrExtend(bank, once, d));
      expect(pcrInitialValue(bank, 3)[size - 1]).toBe(3);
      expect(() => pcrExtend(bank, once, new Uint8Array(size + 1))).toThrow(/needs/);
    }
    expect(toHexStr(pcrExtend('sha1', new Uint8Array(20), new Uint8Array(20)))).toBe(
      'b80de5d138758541c5f05265ad144ab9fa86d1db',
    );
  });

  it('reports missing and invalid PCR 16 as recoverable pcr_validation events', () => {
    const ak = akFromPem(cq.akPem);
    const v = verifyQuote(upstreamQuote, { ak, nonce: cq.nonce, hashAlg: 'sha256' });
    if (!v.ok) throw new Error('quote should verify');
    const inv = checkDataPcr(v.value, 'not the key');
    expect(inv?.id).toBe(DataPcrEventId.InvalidPcr16);
    expect(inv?.context['got']).toBe(cq.pcrs['16']);
    expect(inv?.recoverable).toBe(true);
    expect(checkDataPcr({ ...v.value, pcrs: new Map() }, 'x')?.id).toBe(
      'pcr_validation.missing_pcr_16',
    );
    expect(checkDataPcr(v.value, undefined)?.id).toBe('pcr_validation.missing_pcr_16');
    const pem = 'PEM';
    expect(
      checkDataPcr({ ...v.value, pcrs: new Map([[16, dataPcrValue('sha256', pem)]]) }, pem),
    ).toBeUndefined();
  });

  it('keeps a key as its DataPcrBinding, with the PCR 16 value of the PEM in every bank', () => {
    const pem = specVectors.pcr16Binding.pem;
    const binding = DataPcrBinding.of(pem);
    expect(binding.expected('sha256')).toBe(specVectors.pcr16Binding.expected);
    for (const bank of ['sha1', 'sha256', 'sha384', 'sha512'] as const)
      expect(binding.expected(bank)).toBe(dataPcrValue(bank, pem));
    expect(binding.equals(DataPcrBinding.of(pem))).toBe(true);
    expect(binding.equals(DataPcrBinding.of(`${pem}\n`))).toBe(false);
    const v = verifyQuote(upstreamQuote, {
      ak: akFromPem(cq.akPem),
      nonce: cq.nonce,
      hashAlg: 'sha256',
    });
    if (!v.ok) throw new Error('quote should verify');
    // The quote's bank picks the digest: a SHA-384 quote of this key's PCR 16 holds.
    const sha384 = {
      ...v.value,
      hashAlg: 'sha384' as const,
      pcrs: new Map([[16, dataPcrValue('sha384', pem)]]),
    };
    expect(checkDataPcr(sha384, binding)).toBeUndefined();
    expect(checkDataPcr(sha384, DataPcrBinding.of('another key'))?.id).toBe(
      DataPcrEventId.InvalidPcr16,
    );
  });
});
