/**
 * @module keys/bootstrap-keys: the agent's half of the bootstrap key protocol (spec §5.4): collect
 * U's (with auth tag and optional payload) and V's, try every pair, keep K when a tag matches.
 */
import { tryCombineBootstrapKey } from '@keylime/crypto';
import type { Logger } from '@keylime/core';

/** A U as received: the decrypted key half, its auth tag (hex) and an optional payload. */
export interface ReceivedU {
  readonly u: Uint8Array;
  readonly authTag: string;
  readonly payload: string | undefined;
}

/** Called once per successful combination. */
export type KeyDerivedListener = (k: Uint8Array, payload: string | undefined) => void;

// RK keeps unbounded lists; a bound keeps a flood of bogus halves from growing memory.
const MAX_PENDING = 16;

/** U/V pairing and the derived K, served to /keys/verify. */
export class BootstrapKeys {
  private us: ReceivedU[] = [];
  private vs: Uint8Array[] = [];
  private k: Uint8Array | undefined;

  constructor(
    private readonly agentUuid: string,
    private readonly onDerived: KeyDerivedListener,
    private readonly logger: Logger,
  ) {}

  /** K once derived, else undefined. */
  get key(): Uint8Array | undefined {
    return this.k;
  }

  addU(u: ReceivedU): void {
    this.us.push(u);
    if (this.us.length > MAX_PENDING) this.us.shift();
    this.combine();
  }

  addV(v: Uint8Array): void {
    this.vs.push(v);
    if (this.vs.length > MAX_PENDING) this.vs.shift();
    this.combine();
  }

  private combine(): void {
    if (this.us.length === 0 || this.vs.length === 0) {
      this.logger.debug('Still waiting on u or v key');
      return;
    }
    for (const u of this.us) {
      for (const v of this.vs) {
        const k = tryCombineBootstrapKey(u.u, v, u.authTag, this.agentUuid);
        if (k === undefined) continue;
        this.logger.info('Successfully derived symmetric payload decryption key');
        this.us = [];
        this.vs = [];
        this.k = k;
        this.onDerived(k, u.payload);
        return;
      }
    }
    this.logger.warn('HMAC check failed for all U and V key combinations');
  }
}
