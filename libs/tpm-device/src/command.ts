/**
 * @module command: TPM commands as plain data (code, handles, authorizations, parameter bytes)
 * paired with a response codec, and the framing that turns them into bytes and back (Part 1 §18).
 */
import { randomBytes } from 'node:crypto';
import { DecodeError, Reader, Writer } from '@keylime/core';
import { COMMAND_NAMES, TpmRh, TpmSt } from './constants';
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';
import { TpmResponseError, TpmRc } from './response-code';
import type { TpmTransport } from './transport/transport';

/** TPMA_SESSION bits (Part 2 §8.4). */
export const TpmaSession = { ContinueSession: 0x01 } as const;

/** One TPMS_AUTH_COMMAND: which session authorizes a handle, and its proof. */
export interface Authorization {
  readonly sessionHandle: number;
  readonly nonceCaller: Uint8Array;
  readonly attributes: number;
  /** The HMAC, or for the password session the password itself. */
  readonly hmac: Uint8Array;
}

/** Decodes the response handles and parameter area of a successful response. */
export interface ResponseCodec<R> {
  /** How many handles precede the parameters in the response. */
  readonly handles: number;
  decode(handles: readonly number[], params: Reader): R;
}

/** A command ready to send: everything the TPM sees, and how to read what it answers. */
export interface TpmCommand<R> {
  readonly code: number;
  readonly handles: readonly number[];
  /** One per handle that needs authorization, in handle order (Part 1 §19.4). */
  readonly auths: readonly Authorization[];
  readonly params: Uint8Array;
  readonly response: ResponseCodec<R>;
}

/** The empty-password session (TPM_RS_PW), enough for objects and hierarchies with empty auth. */
export function passwordAuth(password: Uint8Array = new Uint8Array(0)): Authorization {
  return {
    sessionHandle: TpmRh.Password,
    nonceCaller: new Uint8Array(0),
    attributes: 0,
    hmac: password,
  };
}

/**
 * A satisfied policy session. Its policy needs no auth value, so the HMAC stays empty; a fresh
 * nonce per use is what the TPM expects of a caller. Without continueSession the TPM flushes
 * the session after a successful command.
 */
export function policyAuth(sessionHandle: number, continueSession = false): Authorization {
  return {
    sessionHandle,
    nonceCaller: new Uint8Array(randomBytes(16)),
    attributes: continueSession ? TpmaSession.ContinueSession : 0,
    hmac: new Uint8Array(0),
  };
}

/** A codec for commands whose response has no handles and no parameters. */
export const NO_RESPONSE: ResponseCodec<void> = {
  handles: 0,
  decode: () => undefined,
};

/** Builds a command; `params` writes the parameter area. */
export function command<R>(
  code: number,
  handles: readonly number[],
  auths: readonly Authorization[],
  params: (w: Writer) => void,
  response: ResponseCodec<R>,
): TpmCommand<R> {
  const w = new Writer(64);
  params(w);
  return { code, handles, auths, params: w.finish(), response };
}

/** Spec name of a command code. */
export function commandName(code: number): string {
  return COMMAND_NAMES[code] ?? `TPM_CC(0x${code.toString(16)})`;
}

/** The command bytes: header, handles, authorization area, parameters (Part 1 §18.2). */
export function marshalCommand(cmd: TpmCommand<unknown>): Uint8Array {
  const w = new Writer(32 + cmd.params.length);
  w.u16(cmd.auths.length > 0 ? TpmSt.Sessions : TpmSt.NoSessions)
    .u32(0)
    .u32(cmd.code);
  for (const h of cmd.handles) w.u32(h);
  if (cmd.auths.length > 0) {
    const area = new Writer(64);
    for (const a of cmd.auths) {
      area.u32(a.sessionHandle).sized16(a.nonceCaller).u8(a.attributes).sized16(a.hmac);
    }
    const bytes = area.finish();
    w.u32(bytes.length).bytes(bytes);
  }
  w.bytes(cmd.params);
  w.patchU32(2, w.length);
  return w.finish();
}

/** Checks the header, throws TpmResponseError for a non-zero rc, and decodes the rest. */
export function unmarshalResponse<R>(cmd: TpmCommand<R>, bytes: Uint8Array): R {
  const name = commandName(cmd.code);
  try {
    const r = new Reader(bytes);
    const tag = r.u16();
    const size = r.u32();
    const rc = r.u32();
    if (size !== bytes.length) r.fail(`size field ${size} but ${bytes.length} byte(s)`);
    if (rc !== 0) {
      r.end();
      throw new TpmResponseError(name, rc);
    }
    const expectedTag = cmd.auths.length > 0 ? TpmSt.Sessions : TpmSt.NoSessions;
    if (tag !== expectedTag)
      r.fail(`tag 0x${tag.toString(16)}, expected 0x${expectedTag.toString(16)}`);
    const handles: number[] = [];
    for (let i = 0; i < cmd.response.handles; i++) handles.push(r.field('handle', () => r.u32()));
    let params: Reader;
    if (tag === TpmSt.Sessions) {
      const paramSize = r.field('parameterSize', () => r.u32());
      params = r.sub(paramSize);
      // Response auths (nonceTPM, attributes, hmac) carry nothing we check: no HMAC sessions here.
      for (let i = 0; i < cmd.auths.length; i++) {
        r.field(`auth[${i}]`, () => {
          r.sized16();
          r.u8();
          r.sized16();
        });
      }
      r.end();
    } else {
      params = r;
    }
    const value = cmd.response.decode(handles, params);
    params.end();
    return value;
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new TpmDeviceError(
        TpmDeviceErrorCode.BadResponse,
        `${name}: malformed response: ${e.message}`,
        {
          cause: e,
        },
      );
    }
    throw e;
  }
}

// Warnings after which the spec expects the caller to simply send the command again.
const RETRYABLE = new Set<number>([TpmRc.Retry, TpmRc.Yielded, TpmRc.Testing]);
const MAX_RETRIES = 5;

/** Sends `cmd` and decodes the answer, retrying while the TPM says TPM_RC_RETRY/YIELDED/TESTING. */
export async function execute<R>(transport: TpmTransport, cmd: TpmCommand<R>): Promise<R> {
  const bytes = marshalCommand(cmd);
  for (let attempt = 0; ; attempt++) {
    const response = await transport.send(bytes);
    try {
      return unmarshalResponse(cmd, response);
    } catch (e) {
      if (!(e instanceof TpmResponseError) || !RETRYABLE.has(e.base) || attempt >= MAX_RETRIES)
        throw e;
      await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
    }
  }
}
