/**
 * @module device-transport: a Linux TPM character device (`/dev/tpmrm0`). Reads and writes go
 * through libuv's thread pool (fs.promises), so a slow TPM never blocks the event loop.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { TpmDeviceError, TpmDeviceErrorCode } from '../errors';
import type { DeviceTcti } from '../tcti';
import { formatTcti } from '../tcti';
import type { TpmTransport, TransportOptions } from './transport';
import {
  DEFAULT_TIMEOUT_MS,
  HEADER_SIZE,
  SerialQueue,
  responseSize,
  withTimeout,
} from './transport';

/** The kernel driver's buffer (TPM_BUFSIZE); a response is returned by one read(). */
const DEVICE_BUFFER_SIZE = 4096;

/**
 * With the kernel resource manager, closing the file flushes whatever this handle left loaded,
 * which backs up the "nothing loaded between requests" rule.
 */
export class DeviceTransport implements TpmTransport {
  readonly description: string;
  private readonly queue = new SerialQueue();
  private readonly timeoutMs: number;
  private file: FileHandle | undefined;

  constructor(
    private readonly tcti: DeviceTcti,
    options: TransportOptions = {},
  ) {
    this.description = formatTcti(tcti);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  send(command: Uint8Array): Promise<Uint8Array> {
    return this.queue.run(() =>
      withTimeout(this.exchange(command), this.timeoutMs, this.description, () => {
        // A read still parked in the thread pool cannot be cancelled; closing makes it fail.
        const file = this.file;
        this.file = undefined;
        void file?.close().catch(() => undefined);
      }),
    );
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      const file = this.file;
      this.file = undefined;
      await file?.close();
    });
  }

  private async exchange(command: Uint8Array): Promise<Uint8Array> {
    const file = await this.openFile();
    try {
      // position null: character devices are streams, not seekable files.
      const { bytesWritten } = await file.write(command, 0, command.length, null);
      if (bytesWritten !== command.length) {
        throw new TpmDeviceError(
          TpmDeviceErrorCode.Io,
          `${this.description}: short write (${bytesWritten} of ${command.length})`,
        );
      }
      const buffer = new Uint8Array(DEVICE_BUFFER_SIZE);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead < HEADER_SIZE) {
        throw new TpmDeviceError(
          TpmDeviceErrorCode.BadResponse,
          `${this.description}: short response (${bytesRead} bytes)`,
        );
      }
      const size = responseSize(buffer, this.description);
      if (size !== bytesRead) {
        throw new TpmDeviceError(
          TpmDeviceErrorCode.BadResponse,
          `${this.description}: response size field ${size} but ${bytesRead} byte(s) read`,
        );
      }
      return buffer.slice(0, bytesRead);
    } catch (e) {
      // After a failed exchange the driver may still hold a response for us; start afresh.
      this.file = undefined;
      await file.close().catch(() => undefined);
      if (e instanceof TpmDeviceError) throw e;
      throw new TpmDeviceError(
        TpmDeviceErrorCode.Io,
        `${this.description}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  private async openFile(): Promise<FileHandle> {
    if (this.file !== undefined) return this.file;
    try {
      this.file = await open(this.tcti.path, 'r+');
    } catch (e) {
      throw new TpmDeviceError(
        TpmDeviceErrorCode.Io,
        `cannot open ${this.tcti.path}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    return this.file;
  }
}
