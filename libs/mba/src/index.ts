/** @module @keylime/mba: UEFI measured-boot event log parsing, replay and reference-state evaluation. */
export {};
