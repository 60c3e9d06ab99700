/** @module @keylime/server: HTTPS/mTLS server bootstrap, TLS material (cv_ca), API-version routing, error to HTTP mapping. */
export {};
