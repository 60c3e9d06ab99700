/**
 * @module quote: TPM2_Quote with the AK over PCRs of several banks, returned with the PCR values
 * that produced the quoted digest (read in the same operation, re-read if a PCR moved meanwhile).
 */
import { bytesEqual, concatBytes } from '@keylime/core';
import {
  TpmSt,
  decodeTpmsAttest,
  encodePcrBlob,
  pcrBlobFromValues,
  pcrSelection,
  tpmHash,
} from '@keylime/tpm';
import type { TpmlPcrSelection } from '@keylime/tpm';
import type { AkRef } from './ak';
import { loadAkIn } from './ak';
import { quote as quoteCommand } from './commands/attest';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import type { PcrReadResult } from './pcrs';
import { normalizeSelection, readPcrsIn } from './pcrs';
import type { PcrSelection } from './structures';
import type { Tpm } from './tpm';

export interface QuoteOptions extends AkRef {
  /** qualifyingData, e.g. the verifier's nonce as ASCII bytes (at most 64 bytes). */
  readonly nonce: Uint8Array;
  /** PCRs to quote; banks in this order, PCRs ascending. */
  readonly pcrs: PcrSelection;
}

export interface QuoteResult {
  /** TPMS_ATTEST exactly as the TPM signed it. */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE as the TPM returned it. */
  readonly signature: Uint8Array;
  /** The quoted PCR values (their digest equals the quote's pcrDigest). */
  readonly pcrValues: PcrReadResult;
  /** The quoted selection as a TPML_PCR_SELECTION value of @keylime/tpm. */
  readonly selection: TpmlPcrSelection;
  /** The PCR values as tpm2-tools' PCR blob (third part of Keylime's quote string). */
  readonly pcrBlob: Uint8Array;
}

// Each retry means a PCR was extended between our read and the quote; that settles quickly.
const MAX_QUOTE_ATTEMPTS = 4;

/** Quotes `pcrs` with the AK (loaded under its EK for this operation only). */
export function quote(tpm: Tpm, options: QuoteOptions): Promise<QuoteResult> {
  const selection = normalizeSelection(options.pcrs);
  if (selection.length === 0) {
    throw new TpmDeviceError(TpmDeviceErrorCode.BadArgument, 'a quote needs at least one PCR');
  }
  return tpm.run(async (op) => {
    const akHandle = await loadAkIn(op, options);
    for (let attempt = 0; attempt < MAX_QUOTE_ATTEMPTS; attempt++) {
      const pcrValues = await readPcrsIn(op, selection);
      const { attest, signature } = await op.execute(
        quoteCommand(akHandle, options.nonce, selection),
      );
      const decoded = decodeTpmsAttest(attest);
      if (decoded.type !== TpmSt.AttestQuote || !bytesEqual(decoded.extraData, options.nonce)) {
        throw new TpmDeviceError(
          TpmDeviceErrorCode.Unexpected,
          'the TPM returned an attestation that is not our quote',
        );
      }
      const values = pcrValues.banks.flatMap((b) => b.values.map((v) => v.digest));
      const digest = tpmHash(options.ak.hashAlg, concatBytes(...values));
      if (bytesEqual(digest, decoded.attested.pcrDigest)) {
        const tpml = selection.map((b) => pcrSelection(b.hashAlg, b.pcrs));
        return {
          attest,
          signature,
          pcrValues,
          selection: tpml,
          pcrBlob: encodePcrBlob(pcrBlobFromValues(tpml, values)),
        };
      }
    }
    throw new TpmDeviceError(TpmDeviceErrorCode.Unexpected, 'PCRs kept changing while quoting');
  });
}
