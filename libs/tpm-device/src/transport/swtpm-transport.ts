/**
 * @module swtpm-transport: raw TPM commands over swtpm's TCP server port. The connection opens on
 * the first command and stays until close(), so one agent operation uses one connection.
 */
import { Socket } from 'node:net';
import { concatBytes } from '@keylime/core';
import { TpmDeviceError, TpmDeviceErrorCode } from '../errors';
import type { SwtpmTcti } from '../tcti';
import { formatTcti } from '../tcti';
import type { TpmTransport, TransportOptions } from './transport';
import {
  DEFAULT_TIMEOUT_MS,
  HEADER_SIZE,
  SerialQueue,
  responseSize,
  withTimeout,
} from './transport';

interface Pending {
  readonly resolve: (response: Uint8Array) => void;
  readonly reject: (error: Error) => void;
}

/** swtpm speaks plain TPM command bytes on its server port: no MS-simulator framing needed. */
export class SwtpmTransport implements TpmTransport {
  readonly description: string;
  private readonly queue = new SerialQueue();
  private readonly timeoutMs: number;
  private socket: Socket | undefined;
  private received: Uint8Array[] = [];
  private receivedLength = 0;
  private pending: Pending | undefined;

  constructor(
    private readonly tcti: SwtpmTcti,
    options: TransportOptions = {},
  ) {
    this.description = formatTcti(tcti);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  send(command: Uint8Array): Promise<Uint8Array> {
    return this.queue.run(() =>
      withTimeout(this.exchange(command), this.timeoutMs, `${this.description}`, () => this.drop()),
    );
  }

  close(): Promise<void> {
    return this.queue.run(() => {
      const socket = this.socket;
      this.socket = undefined;
      if (socket === undefined || socket.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        // A peer that never closes its side must not keep us waiting.
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    });
  }

  private async exchange(command: Uint8Array): Promise<Uint8Array> {
    const socket = await this.connect();
    return new Promise<Uint8Array>((resolve, reject) => {
      this.received = [];
      this.receivedLength = 0;
      this.pending = { resolve, reject };
      socket.write(command);
    });
  }

  private connect(): Promise<Socket> {
    const existing = this.socket;
    if (existing !== undefined && !existing.destroyed) return Promise.resolve(existing);
    return new Promise<Socket>((resolve, reject) => {
      const socket = new Socket();
      this.socket = socket;
      socket.setNoDelay(true);
      const onConnectError = (e: Error): void => {
        this.socket = undefined;
        reject(ioError(`cannot connect to ${this.description}`, e));
      };
      socket.once('error', onConnectError);
      socket.connect(this.tcti.port, this.tcti.host, () => {
        socket.off('error', onConnectError);
        socket.on('error', (e) => this.fail(ioError(`${this.description}`, e)));
        socket.on('close', () => {
          if (this.socket === socket) this.socket = undefined;
          this.fail(ioError(`${this.description}: connection closed by the TPM`));
        });
        socket.on('data', (chunk: Buffer) => this.onData(chunk));
        resolve(socket);
      });
    });
  }

  private onData(chunk: Buffer): void {
    if (this.pending === undefined) {
      this.fail(
        badResponse(`${this.description}: ${chunk.length} unexpected byte(s) from the TPM`),
      );
      this.drop();
      return;
    }
    this.received.push(new Uint8Array(chunk));
    this.receivedLength += chunk.length;
    if (this.receivedLength < HEADER_SIZE) return;
    const all = concatBytes(...this.received);
    this.received = [all];
    let size: number;
    try {
      size = responseSize(all, this.description);
    } catch (e) {
      this.fail(e as Error);
      this.drop();
      return;
    }
    if (all.length < size) return;
    if (all.length > size) {
      this.fail(
        badResponse(`${this.description}: ${all.length - size} byte(s) after the response`),
      );
      this.drop();
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    pending.resolve(all);
  }

  private fail(error: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(error);
  }

  /** Abandons the connection: after a timeout or garbage the byte stream cannot be trusted. */
  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}

function ioError(message: string, cause?: Error): TpmDeviceError {
  const why = cause === undefined ? '' : `: ${cause.message}`;
  return new TpmDeviceError(TpmDeviceErrorCode.Io, `${message}${why}`, { cause });
}

function badResponse(message: string): TpmDeviceError {
  return new TpmDeviceError(TpmDeviceErrorCode.BadResponse, message);
}
