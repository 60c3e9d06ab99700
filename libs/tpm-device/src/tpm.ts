/**
 * @module tpm: the agent's handle on a TPM. Work happens in operations: one at a time, each
 * tracking what it loads and flushing all of it (on failure too) before releasing the connection,
 * so between operations the TPM holds nothing of ours and we hold no connection (design.md).
 */
import { execute } from './command';
import type { TpmCommand } from './command';
import { flushContext } from './commands/object';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import type { TpmsContext } from './structures';
import type { TctiConfig } from './tcti';
import { openTransport } from './transport/open-transport';
import type { TpmTransport, TransportOptions } from './transport/transport';
import { SerialQueue } from './transport/transport';

/** A TPM reached through one transport; operations on it never overlap. */
export class Tpm {
  private readonly operations = new SerialQueue();
  /**
   * Saved contexts of objects we loaded before (by Name). They live off the TPM, so nothing stays
   * loaded, yet ContextLoad is much cheaper than re-creating an RSA EK (~50 ms on swtpm). After a
   * TPM reset they no longer load, and callers fall back to the full path.
   */
  private readonly savedContexts = new Map<string, TpmsContext>();

  constructor(readonly transport: TpmTransport) {}

  /** The saved context remembered under `key`, if any. */
  savedContext(key: string): TpmsContext | undefined {
    return this.savedContexts.get(key);
  }

  /** Remembers (or, with undefined, forgets) a saved context. */
  rememberContext(key: string, context: TpmsContext | undefined): void {
    if (context === undefined) this.savedContexts.delete(key);
    else this.savedContexts.set(key, context);
  }

  /** A Tpm for a TCTI string or config; nothing is opened until the first operation. */
  static open(tcti: TctiConfig | string, options: TransportOptions = {}): Tpm {
    return new Tpm(openTransport(tcti, options));
  }

  /**
   * Runs `work` with exclusive use of the TPM. Whatever `work` loads through `op.track` is
   * flushed afterwards, whether it succeeded or threw, and the connection is then closed.
   */
  run<T>(work: (op: TpmOperation) => Promise<T>): Promise<T> {
    return this.operations.run(async () => {
      const op = new TpmOperation(this, this.transport);
      let result: T;
      try {
        result = await work(op);
      } catch (e) {
        await op.flushAll().catch(() => undefined);
        await this.transport.close().catch(() => undefined);
        throw e;
      }
      try {
        await op.flushAll();
      } finally {
        await this.transport.close();
      }
      return result;
    });
  }
}

/** The scope of one operation: sends commands and remembers what must be flushed. */
export class TpmOperation {
  private readonly loaded: number[] = [];

  constructor(
    /** The Tpm this operation runs on (for its context cache). */
    readonly tpm: Tpm,
    private readonly transport: TpmTransport,
  ) {}

  /** Sends one command and decodes its response. */
  execute<R>(cmd: TpmCommand<R>): Promise<R> {
    return execute(this.transport, cmd);
  }

  /** Remembers a transient object or session handle to flush when the operation ends. */
  track(handle: number): number {
    this.loaded.push(handle);
    return handle;
  }

  /** Forgets a handle the TPM already dropped (a session used without continueSession). */
  forget(handle: number): void {
    const i = this.loaded.lastIndexOf(handle);
    if (i >= 0) this.loaded.splice(i, 1);
  }

  /** Flushes one tracked handle now, to free its slot early. */
  async flush(handle: number): Promise<void> {
    this.forget(handle);
    await this.execute(flushContext(handle));
  }

  /** Handles still to be flushed, newest last. */
  get tracked(): readonly number[] {
    return [...this.loaded];
  }

  /** Flushes everything tracked, newest first; tries all and reports the first failure. */
  async flushAll(): Promise<void> {
    let first: unknown;
    while (this.loaded.length > 0) {
      const handle = this.loaded.pop() as number;
      try {
        await this.execute(flushContext(handle));
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) {
      throw new TpmDeviceError(
        TpmDeviceErrorCode.Io,
        `could not flush every handle: ${(first as Error).message}`,
        {
          cause: first,
        },
      );
    }
  }
}
