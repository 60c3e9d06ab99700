/**
 * @module policy-input: turns an uploaded runtime policy (base64 of plain JSON or a DSSE envelope)
 * into the `allowlists` row content, with upstream's validation and signature rules
 * (verifier §1.3 step 2, §1.6, §4.6, §4.8).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, isBase64 } from '@keylime/core';
import {
  dssePayloadText,
  emptyRuntimePolicy,
  isDsseEnvelope,
  parseDsseEnvelope,
  validateRuntimePolicy,
  verifyDsseEnvelope,
} from '@keylime/ima';
import { HttpError } from '@keylime/server';

/** Content of an `allowlists` row. */
export interface PreparedRuntimePolicy {
  /** Stored text: the plain policy JSON or the DSSE envelope (NULL for `{}`, §1.6). */
  readonly imaPolicy: string | null;
  readonly generator: number;
  readonly checksum: string;
}

export interface PolicySignatureSettings {
  readonly requireSignatures: boolean;
  /** Where `<keyid>.pub` files live (upstream /var/lib/keylime/signing_keys). */
  readonly signingKeysDir: string;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Base64 field → text; a bad value is a 400. */
export function decodeBase64Field(value: string, field: string): string {
  if (value !== '' && !isBase64(value)) throw new HttpError(400, `${field} is not valid base64`);
  return Buffer.from(value, 'base64').toString('utf8');
}

function keyFor(
  text: string,
  keyB64: string,
  settings: PolicySignatureSettings,
): string | undefined {
  if (keyB64 !== '') return decodeBase64Field(keyB64, 'runtime_policy_key');
  let env;
  try {
    env = parseDsseEnvelope(text);
  } catch {
    return undefined;
  }
  for (const s of env.signatures) {
    const id = s.keyid ?? '';
    if (!/^[\w.-]+$/.test(id)) continue;
    const file = path.join(settings.signingKeysDir, `${id}.pub`);
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  }
  return undefined;
}

/**
 * Validates `text` (already base64-decoded) and returns the row content. Throws HttpError 400 for
 * an invalid policy and 401 for signature problems, with upstream's messages.
 */
export function prepareRuntimePolicy(
  text: string,
  keyB64: string,
  settings: PolicySignatureSettings,
): PreparedRuntimePolicy {
  let policyText = text;
  if (isDsseEnvelope(text)) {
    if (settings.requireSignatures) {
      const key = keyFor(text, keyB64, settings);
      if (key === undefined) {
        throw new HttpError(
          401,
          'Runtime policy signature verification required but no key was given!',
        );
      }
      try {
        verifyDsseEnvelope(text, { publicKey: key });
      } catch {
        throw new HttpError(401, 'Runtime policy failed DSSE signature verification!');
      }
    }
    try {
      policyText = dssePayloadText(text);
    } catch (e) {
      throw new HttpError(400, `Runtime policy envelope is malformed: ${errorMessage(e)}`);
    }
  } else if (settings.requireSignatures) {
    // Upstream derives keys only for envelopes, so every plain policy fails here (§4.8 QUIRK).
    throw new HttpError(
      401,
      'Runtime policy signature verification required but no key was given!',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(policyText);
  } catch {
    throw new HttpError(400, 'Runtime policy is not valid JSON');
  }
  let generator: number;
  try {
    generator = validateRuntimePolicy(json).meta.generator;
  } catch (e) {
    throw new HttpError(400, `Runtime policy is malformed: ${errorMessage(e)}`);
  }
  return {
    imaPolicy: text.trim() === '{}' ? null : text,
    generator,
    checksum: sha256Hex(text),
  };
}

/** The policy used when an agent is enrolled without one (§4.6), accepted without signature. */
export function emptyPolicyRow(): PreparedRuntimePolicy {
  const text = JSON.stringify(emptyRuntimePolicy());
  return { imaPolicy: text, generator: 1, checksum: sha256Hex(text) };
}
