/** @module @keylime/ima: IMA measurement list parsing, template hashes, PCR 10 replay and runtime policy evaluation. */
export {};
