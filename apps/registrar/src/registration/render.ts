/**
 * @module render: a registration as GET /agents/{id} returns it — upstream's keys in upstream's
 * order, ekcert as base64 DER, mtls_cert as PEM (spec §3.6).
 */
import { fromBase64 } from '@keylime/core';
import type { AgentRecord } from '../store/agent-store';
import { derToPem } from './certificates';

export interface RenderedAgent {
  readonly agent_id: string;
  readonly ek_tpm: string | null;
  readonly ekcert: string | null;
  readonly aik_tpm: string | null;
  readonly ip: string | null;
  readonly port: number | null;
  readonly mtls_cert: string | null;
  readonly regcount: number | null;
  readonly provider_keys?: unknown;
}

function renderMtlsCert(stored: string | null): string | null {
  if (stored === null || stored === 'disabled') return stored;
  try {
    return derToPem(fromBase64(stored, 'mtls_cert'));
  } catch {
    return stored; // an upstream row we cannot decode: hand it over unchanged
  }
}

export function renderAgent(agent: AgentRecord): RenderedAgent {
  const out: RenderedAgent = {
    agent_id: agent.agentId,
    ek_tpm: agent.ekTpm,
    ekcert: agent.ekcert,
    aik_tpm: agent.aikTpm,
    ip: agent.ip,
    port: agent.port,
    mtls_cert: renderMtlsCert(agent.mtlsCert),
    regcount: agent.regcount,
  };
  if (agent.virtual && agent.providerKeys) {
    try {
      return { ...out, provider_keys: JSON.parse(agent.providerKeys) as unknown };
    } catch {
      return out;
    }
  }
  return out;
}
