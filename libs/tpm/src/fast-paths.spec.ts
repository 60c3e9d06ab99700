/** @module fast-paths.spec: property tests proving the hot-path decoders accept exactly what the strict ones accept. */
import { isBase64 } from '@keylime/core';
import fc from 'fast-check';
import { decodeTpmsAttest, encodeTpmsAttest, scanQuoteAttest } from './attest';
import { TpmAlg, TpmSt } from './constants';
import { decodePcrBlob, encodePcrBlob, pcrBlobFromValues, pcrBlobValues } from './pcr-blob';
import { scanPcrBlob } from './pcr-blob-scan';
import { pcrSelection } from './pcr-selection';
import { decodeQuotePart } from './quote-string';

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
          const strict = outcome(() => pcrBlobValues(decodePcrBlob(bytes)));
          const fast = scanPcrBlob(bytes);
          if (strict === 'rejected') expect(fast).toBeUndefined();
          else expect(fast?.values).toEqual(strict);
        },
      ),
      { numRuns: 400 },
    );
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
});
