/** @module @keylime/protocol: The wire: JSON envelope, API versions, request/response schemas shared by the roles. */
export {};
