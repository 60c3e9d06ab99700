/**
 * @module credential: TPM2_ActivateCredential of the registrar's challenge (spec §3.5): the AK is
 * loaded under the EK, and the EK recovers the seed only if the credential names this AK.
 * Decode the registrar's blob with @keylime/tpm's decodeCredentialBlob.
 */
import type { CredentialBlob } from '@keylime/tpm';
import type { AkRef } from './ak';
import { loadAkUnder } from './ak';
import { activateCredential as activateCredentialCommand } from './commands/attest';
import { loadEkIn, withEkAuth } from './ek';
import type { Tpm } from './tpm';

/** The AK and EK, and the two halves of the MakeCredential result (contents, no size prefixes). */
export type ActivateCredentialOptions = AkRef & CredentialBlob;

/** Recovers the credential the registrar encrypted for this EK and AK; nothing stays loaded. */
export function activateCredential(
  tpm: Tpm,
  options: ActivateCredentialOptions,
): Promise<Uint8Array> {
  return tpm.run(async (op) => {
    const ekHandle = await loadEkIn(op, options.ek);
    const akHandle = await loadAkUnder(op, ekHandle, options);
    return withEkAuth(op, options.ek, (auth) =>
      activateCredentialCommand(
        akHandle,
        ekHandle,
        auth,
        options.idObject,
        options.encryptedSecret,
      ),
    );
  });
}
