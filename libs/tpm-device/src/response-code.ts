/**
 * @module response-code: decodes TPM_RC values (TPM 2.0 Part 2 §6.6) into named, structured
 * errors saying which handle, session or parameter the TPM objected to.
 */
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';

const RC_VER1 = 0x100;
const RC_FMT1 = 0x080;
const RC_WARN = 0x900;

/** Format-0 errors, TPM_RC_VER1 + n (Part 2 Table 16). */
// prettier-ignore
const FORMAT0: Readonly<Record<number, string>> = {
  0x000: 'TPM_RC_INITIALIZE', 0x001: 'TPM_RC_FAILURE', 0x003: 'TPM_RC_SEQUENCE',
  0x00b: 'TPM_RC_PRIVATE', 0x019: 'TPM_RC_HMAC', 0x020: 'TPM_RC_DISABLED',
  0x021: 'TPM_RC_EXCLUSIVE', 0x024: 'TPM_RC_AUTH_TYPE', 0x025: 'TPM_RC_AUTH_MISSING',
  0x026: 'TPM_RC_POLICY', 0x027: 'TPM_RC_PCR', 0x028: 'TPM_RC_PCR_CHANGED',
  0x02d: 'TPM_RC_UPGRADE', 0x02e: 'TPM_RC_TOO_MANY_CONTEXTS', 0x02f: 'TPM_RC_AUTH_UNAVAILABLE',
  0x030: 'TPM_RC_REBOOT', 0x031: 'TPM_RC_UNBALANCED', 0x042: 'TPM_RC_COMMAND_SIZE',
  0x043: 'TPM_RC_COMMAND_CODE', 0x044: 'TPM_RC_AUTHSIZE', 0x045: 'TPM_RC_AUTH_CONTEXT',
  0x046: 'TPM_RC_NV_RANGE', 0x047: 'TPM_RC_NV_SIZE', 0x048: 'TPM_RC_NV_LOCKED',
  0x049: 'TPM_RC_NV_AUTHORIZATION', 0x04a: 'TPM_RC_NV_UNINITIALIZED', 0x04b: 'TPM_RC_NV_SPACE',
  0x04c: 'TPM_RC_NV_DEFINED', 0x050: 'TPM_RC_BAD_CONTEXT', 0x051: 'TPM_RC_CPHASH',
  0x052: 'TPM_RC_PARENT', 0x053: 'TPM_RC_NEEDS_TEST', 0x054: 'TPM_RC_NO_RESULT',
  0x055: 'TPM_RC_SENSITIVE',
};

/** Format-1 errors, TPM_RC_FMT1 + n (Part 2 Table 16). */
// prettier-ignore
const FORMAT1: Readonly<Record<number, string>> = {
  0x01: 'TPM_RC_ASYMMETRIC', 0x02: 'TPM_RC_ATTRIBUTES', 0x03: 'TPM_RC_HASH', 0x04: 'TPM_RC_VALUE',
  0x05: 'TPM_RC_HIERARCHY', 0x07: 'TPM_RC_KEY_SIZE', 0x08: 'TPM_RC_MGF', 0x09: 'TPM_RC_MODE',
  0x0a: 'TPM_RC_TYPE', 0x0b: 'TPM_RC_HANDLE', 0x0c: 'TPM_RC_KDF', 0x0d: 'TPM_RC_RANGE',
  0x0e: 'TPM_RC_AUTH_FAIL', 0x0f: 'TPM_RC_NONCE', 0x10: 'TPM_RC_PP', 0x12: 'TPM_RC_SCHEME',
  0x15: 'TPM_RC_SIZE', 0x16: 'TPM_RC_SYMMETRIC', 0x17: 'TPM_RC_TAG', 0x18: 'TPM_RC_SELECTOR',
  0x1a: 'TPM_RC_INSUFFICIENT', 0x1b: 'TPM_RC_SIGNATURE', 0x1c: 'TPM_RC_KEY',
  0x1d: 'TPM_RC_POLICY_FAIL', 0x1f: 'TPM_RC_INTEGRITY', 0x20: 'TPM_RC_TICKET',
  0x21: 'TPM_RC_RESERVED_BITS', 0x22: 'TPM_RC_BAD_AUTH', 0x23: 'TPM_RC_EXPIRED',
  0x24: 'TPM_RC_POLICY_CC', 0x25: 'TPM_RC_BINDING', 0x26: 'TPM_RC_CURVE', 0x27: 'TPM_RC_ECC_POINT',
};

/** Warnings, TPM_RC_WARN + n (Part 2 Table 16). */
// prettier-ignore
const WARNINGS: Readonly<Record<number, string>> = {
  0x01: 'TPM_RC_CONTEXT_GAP', 0x02: 'TPM_RC_OBJECT_MEMORY', 0x03: 'TPM_RC_SESSION_MEMORY',
  0x04: 'TPM_RC_MEMORY', 0x05: 'TPM_RC_SESSION_HANDLES', 0x06: 'TPM_RC_OBJECT_HANDLES',
  0x07: 'TPM_RC_LOCALITY', 0x08: 'TPM_RC_YIELDED', 0x09: 'TPM_RC_CANCELED', 0x0a: 'TPM_RC_TESTING',
  0x10: 'TPM_RC_REFERENCE_H0', 0x11: 'TPM_RC_REFERENCE_H1', 0x12: 'TPM_RC_REFERENCE_H2',
  0x13: 'TPM_RC_REFERENCE_H3', 0x14: 'TPM_RC_REFERENCE_H4', 0x15: 'TPM_RC_REFERENCE_H5',
  0x16: 'TPM_RC_REFERENCE_H6', 0x18: 'TPM_RC_REFERENCE_S0', 0x19: 'TPM_RC_REFERENCE_S1',
  0x1a: 'TPM_RC_REFERENCE_S2', 0x1b: 'TPM_RC_REFERENCE_S3', 0x1c: 'TPM_RC_REFERENCE_S4',
  0x1d: 'TPM_RC_REFERENCE_S5', 0x1e: 'TPM_RC_REFERENCE_S6', 0x20: 'TPM_RC_NV_RATE',
  0x21: 'TPM_RC_LOCKOUT', 0x22: 'TPM_RC_RETRY', 0x23: 'TPM_RC_NV_UNAVAILABLE',
  0x7f: 'TPM_RC_NOT_USED',
};

/** One-line explanations for the codes an agent operator is likely to meet. */
const DESCRIPTIONS: Readonly<Record<string, string>> = {
  TPM_RC_INITIALIZE: 'TPM not initialized by TPM2_Startup or already initialized',
  TPM_RC_FAILURE: 'the TPM is in failure mode',
  TPM_RC_AUTH_MISSING: 'an authorization session is required but missing',
  TPM_RC_POLICY: 'the policy session is of the wrong kind for this use',
  TPM_RC_COMMAND_CODE: 'the command is not implemented by this TPM',
  TPM_RC_NV_RANGE: 'the NV read or write is outside the index',
  TPM_RC_NV_AUTHORIZATION: 'the NV index does not allow this kind of authorization',
  TPM_RC_NV_UNINITIALIZED: 'the NV index has never been written',
  TPM_RC_BAD_CONTEXT: 'the saved context is not valid on this TPM (reset or wrong TPM)',
  TPM_RC_ATTRIBUTES: 'the object or index attributes do not allow this use',
  TPM_RC_HASH: 'hash algorithm not supported or not allowed here',
  TPM_RC_VALUE: 'value is out of range or not correct for the context',
  TPM_RC_HIERARCHY: 'the hierarchy is disabled or not allowed here',
  TPM_RC_HANDLE: 'the handle does not refer to a loaded object or session',
  TPM_RC_AUTH_FAIL: 'the authorization HMAC or password was wrong',
  TPM_RC_SIZE: 'a structure or parameter has the wrong size',
  TPM_RC_SELECTOR: 'a union selector is not valid',
  TPM_RC_KEY: 'the key is not valid for this operation',
  TPM_RC_POLICY_FAIL: 'a policy check failed (the session does not satisfy the authPolicy)',
  TPM_RC_INTEGRITY: 'an integrity check failed (blob or credential not made for this key)',
  TPM_RC_BAD_AUTH: 'authorization failure without dictionary-attack consequence',
  TPM_RC_SCHEME: 'the signing or encryption scheme is not valid for the key',
  TPM_RC_OBJECT_MEMORY: 'out of object slots: flush transient objects',
  TPM_RC_SESSION_MEMORY: 'out of session slots: flush sessions',
  TPM_RC_LOCKOUT: 'the TPM is in dictionary-attack lockout',
  TPM_RC_RETRY: 'the TPM asks to retry the command',
  TPM_RC_YIELDED: 'the TPM yielded; retry the command',
  TPM_RC_TESTING: 'the TPM is self-testing; retry later',
};

/** What a response code says, split into the fields of Part 2 §6.6. */
export interface DecodedResponseCode {
  readonly rc: number;
  /** Spec name of the base code, e.g. `TPM_RC_POLICY_FAIL`; `TPM_RC_UNKNOWN(0x…)` otherwise. */
  readonly name: string;
  readonly format: 0 | 1;
  readonly kind: 'error' | 'warning' | 'vendor' | 'tpm12';
  /** Base code without the handle/session/parameter number. */
  readonly base: number;
  /** 1-based index of the handle, session or parameter the error refers to (format 1 only). */
  readonly handle?: number;
  readonly session?: number;
  readonly parameter?: number;
  readonly description?: string;
}

/** Splits a non-zero TPM_RC into its fields and names it. */
export function decodeResponseCode(rc: number): DecodedResponseCode {
  if ((rc & RC_FMT1) !== 0) {
    const n = rc & 0x3f;
    const name = FORMAT1[n] ?? unknownName(RC_FMT1 + n);
    const where =
      (rc & 0x40) !== 0
        ? { parameter: (rc >>> 8) & 0xf }
        : (rc & 0x800) !== 0
          ? { session: (rc >>> 8) & 0x7 }
          : ((rc >>> 8) & 0x7) !== 0
            ? { handle: (rc >>> 8) & 0x7 }
            : {};
    return withDescription({ rc, name, format: 1, kind: 'error', base: RC_FMT1 + n, ...where });
  }
  if ((rc & RC_VER1) === 0) {
    return { rc, name: `TPM_RC_TPM12(0x${hex(rc)})`, format: 0, kind: 'tpm12', base: rc };
  }
  if ((rc & 0x400) !== 0) {
    return { rc, name: `TPM_RC_VENDOR(0x${hex(rc)})`, format: 0, kind: 'vendor', base: rc };
  }
  const n = rc & 0x7f;
  if ((rc & 0x800) !== 0) {
    const name = WARNINGS[n] ?? unknownName(RC_WARN + n);
    return withDescription({ rc, name, format: 0, kind: 'warning', base: RC_WARN + n });
  }
  const name = FORMAT0[n] ?? unknownName(RC_VER1 + n);
  return withDescription({ rc, name, format: 0, kind: 'error', base: RC_VER1 + n });
}

function withDescription(d: DecodedResponseCode): DecodedResponseCode {
  const description = DESCRIPTIONS[d.name];
  return description === undefined ? d : { ...d, description };
}

function unknownName(base: number): string {
  return `TPM_RC_UNKNOWN(0x${hex(base)})`;
}

function hex(n: number): string {
  return n.toString(16).padStart(3, '0');
}

/** A TPM answered a command with a non-zero response code. */
export class TpmResponseError extends TpmDeviceError {
  readonly rc: number;
  /** Spec name of the base code, e.g. `TPM_RC_POLICY_FAIL`. */
  readonly rcName: string;
  readonly format: 0 | 1;
  readonly kind: DecodedResponseCode['kind'];
  /** Base code, comparable with TpmRc values. */
  readonly base: number;
  readonly handle: number | undefined;
  readonly session: number | undefined;
  readonly parameter: number | undefined;
  /** The command that failed, e.g. `TPM2_Create`. */
  readonly command: string;

  constructor(command: string, rc: number) {
    const d = decodeResponseCode(rc);
    const where =
      d.handle !== undefined
        ? ` on handle ${d.handle}`
        : d.session !== undefined
          ? ` on session ${d.session}`
          : d.parameter !== undefined
            ? ` on parameter ${d.parameter}`
            : '';
    const why = d.description === undefined ? '' : `: ${d.description}`;
    super(
      TpmDeviceErrorCode.TpmError,
      `${command} failed: ${d.name} (0x${rc.toString(16)})${where}${why}`,
      { details: { rc, rcName: d.name, command } },
    );
    this.name = 'TpmResponseError';
    this.rc = rc;
    this.rcName = d.name;
    this.format = d.format;
    this.kind = d.kind;
    this.base = d.base;
    this.handle = d.handle;
    this.session = d.session;
    this.parameter = d.parameter;
    this.command = command;
  }
}

/** Base codes callers commonly test for (compare with `TpmResponseError.base`). */
export const TpmRc = {
  Initialize: 0x100,
  BadContext: 0x150,
  NvUninitialized: 0x14a,
  NvRange: 0x146,
  Handle: 0x08b,
  Value: 0x084,
  PolicyFail: 0x09d,
  Integrity: 0x09f,
  AuthFail: 0x08e,
  BadAuth: 0x0a2,
  Yielded: 0x908,
  Testing: 0x90a,
  Retry: 0x922,
  ObjectMemory: 0x902,
  SessionMemory: 0x903,
} as const;
