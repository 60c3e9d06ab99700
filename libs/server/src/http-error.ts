/** @module http-error: an error that carries the HTTP status and the envelope's status text. */
import { KeylimeError } from '@keylime/core';

/** Throw from a handler to answer `{code: status, status: message, results: {}}`. */
export class HttpError extends KeylimeError {
  readonly status: number;

  constructor(status: number, message: string, options: { cause?: unknown } = {}) {
    super(`KL_HTTP_${status}`, message, options);
    this.name = 'HttpError';
    this.status = status;
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}

export function notFound(message: string): HttpError {
  return new HttpError(404, message);
}
