/**
 * @module http/scope: helpers every route file shares — the API version of a request, RK's
 * per-scope fallback answers, strict query parameters and zod issues as one-line 400s.
 */
import { Router } from 'express';
import type { Request, Response } from 'express';
import type { z } from 'zod';
import { HttpError, sendEnvelope } from '@keylime/server';

/** A router matching paths exactly (case and trailing slash), as actix does. */
export function strictRouter(): Router {
  return Router({ caseSensitive: true, strict: true });
}

/** The API version the request came in under (set by the version dispatcher). */
export function requestApiVersion(res: Response): string {
  const v: unknown = res.locals['apiVersion'];
  return typeof v === 'string' ? v : '';
}

type Method = 'GET' | 'POST';

/**
 * The answer RK gives for an unknown path inside a scope: 400 with a hint for the methods the
 * scope serves, 405 with `Allow` for the others.
 */
export function scopeFallback(
  hints: Partial<Record<Method, string>>,
  otherMethods: string,
): (req: Request, res: Response) => void {
  const allow = (Object.keys(hints) as Method[]).join(', ');
  return (req, res) => {
    const hint = hints[req.method as Method];
    if (hint !== undefined) {
      sendEnvelope(res, 400, hint);
      return;
    }
    res.set('Allow', allow);
    sendEnvelope(res, 405, otherMethods);
  };
}

/** One query parameter as a single string (repeated parameters are refused). */
export function queryParam(req: Request, name: string): string | undefined {
  const value: unknown = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new HttpError(400, `Query parameter ${name} must be given once`);
  return value;
}

/** Parses with zod; the first issue becomes a 400 naming the field (RK: "Json deserialize error"). */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') ?? '';
  const what = issue === undefined ? 'invalid body' : issue.message;
  throw new HttpError(400, `Json deserialize error: ${field === '' ? what : `${field}: ${what}`}`);
}

/** ASCII letters and digits only; a stricter form of RK's Unicode alphanumeric check. */
export function isAlphanumeric(text: string): boolean {
  return /^[A-Za-z0-9]+$/.test(text);
}
