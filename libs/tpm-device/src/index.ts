/** @module @keylime/tpm-device: TPM transports (swtpm TCP, /dev/tpmrm0) and the TPM 2.0 commands the agent uses. */
export {};
