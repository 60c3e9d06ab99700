/**
 * @module identity/agent-data: `agent_data.json` in rust-keylime's format (AgentData: AK public
 * and private blobs, algorithms, EK hash), so our agent and upstream's can take over each other's AK.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { HashAlg } from '@keylime/crypto';
import type { SignAlg } from '../config';

/** What survives a restart: the AK blobs, bound to the EK and algorithms, and the agent id. */
export interface AgentData {
  readonly akHashAlg: HashAlg;
  readonly akSignAlg: SignAlg;
  /** Marshalled TPMT_PUBLIC (no size prefix), as tss-esapi's Public::marshall writes it. */
  readonly akPublic: Uint8Array;
  /** TPM2B_PRIVATE buffer contents (no size prefix). */
  readonly akPrivate: Uint8Array;
  /** Lower-case hex SHA-256 of the EK public key PEM. */
  readonly ekHash: string;
  /** Ours: the UUID chosen by `uuid = generate`, reused on restart (RK ignores unknown fields). */
  readonly agentUuid?: string;
}

// serde's names for rust-keylime's HashAlgorithm / SignAlgorithm enum variants.
const HASH_NAMES = { sha1: 'Sha1', sha256: 'Sha256', sha384: 'Sha384', sha512: 'Sha512' } as const;
const SIGN_NAMES = { rsassa: 'RsaSsa', ecdsa: 'EcDsa' } as const;

const byteArray = z.array(z.number().int().min(0).max(255)).max(4096);

const AgentDataJson = z.object({
  ak_hash_alg: z.enum(['Sha1', 'Sha256', 'Sha384', 'Sha512']),
  ak_sign_alg: z.string(),
  ak_public: byteArray,
  ak_private: byteArray,
  ek_hash: byteArray,
  agent_uuid: z.string().max(80).optional(),
});

function keyOf<T extends Record<string, string>>(map: T, value: string): keyof T | undefined {
  return (Object.keys(map) as (keyof T)[]).find((k) => map[k] === value);
}

/** Parses agent_data.json text; undefined (with the reason) when it is not usable. */
export function parseAgentData(text: string): { data: AgentData } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: 'not JSON' };
  }
  const parsed = AgentDataJson.safeParse(json);
  if (!parsed.success) return { problem: parsed.error.issues[0]?.message ?? 'bad structure' };
  const v = parsed.data;
  const akHashAlg = keyOf(HASH_NAMES, v.ak_hash_alg);
  const akSignAlg = keyOf(SIGN_NAMES, v.ak_sign_alg);
  if (akHashAlg === undefined) return { problem: `unknown hash ${v.ak_hash_alg}` };
  if (akSignAlg === undefined) return { problem: `unsupported signing scheme ${v.ak_sign_alg}` };
  return {
    data: {
      akHashAlg,
      akSignAlg,
      akPublic: Uint8Array.from(v.ak_public),
      akPrivate: Uint8Array.from(v.ak_private),
      ekHash: Buffer.from(v.ek_hash).toString('latin1'),
      ...(v.agent_uuid === undefined ? {} : { agentUuid: v.agent_uuid }),
    },
  };
}

/** The JSON text rust-keylime's AgentData::store writes (pretty, byte arrays). */
export function formatAgentData(data: AgentData): string {
  return JSON.stringify(
    {
      ak_hash_alg: HASH_NAMES[data.akHashAlg],
      ak_sign_alg: SIGN_NAMES[data.akSignAlg],
      ak_public: [...data.akPublic],
      ak_private: [...data.akPrivate],
      ek_hash: [...Buffer.from(data.ekHash, 'latin1')],
      ...(data.agentUuid === undefined ? {} : { agent_uuid: data.agentUuid }),
    },
    null,
    2,
  );
}

/** Reads the file; `missing` when absent. */
export function readAgentData(file: string): { data: AgentData } | { problem: string } | 'missing' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    return { problem: (e as Error).message };
  }
  return parseAgentData(text);
}

/** Writes atomically (temp file + rename), readable by the agent only. */
export function writeAgentData(file: string, data: AgentData): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, formatAgentData(data), { mode: 0o600 });
  fs.renameSync(tmp, file);
}
