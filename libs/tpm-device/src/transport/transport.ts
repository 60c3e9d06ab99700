/** @module transport: the one-method seam between TPM commands and a TPM, and what transports share. */
import { TpmDeviceError, TpmDeviceErrorCode } from '../errors';

/**
 * Bytes in, bytes out: one complete command, one complete response (go-tpm's transport.TPM).
 * Implementations serialise calls (one command in flight) and open their connection lazily.
 */
export interface TpmTransport {
  send(command: Uint8Array): Promise<Uint8Array>;
  /**
   * Drops the connection or file handle; the next send opens a new one. The agent calls this
   * at the end of every operation so that it holds nothing between requests.
   */
  close(): Promise<void>;
  /** Where the TPM is, for messages (`swtpm:host=…,port=…`). */
  readonly description: string;
}

export interface TransportOptions {
  /** Per-command limit for connect + write + read; default 30 s (RSA keygen on slow TPMs). */
  readonly timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** TPM response header: tag u16, size u32, rc u32. */
export const HEADER_SIZE = 10;

/** No TPM 2.0 response we send for is near this; a larger size field means garbage. */
export const MAX_RESPONSE_SIZE = 64 * 1024;

/** Reads the size field of a response header and checks it is plausible. */
export function responseSize(header: Uint8Array, description: string): number {
  const size =
    (((header[2] ?? 0) << 24) >>> 0) +
    ((header[3] ?? 0) << 16) +
    ((header[4] ?? 0) << 8) +
    (header[5] ?? 0);
  if (size < HEADER_SIZE || size > MAX_RESPONSE_SIZE) {
    throw new TpmDeviceError(
      TpmDeviceErrorCode.BadResponse,
      `${description}: response size field ${size} is outside ${HEADER_SIZE}..${MAX_RESPONSE_SIZE}`,
    );
  }
  return size;
}

/** Runs async jobs one at a time, in call order; a failed job does not stop later ones. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Rejects with a Timeout error after `ms` unless `work` settles first; `onTimeout` cleans up. */
export function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  what: string,
  onTimeout: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new TpmDeviceError(TpmDeviceErrorCode.Timeout, `${what}: no answer within ${ms} ms`));
    }, ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
