/**
 * @module agent-runtime: what the loop keeps in memory per attested agent (upstream's agent dict and
 * AgentAttestState, verifier §2.2, §4.5): parsed enrolment, cached AK and payload key, IMA and clock
 * state, retry counters. Built once from the `verifiermain` row at enrolment, reactivation or start.
 */
import { deserializeImaState, initialImaState, isHashAlg, parseImaKeyring } from '@keylime/ima';
import type { ImaAttestState, ImaKeyring } from '@keylime/ima';
import type { OperationalState } from '@keylime/protocol';
import { DataPcrBinding, INITIAL_CLOCK_INFO, prepareQuoteKey } from '@keylime/tpm';
import type { QuoteVerificationKey, TpmsClockInfo } from '@keylime/tpm';
import { readJsonColumn, readPolicyText, readStringList } from '../store/columns';
import type { AgentRow } from '../store/schema';
import { mtlsPinOf } from './agent-client';
import type { AgentClient, MtlsPin } from './agent-client';
import { sharedTpmPolicy } from './tpm-policy';
import type { TpmPolicy } from './tpm-policy';

export interface AgentRuntime {
  readonly agentId: string;
  readonly ip: string;
  readonly port: number;
  /** The enrolled `mtls_cert` as the client checks it (the PEM itself is not kept). */
  readonly mtlsPin: MtlsPin;
  apiVersion: string;
  /** V, base64 as stored (a string costs less per agent than a Buffer; decoded only to encrypt). */
  readonly v: string | null;
  readonly tpmPolicyText: string;
  readonly tpmPolicy: TpmPolicy;
  readonly metaData: string;
  readonly revocationKey: string;
  readonly acceptHashAlgs: readonly string[];
  readonly acceptEncAlgs: readonly string[];
  readonly acceptSignAlgs: readonly string[];
  readonly ak: QuoteVerificationKey;
  readonly imaPolicyId: number | null;
  readonly mbPolicyId: number | null;
  readonly tenantKeyring: ImaKeyring | undefined;
  client: AgentClient | undefined;

  /** In-memory state, incl. the never-persisted retry states (verifier §2.1 QUIRK). */
  state: OperationalState;
  numRetries: number;
  /** Ask for the payload key (partial=0) on the next quote. */
  wantPubkey: boolean;
  /** V still to be delivered (after enrolment, reactivation, restart, or a new payload key). */
  provideV: boolean;
  /** The agent's payload (NK) key as PCR 16 binds it; the PEM itself is not kept. */
  payloadKey: DataPcrBinding | undefined;
  /** The payload key's PEM, kept only until V is encrypted under it. */
  payloadKeyPemForV: string | undefined;
  /** V encrypted under the payload key, kept while V is pending (retries resend it), dropped once delivered. */
  encryptedV: string | undefined;
  imaState: ImaAttestState;
  clockInfo: TpmsClockInfo;
  attestationCount: number;
  severityLevel: number | null;
  /** Verifier-side state of the current step. */
  inFlight: boolean;
  pendingDelete: boolean;
  stopped: boolean;
  /** Version renegotiation already tried in this step sequence. */
  renegotiated: boolean;
}

function readClockInfo(text: string | null): TpmsClockInfo {
  const v = readJsonColumn(text, null);
  if (typeof v !== 'object' || v === null) return INITIAL_CLOCK_INFO;
  const o = v as Record<string, unknown>;
  const num = (k: string): number => (typeof o[k] === 'number' ? o[k] : 0);
  return {
    clock: BigInt(Math.trunc(num('clock'))),
    resetCount: num('resetCount'),
    restartCount: num('restartCount'),
    safe: o['safe'] === 0 ? 0 : 1,
  };
}

/** The IMA state persisted in upstream's columns (next entry, PCR 10 bytes, learned keys, boottime). */
function readImaState(row: AgentRow): ImaAttestState {
  const next = row.nextImaMlEntry ?? 0;
  const bank = row.hashAlg ?? '';
  if (next === 0 || row.pcr10 === null || !isHashAlg(bank)) return initialImaState();
  try {
    return deserializeImaState(
      JSON.stringify({
        next_ima_ml_entry: next,
        pcr10: { [bank]: Buffer.from(row.pcr10).toString('hex') },
        boottime: row.boottime ?? 0,
        reset_count: null,
        quote_progress: null,
        learned_ima_keyrings: row.learnedImaKeyrings ?? '{}',
      }),
    );
  } catch {
    // Unusable saved state: ask for the whole log again.
    return initialImaState();
  }
}

/** Builds the runtime; throws (a fault) when the stored enrolment is unusable. */
export function runtimeFromRow(row: AgentRow, defaultVersion: string): AgentRuntime {
  // Shared by agents enrolled with the same text: the text, the parsed policy, the algorithm lists.
  const tpmPolicy = sharedTpmPolicy(readPolicyText(row.tpmPolicy));
  if (!tpmPolicy.ok) throw new Error(tpmPolicy.error);
  if (row.ip === null || row.port === null) throw new Error('agent has no address (push-mode row)');
  const keys = row.imaSignVerificationKeys ?? '';
  const hasV = row.v !== null && row.v !== '';
  return {
    agentId: row.agentId,
    ip: row.ip,
    port: row.port,
    mtlsPin: mtlsPinOf(row.mtlsCert),
    apiVersion: row.supportedVersion ?? defaultVersion,
    v: row.v ? row.v : null,
    tpmPolicyText: tpmPolicy.text,
    tpmPolicy: tpmPolicy.policy,
    metaData: row.metaData ?? '{}',
    revocationKey: row.revocationKey ?? '',
    acceptHashAlgs: readStringList(row.acceptTpmHashAlgs),
    acceptEncAlgs: readStringList(row.acceptTpmEncryptionAlgs),
    acceptSignAlgs: readStringList(row.acceptTpmSigningAlgs),
    ak: prepareQuoteKey(new Uint8Array(Buffer.from(row.akTpm ?? '', 'base64'))),
    imaPolicyId: row.imaPolicyId,
    mbPolicyId: row.mbPolicyId,
    tenantKeyring: keys === '' ? undefined : parseImaKeyring(keys),
    client: undefined,
    state: (row.operationalState ?? 1) as OperationalState,
    numRetries: 0,
    wantPubkey: true,
    provideV: hasV,
    payloadKey: row.publicKey ? DataPcrBinding.of(row.publicKey) : undefined,
    payloadKeyPemForV: hasV && row.publicKey ? row.publicKey : undefined,
    encryptedV: undefined,
    imaState: readImaState(row),
    clockInfo: readClockInfo(row.tpmClockinfo),
    attestationCount: row.attestationCount ?? 0,
    severityLevel: row.severityLevel,
    inFlight: false,
    pendingDelete: false,
    stopped: false,
    renegotiated: false,
  };
}
