/**
 * @module policy/validate: runtime policy v1 validation (spec verifier.md §4.6). Reproduces the
 * constraints of upstream's RUNTIME_POLICY_SCHEMA and IMA_KEYRING_JSON_SCHEMA, and adds the
 * checks upstream skips by accident: every exclude must be a valid, safe regex (upstream reads
 * the key `exclude`, so it never checks them) and verification keys must load.
 */
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ImaErrorCode, imaError } from '../errors';
import { parseImaKeyring } from '../keys/keyring';
import { compileExcludes } from './excludes';
import { LOG_HASH_ALGS, PolicyGenerator } from './types';
import type { RuntimePolicy } from './types';

/** Name → non-empty list of bare lower-case hex digests (SHA-1 to SHA-512 sizes). */
const digestMap = {
  type: 'object',
  additionalProperties: {
    type: 'array',
    minItems: 1,
    items: { type: 'string', pattern: '^[0-9a-f]{40,128}$' },
  },
};

/** Our wording of upstream's schema: eight required keys, extra keys tolerated. */
const POLICY_SCHEMA = {
  type: 'object',
  required: ['meta', 'release', 'digests', 'excludes', 'keyrings', 'ima', 'ima-buf', 'verification-keys'],
  properties: {
    meta: {
      type: 'object',
      required: ['version', 'generator'],
      properties: {
        version: { type: 'integer', minimum: 0 },
        generator: { type: 'integer', minimum: PolicyGenerator.Unknown, maximum: PolicyGenerator.LegacyAllowList },
        timestamp: { type: 'string' },
      },
    },
    release: { type: 'integer', minimum: 0 },
    digests: digestMap,
    excludes: { type: 'array', items: { type: 'string' } },
    keyrings: digestMap,
    ima: {
      type: 'object',
      required: ['ignored_keyrings', 'log_hash_alg', 'dm_policy'],
      properties: {
        ignored_keyrings: { type: 'array', items: { type: 'string' } },
        log_hash_alg: { type: 'string', enum: [...LOG_HASH_ALGS] },
        // Device-mapper policies are switched off by upstream's schema.
        dm_policy: { type: 'null' },
      },
    },
    'ima-buf': digestMap,
    'verification-keys': { type: 'string' },
  },
} as const;

let compiled: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: false, strict: false }).compile(POLICY_SCHEMA);
  return compiled;
}

/** `/digests/~1usr~1bin~1dd/0` → `digests['/usr/bin/dd'][0]`. */
function readablePath(pointer: string): string {
  if (pointer === '') return 'runtime policy';
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg) && out !== '') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += out === '' ? seg : `['${seg}']`;
  }
  return out;
}

function describe(err: ErrorObject): string {
  const where = readablePath(err.instancePath);
  switch (err.keyword) {
    case 'required':
      return `${where} is missing required key '${String(err.params['missingProperty'])}'`;
    case 'pattern':
      return `${where} must be a lower-case hex digest of 40 to 128 digits (no algorithm prefix)`;
    case 'enum':
      return `${where} must be one of ${(err.params['allowedValues'] as unknown[]).join(', ')}`;
    case 'minItems':
      return `${where} must list at least one digest`;
    default:
      return `${where} ${err.message ?? 'is invalid'}`;
  }
}

/** Validates a parsed policy; returns it typed, or throws KL_IMA_INVALID_POLICY / KL_IMA_INVALID_EXCLUDE. */
export function validateRuntimePolicy(input: unknown): RuntimePolicy {
  const validate = schemaValidator();
  if (!validate(input)) {
    const first = validate.errors?.[0];
    const msg = first === undefined ? 'runtime policy is invalid' : describe(first);
    throw imaError(ImaErrorCode.InvalidPolicy, msg, { details: { errors: validate.errors ?? [] } });
  }
  const policy = input as RuntimePolicy;
  compileExcludes(policy.excludes);
  try {
    parseImaKeyring(policy['verification-keys'], { strict: true });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw imaError(ImaErrorCode.InvalidPolicy, `verification-keys: ${reason}`, { cause: e });
  }
  return policy;
}
