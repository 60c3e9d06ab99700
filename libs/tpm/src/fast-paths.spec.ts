/** @module fast-paths.spec: property tests proving the hot-path decoders accept exactly what the strict ones accept. */
import { generateKeyPairSync, sign } from 'node:crypto';
import { isBase64 } from '@keylime/core';
import fc from 'fast-check';
import { decodeTpmsAttest, encodeTpmsAttest, scanQuoteAttest } from './attest';
import { MAX_DIGEST_SIZE, MAX_PCR_DIGESTS, TpmAlg, TpmSt } from './constants';
import { tpmHash } from './hash';
import { EK_LOW_TEMPLATE, tpmPublicFromKeyObject } from './keys';
import {
  PCR_BLOB_DIGEST_LIST_SIZE,
  PCR_BLOB_SELECTION_SIZE,
  decodePcrBlob,
  encodePcrBlob,
  pcrBlobFromValues,
  pcrBlobValues,
} from './pcr-blob';
import { scanPcrBlob, scanPcrBlobLayout } from './pcr-blob-scan';
import { pcrSelection, selectedPcrs } from './pcr-selection';
import type { TpmlPcrSelection } from './pcr-selection';
import { encodeTpm2bPublic } from './public';
import { prepareQuoteKey, verifyQuote } from './quote';
import {
  decodeQuotePart,
  formatQuoteString,
  parseQuoteString,
  parseQuoteStringTransient,
} from './quote-string';
import { decodeTpmtSignature, encodeTpmtSignature, scanTpmtSignature } from './signature';

/** Outcome of a decoder as comparable data: the value, or "rejected". */
function outcome<T>(fn: () => T): T | 'rejected' {
  try {
    return fn();
  } catch {
    return 'rejected';
  }
}

const bank = fc.constantFrom(TpmAlg.Sha1, TpmAlg.Sha256, TpmAlg.Sha384, 0x0012);
const pcrSet = fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { maxLength: 12 });
const mutation = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 });

function mutate(b: Uint8Array, muts: readonly [number, number][]): Uint8Array {
  const out = new Uint8Array(b);
  for (const [at, v] of muts) if (out.length > 0) out[at % out.length] = v;
  return out;
}

/** The set of selected PCRs as "bank:pcr" strings (what the layout's selection pairs encode). */
function quotedSet(sels: TpmlPcrSelection): string[] {
  const out = new Set<string>();
  for (const s of sels) for (const p of selectedPcrs(s)) out.add(`${s.hash}:${p}`);
  return [...out].sort();
}

function pairsSet(pairs: readonly number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < pairs.length; i += 2)
    for (let p = 0; p < 32; p++)
      if (((pairs[i + 1] as number) >>> p) & 1) out.push(`${pairs[i]}:${p}`);
  return out.sort();
}

/** Offsets of the blob's structural fields: counts, selection slots, digest sizes. */
function headerOffsets(length: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < PCR_BLOB_SELECTION_SIZE + 4; i++) out.push(i);
  for (let l = PCR_BLOB_SELECTION_SIZE + 4; l < length; l += PCR_BLOB_DIGEST_LIST_SIZE) {
    for (let i = 0; i < 4; i++) out.push(l + i);
    for (let j = 0; j < MAX_PCR_DIGESTS; j++) {
      const so = l + 4 + j * (2 + MAX_DIGEST_SIZE);
      out.push(so, so + 1, so + 2, so + 2 + 19, so + 2 + 20, so + 2 + 32, so + 2 + 63);
    }
  }
  return out.filter((o) => o < length);
}

const blobValue = fc.constantFrom(0, 1, 2, 3, 4, 7, 8, 9, 0x0b, 0x0c, 20, 32, 48, 64, 65, 0xff);

/** The fast blob scan (objects and layout) against decodePcrBlob + pcrBlobValues on the same bytes. */
function checkBlob(bytes: Uint8Array): void {
  const strict = outcome(() => {
    const blob = decodePcrBlob(bytes);
    return { selections: blob.selections, values: pcrBlobValues(blob) };
  });
  const fast = scanPcrBlob(bytes);
  const layout = scanPcrBlobLayout(bytes);
  if (strict === 'rejected') {
    expect(fast).toBeUndefined();
    expect(layout).toBeUndefined();
    return;
  }
  expect(fast?.values).toEqual(strict.values);
  expect(fast?.selections).toEqual(strict.selections);
  expect(pairsSet(layout?.selection ?? [])).toEqual(quotedSet(strict.selections));
  const v = layout?.values ?? [];
  expect(v.length).toBe(strict.values.length * 4);
  strict.values.forEach((s, k) => {
    expect([v[4 * k], v[4 * k + 1], v[4 * k + 3]]).toEqual([s.hash, s.pcr, s.value.length]);
    const at = v[4 * k + 2] as number;
    expect(bytes.subarray(at, at + s.value.length)).toEqual(s.value);
  });
}

describe('fast paths accept exactly what the strict decoders accept', () => {
  it('scanPcrBlob ≡ decodePcrBlob + pcrBlobValues', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(bank, pcrSet), { maxLength: 3 }),
        mutation,
        fc.boolean(),
        (sels, muts, cut) => {
          const selections = sels.map(([h, p]) => pcrSelection(h, p));
          const values = sels.flatMap(([h, p]) =>
            p.map(() =>
              new Uint8Array(h === TpmAlg.Sha1 ? 20 : h === TpmAlg.Sha384 ? 48 : 32).fill(7),
            ),
          );
          let bytes = mutate(encodePcrBlob(pcrBlobFromValues(selections, values)), muts);
          if (cut) bytes = bytes.subarray(0, bytes.length - 1);
          checkBlob(bytes);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('scanPcrBlob and its layout ≡ strict under corruption of counts, selections and digest sizes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(bank, pcrSet), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), blobValue), { minLength: 1, maxLength: 3 }),
        (sels, muts) => {
          const selections = sels.map(([h, p]) => pcrSelection(h, p));
          const values = sels.flatMap(([h, p]) =>
            p.map((i) =>
              new Uint8Array(h === TpmAlg.Sha1 ? 20 : h === TpmAlg.Sha384 ? 48 : 32).fill(i + 1),
            ),
          );
          const good = encodePcrBlob(pcrBlobFromValues(selections, values));
          const at = headerOffsets(good.length);
          checkBlob(
            mutate(
              good,
              muts.map(([i, v]) => [at[i % at.length] as number, v]),
            ),
          );
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('scanPcrBlob and its layout ≡ strict on hand-made edge cases', () => {
    // A selected bank of unknown digest size with no values for it.
    checkBlob(encodePcrBlob(pcrBlobFromValues([pcrSelection(0x0012, [1])], [])));
    // Two digest lists after the used one: count 9 (over the limit) and count 1.
    const one = encodePcrBlob(
      pcrBlobFromValues([pcrSelection(TpmAlg.Sha256, [0])], [new Uint8Array(32).fill(1)]),
    );
    const extra = new Uint8Array(one.length + 2 * PCR_BLOB_DIGEST_LIST_SIZE);
    extra.set(one);
    extra[PCR_BLOB_SELECTION_SIZE] = 3;
    extra[one.length] = 9;
    extra[one.length + PCR_BLOB_DIGEST_LIST_SIZE] = 1;
    extra[one.length + PCR_BLOB_DIGEST_LIST_SIZE + 4] = 32;
    checkBlob(extra);
    extra[one.length] = 0;
    checkBlob(extra);
    extra[one.length + PCR_BLOB_DIGEST_LIST_SIZE] = 0;
    extra[one.length + PCR_BLOB_DIGEST_LIST_SIZE + 4] = 0;
    checkBlob(extra);
    expect(scanPcrBlobLayout(extra)).toBeDefined();
  });

  it('scanQuoteAttest ≡ decodeTpmsAttest for quotes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ maxLength: 70 }),
        fc.array(fc.tuple(bank, pcrSet), { maxLength: 3 }),
        fc.uint8Array({ maxLength: 66 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        mutation,
        fc.boolean(),
        (signer, extra, sels, digest, clock, muts, cut) => {
          const good = encodeTpmsAttest({
            type: TpmSt.AttestQuote,
            qualifiedSigner: signer,
            extraData: extra,
            clockInfo: { clock, resetCount: 1, restartCount: 2, safe: 1 },
            firmwareVersion: clock,
            attested: { pcrSelect: sels.map(([h, p]) => pcrSelection(h, p)), pcrDigest: digest },
          });
          let bytes = mutate(good, muts);
          if (cut) bytes = bytes.subarray(0, bytes.length - 1);
          const strict = outcome(() => decodeTpmsAttest(bytes));
          const fast = scanQuoteAttest(bytes);
          if (strict === 'rejected' || strict.type !== TpmSt.AttestQuote)
            expect(fast).toBeUndefined();
          else expect(fast).toEqual(strict);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('quote part base64 ≡ core isBase64 (non-empty), and decodes like Buffer', () => {
    const chars = fc.constantFrom(...'ABCxyz019+/=-_ *\n:'.split(''));
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 16 }), (cs) => {
        const text = cs.join('');
        const fast = outcome(() => decodeQuotePart(text));
        const strict = text.length > 0 && isBase64(text);
        expect(fast !== 'rejected').toBe(strict);
        if (fast !== 'rejected') expect(Buffer.from(fast)).toEqual(Buffer.from(text, 'base64'));
      }),
      { numRuns: 3000 },
    );
    for (const ok of ['QUJD', 'QUI=', 'QQ==', 'QUJDREVG'])
      expect(outcome(() => decodeQuotePart(ok))).not.toBe('rejected');
    for (const bad of ['', 'QUJ', 'QU-_', 'QU*D', 'QU=D', '====', 'QUJDR===', 'QU D']) {
      expect(outcome(() => decodeQuotePart(bad))).toBe('rejected');
    }
  });

  it('scanTpmtSignature ≡ decodeTpmtSignature', () => {
    const sigAlg = fc.constantFrom(TpmAlg.RsaSsa, TpmAlg.RsaPss, TpmAlg.Ecdsa, TpmAlg.Sha256);
    fc.assert(
      fc.property(
        sigAlg,
        fc.uint8Array({ maxLength: 520 }),
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ maxLength: 70 }),
        mutation,
        fc.integer({ min: 0, max: 3 }),
        (alg, sig, r, s, muts, cut) => {
          const good =
            alg === TpmAlg.Ecdsa
              ? Buffer.concat([
                  Uint8Array.of(0, alg, 0, 0x0b, r.length >> 8, r.length & 0xff),
                  r,
                  Uint8Array.of(s.length >> 8, s.length & 0xff),
                  s,
                ])
              : Buffer.concat([
                  Uint8Array.of(0, alg, 0, 0x0b, sig.length >> 8, sig.length & 0xff),
                  sig,
                ]);
          // Mutations aimed at the header (sizes, algorithms) as often as anywhere else.
          const header = muts.map(([at, v]): [number, number] => [at % 8, v]);
          let bytes = mutate(new Uint8Array(good), cut === 3 ? header : muts);
          if (cut === 1) bytes = bytes.subarray(0, Math.max(0, bytes.length - 1));
          if (cut === 2) bytes = Buffer.concat([bytes, Uint8Array.of(0)]);
          const strict = outcome(() => decodeTpmtSignature(bytes));
          const fast = scanTpmtSignature(bytes);
          if (strict === 'rejected') expect(fast).toBeUndefined();
          else expect(fast).toEqual(strict);
        },
      ),
      { numRuns: 1500 },
    );
    const rsa = encodeTpmtSignature({
      sigAlg: TpmAlg.RsaSsa,
      hash: TpmAlg.Sha256,
      sig: new Uint8Array(256).fill(1),
    });
    expect(scanTpmtSignature(rsa)).toEqual(decodeTpmtSignature(rsa));
  });

  it('parseQuoteString (one buffer, and the transient variant) ≡ decoding each part strictly', () => {
    const chars = fc.constantFrom(...'ABCQxyz019+/=-_ *:'.split(''));
    const b64 = fc.uint8Array({ maxLength: 12 }).map((u) => Buffer.from(u).toString('base64'));
    const piece = fc.oneof(
      b64,
      fc.array(chars, { maxLength: 10 }).map((c) => c.join('')),
    );
    const byParts = (q: string): unknown => {
      if (q[0] !== 'r') throw new Error(`invalid quote type "${q.slice(0, 1)}"`);
      const p = q.slice(1).split(':');
      if (p.length !== 3) throw new Error('quote must have exactly three ":"-separated parts');
      const names = ['TPMS_ATTEST', 'TPMT_SIGNATURE', 'PCR blob'];
      return p.map((t, i) => {
        try {
          return decodeQuotePart(t);
        } catch {
          throw new Error(`quote ${names[i]} is not base64`);
        }
      });
    };
    const message = (fn: () => unknown): unknown => {
      try {
        return fn();
      } catch (e) {
        return (e as Error).message;
      }
    };
    fc.assert(
      fc.property(
        fc.constantFrom('r', 'x', ''),
        piece,
        piece,
        piece,
        fc.boolean(),
        (t, a, b, c, colon) => {
          const q = `${t}${a}:${b}${colon ? ':' : ''}${c}`;
          const want = message(() => byParts(q));
          for (const parse of [parseQuoteString, parseQuoteStringTransient]) {
            const got = message(() => {
              const p = parse(q);
              return [p.attest, p.signature, p.pcrBlob].map((u) => new Uint8Array(u));
            });
            if (typeof want === 'string') {
              expect(typeof got).toBe('string');
              if (t === 'r' && colon) expect(got).toBe(want);
            } else expect(got).toEqual(want);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('verifyQuote on its reused buffers', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ak = prepareQuoteKey(
    encodeTpm2bPublic(
      tpmPublicFromKeyObject(pair.publicKey, {
        ...EK_LOW_TEMPLATE,
        symmetric: { algorithm: TpmAlg.Null },
        scheme: { scheme: TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 },
      }),
    ),
  );
  /** An ECDSA quote over `sels` (bank, PCRs) whose values are derived from nonce, bank and PCR. */
  const quoteOver = (nonce: string, sels: [number, number[]][]): string => {
    const selections = sels.map(([h, p]) => pcrSelection(h, p));
    const size = (h: number): number =>
      h === TpmAlg.Sha1 ? 20 : h === TpmAlg.Sha384 ? 48 : h === TpmAlg.Sha512 ? 64 : 32;
    const values = sels.flatMap(([h, p]) =>
      p.map((i) => new Uint8Array(size(h)).fill((i * 7 + h + nonce.length) & 0xff)),
    );
    const attest = encodeTpmsAttest({
      type: TpmSt.AttestQuote,
      qualifiedSigner: new Uint8Array(34),
      extraData: Buffer.from(nonce),
      clockInfo: { clock: 5n, resetCount: 1, restartCount: 0, safe: 1 },
      firmwareVersion: 1n,
      attested: { pcrSelect: selections, pcrDigest: tpmHash(TpmAlg.Sha256, ...values) },
    });
    const rs = sign('sha256', attest, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    return formatQuoteString({
      attest,
      signature: encodeTpmtSignature({
        sigAlg: TpmAlg.Ecdsa,
        hash: TpmAlg.Sha256,
        signatureR: rs.subarray(0, 32),
        signatureS: rs.subarray(32),
      }),
      pcrBlob: encodePcrBlob(pcrBlobFromValues(selections, values)),
    });
  };
  const all24 = Array.from({ length: 24 }, (_, i) => i);

  it('keeps the verified quote intact across later verifications', () => {
    const first = verifyQuote(quoteOver('nonce-one', [[TpmAlg.Sha256, [0, 7, 16]]]), {
      ak,
      nonce: 'nonce-one',
      hashAlg: 'sha256',
    });
    if (!first.ok) throw new Error('first quote should verify');
    const extra = Buffer.from(first.value.attest.extraData).toString();
    const pcrs = [...first.value.pcrs];
    const second = verifyQuote(quoteOver('nonce-two!', [[TpmAlg.Sha256, all24]]), {
      ak,
      nonce: 'nonce-two!',
      hashAlg: 'sha256',
    });
    expect(second.ok).toBe(true);
    expect(Buffer.from(first.value.attest.extraData).toString()).toBe(extra);
    expect([...first.value.pcrs]).toEqual(pcrs);
    expect(first.value.attest).toEqual(
      decodeTpmsAttest(
        parseQuoteString(quoteOver('nonce-one', [[TpmAlg.Sha256, [0, 7, 16]]])).attest,
      ),
    );
  });

  it('verifies quotes larger than the reused buffers (many banks, 384 SHA-512 values) and oversized garbage', () => {
    for (const sels of [
      [TpmAlg.Sha1, TpmAlg.Sha256, TpmAlg.Sha384].map((h): [number, number[]] => [h, all24]),
      Array.from({ length: 16 }, (): [number, number[]] => [TpmAlg.Sha512, all24]),
    ]) {
      const q = quoteOver('n', sels);
      const v = verifyQuote(q, { ak, nonce: 'n', hashAlg: 'sha256' });
      expect(v.ok).toBe(true);
      if (v.ok) expect(v.value.pcrs.size).toBe(sels[0]?.[0] === TpmAlg.Sha512 ? 0 : 24);
      const parts = parseQuoteString(q);
      expect(verifyQuote(parts, { ak, nonce: 'n', hashAlg: 'sha256' })).toEqual(v);
    }
    const huge = `${quoteOver('n', [[TpmAlg.Sha256, [1]]]).replace(/:[^:]*$/, ':')}${'A'.repeat(100_000)}`;
    expect(verifyQuote(huge, { ak, nonce: 'n', hashAlg: 'sha256' }).ok).toBe(false);
    expect(
      verifyQuote(quoteOver('n', [[TpmAlg.Sha256, [1]]]), { ak, nonce: 'n', hashAlg: 'sha256' }).ok,
    ).toBe(true);
  });
});
