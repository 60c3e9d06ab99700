/**
 * @module pcr: software PCR replay for the SHA-1/256/384/512 banks: extend, replay from an initial value,
 * and the PCR 16 value an agent's NK binding produces (verifier §3.4, upstream Tpm.sim_extend).
 */
import { createHash } from 'node:crypto';
import { DIGEST_SIZES, HASH_ALGS } from '@keylime/crypto';
import type { HashAlg } from '@keylime/crypto';
import { TpmErrorCode, tpmError } from './errors';

/** The PCR that binds the agent's payload (NK) public key (upstream config.TPM_DATA_PCR). */
export const TPM_DATA_PCR = 16;

function sizeOf(bank: HashAlg): number {
  const size = DIGEST_SIZES[bank] as number | undefined;
  if (size === undefined)
    throw tpmError(TpmErrorCode.Unsupported, `unsupported PCR bank "${String(bank)}"`);
  return size;
}

/** The reset value of a PCR: all zeros; PCR 0 after a locality-N startup ends in byte N (PC Client PFP §3.3.4.4). */
export function pcrInitialValue(bank: HashAlg, locality = 0): Uint8Array {
  const out = new Uint8Array(sizeOf(bank));
  out[out.length - 1] = locality;
  return out;
}

/** TPM2_PCR_Extend: H(current ‖ digest). `digest` must have the bank's size, as the TPM requires. */
export function pcrExtend(bank: HashAlg, current: Uint8Array, digest: Uint8Array): Uint8Array {
  const size = sizeOf(bank);
  if (current.length !== size || digest.length !== size) {
    throw tpmError(TpmErrorCode.BadValue, `${bank} extend needs ${size}-byte values`, {
      current: current.length,
      digest: digest.length,
    });
  }
  return createHash(bank).update(current).update(digest).digest();
}

/** Extends `digests` in order, starting from `initial` (default: zeros). */
export function pcrReplay(
  bank: HashAlg,
  digests: Iterable<Uint8Array>,
  initial?: Uint8Array,
): Uint8Array {
  let value = initial ?? pcrInitialValue(bank);
  for (const d of digests) value = pcrExtend(bank, value, d);
  return value;
}

/**
 * Expected PCR 16 after the agent binds its NK: H(zeros ‖ H(utf8(pem))) in the quote's bank, lower-case
 * hex (verifier §3.4; agent-registrar-tenant §9 item 6). `pem` is the text exactly as the agent sent it.
 */
export function dataPcrValue(bank: HashAlg, pem: string): string {
  return dataPcrBytes(bank, pem).toString('hex');
}

function dataPcrBytes(bank: HashAlg, pem: string): Buffer {
  const measured = createHash(bank).update(pem, 'utf8').digest();
  return Buffer.from(pcrExtend(bank, pcrInitialValue(bank), measured));
}

/**
 * An agent's NK as PCR 16 binds it, without the PEM: the PCR 16 value it produces in every bank,
 * computed once and held as one latin1 string (164 bytes). A verifier keeps one per attested
 * agent (the PEM is ≈ 450 bytes) and checks each quote against it without hashing.
 */
export class DataPcrBinding {
  private constructor(private readonly values: string) {}

  static of(pem: string): DataPcrBinding {
    return new DataPcrBinding(
      HASH_ALGS.map((bank) => dataPcrBytes(bank, pem).toString('latin1')).join(''),
    );
  }

  /** The PCR 16 value the key produces in `bank`, lower-case hex (as dataPcrValue). */
  expected(bank: HashAlg): string {
    let at = 0;
    for (const b of HASH_ALGS) {
      if (b === bank) break;
      at += sizeOf(b);
    }
    return Buffer.from(this.values.slice(at, at + sizeOf(bank)), 'latin1').toString('hex');
  }

  /** The same key text (equal PCR 16 values in every bank). */
  equals(other: DataPcrBinding): boolean {
    return this.values === other.values;
  }
}
