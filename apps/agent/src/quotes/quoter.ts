/**
 * @module quotes/quoter: TPM quotes as the RK agent makes them (spec §4.2, §4.3): PCR 16 is reset
 * and extended with H(NK public key PEM), then the AK quotes the requested PCRs plus PCR 16 with
 * the nonce as qualifying data. Each step loads and flushes its own objects (design.md).
 */
import { utf8 } from '@keylime/core';
import { hash } from '@keylime/crypto';
import type { HashAlg } from '@keylime/crypto';
import { formatQuoteString, hashAlgId } from '@keylime/tpm';
import { extendPcr, quote, resetPcr } from '@keylime/tpm-device';
import type { AkKey, EkKey, Tpm } from '@keylime/tpm-device';

/** PCR 16, the resettable PCR the NK is bound to. */
export const DATA_PCR = 16;

/** Makes Keylime quote strings. */
export interface Quoter {
  /** `pcrs` from the mask (0-23); PCR 16 is always added. */
  quote(nonce: string, pcrs: readonly number[]): Promise<string>;
}

export interface QuoterOptions {
  readonly tpm: Tpm;
  readonly ek: EkKey;
  readonly ak: AkKey;
  readonly hashAlg: HashAlg;
  /** NK public key PEM, exactly as served in `pubkey`. */
  readonly nkPublicPem: string;
}

export function createQuoter(options: QuoterOptions): Quoter {
  const bank = hashAlgId(options.hashAlg);
  const nkDigest = hash(options.hashAlg, utf8(options.nkPublicPem));
  // Reset, extend and quote must not interleave with another quote's reset.
  let chain: Promise<unknown> = Promise.resolve();
  const quoteOnce = async (nonce: string, pcrs: readonly number[]): Promise<string> => {
    await resetPcr(options.tpm, DATA_PCR);
    await extendPcr(options.tpm, DATA_PCR, [{ hashAlg: bank, digest: nkDigest }]);
    const selection = [...new Set([...pcrs, DATA_PCR])].sort((a, b) => a - b);
    const result = await quote(options.tpm, {
      ek: options.ek,
      ak: options.ak,
      nonce: utf8(nonce),
      pcrs: [{ hashAlg: bank, pcrs: selection }],
    });
    return formatQuoteString({
      attest: result.attest,
      signature: result.signature,
      pcrBlob: result.pcrBlob,
    });
  };
  return {
    quote(nonce, pcrs) {
      const next = chain.then(() => quoteOnce(nonce, pcrs));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}
