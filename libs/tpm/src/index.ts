/** @module @keylime/tpm: TPM 2.0 structures and codecs, object names, quote verification, MakeCredential. Pure, no I/O. */
export {};
