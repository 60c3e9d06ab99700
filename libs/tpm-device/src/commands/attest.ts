/** @module commands/attest: TPM2_Quote and TPM2_ActivateCredential (Part 3 §18.4, §12.5). */
import type { Reader } from '@keylime/core';
import { TpmAlg, TpmCc } from '../constants';
import type { Authorization, TpmCommand } from '../command';
import { command, passwordAuth } from '../command';
import type { PcrSelection } from '../structures';
import { writePcrSelection } from '../structures';

export interface QuoteResponse {
  /** TPMS_ATTEST bytes exactly as signed (the TPM2B_ATTEST contents, no size prefix). */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE bytes as returned. */
  readonly signature: Uint8Array;
}

/** TPM2_Quote with the key's own scheme (inScheme TPM_ALG_NULL); the AK has an empty auth. */
export function quote(
  signHandle: number,
  qualifyingData: Uint8Array,
  selection: PcrSelection,
): TpmCommand<QuoteResponse> {
  return command(
    TpmCc.Quote,
    [signHandle],
    [passwordAuth()],
    (w) => {
      w.sized16(qualifyingData).u16(TpmAlg.Null);
      writePcrSelection(w, selection);
    },
    {
      handles: 0,
      decode: (_h, r) => {
        const attest = r.sized16().slice();
        const start = r.offset;
        skipSignature(r);
        return { attest, signature: r.bytes.slice(start, r.offset) };
      },
    },
  );
}

/**
 * TPM2_ActivateCredential: `activateHandle` (the AK, ADMIN role: its empty auth value) and
 * `keyHandle` (the EK, through its policy session). Returns the recovered credential.
 */
export function activateCredential(
  activateHandle: number,
  keyHandle: number,
  keyAuth: Authorization,
  credentialBlob: Uint8Array,
  secret: Uint8Array,
): TpmCommand<Uint8Array> {
  return command(
    TpmCc.ActivateCredential,
    [activateHandle, keyHandle],
    [passwordAuth(), keyAuth],
    (w) => w.sized16(credentialBlob).sized16(secret),
    { handles: 0, decode: (_h, r) => r.sized16().slice() },
  );
}

/** Walks a TPMT_SIGNATURE (Part 2 §11.3.4) so its bytes can be kept verbatim and checked for length. */
function skipSignature(r: Reader): void {
  r.field('TPMT_SIGNATURE', () => {
    const sigAlg = r.u16();
    if (sigAlg === TpmAlg.Null) return;
    r.u16(); // hash
    if (sigAlg === TpmAlg.RsaSsa || sigAlg === TpmAlg.RsaPss) {
      r.sized16(512);
    } else if (sigAlg === TpmAlg.EcDsa) {
      r.sized16(66);
      r.sized16(66);
    } else {
      r.fail(`unsupported signature algorithm 0x${sigAlg.toString(16)}`);
    }
  });
}
