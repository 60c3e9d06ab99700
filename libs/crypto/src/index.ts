/** @module @keylime/crypto: Hashes, HMAC, KDFa/KDFe, AES-GCM payloads, RSA-OAEP, X.509 and the Keylime CA (pure: produces PEM, writes nothing). */
export {};
