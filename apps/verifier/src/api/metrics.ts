/**
 * @module metrics: GET /metrics, the attestation loop's counters in the Prometheus text format
 * (version 0.0.4). Not part of upstream's API (upstream has no such path); served beside /version
 * on the same mTLS listener, so the same client certificate that may enrol agents may read it.
 */
import type { Request, Response } from 'express';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { sendEnvelope } from '@keylime/server';
import { VERDICT_BUCKETS_MS } from '../attestation/verdict-times';
import type { LoopStats } from '../attestation/engine';

/** The loop's figures (agents attested now; counts since the verifier started). */
export interface LoopMetrics extends LoopStats {
  /** Revocation notifications sent. */
  readonly notifications: number;
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus renders +Inf, integral and fractional numbers like this. */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : n < 0 ? '-Inf' : 'NaN';
}

function metric(name: string, type: 'gauge' | 'counter', help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${num(value)}\n`;
}

export function renderMetrics(m: LoopMetrics): string {
  const h = 'keylime_verifier_quote_verdict_seconds';
  let out =
    metric('keylime_verifier_agents', 'gauge', 'Agents the pull loop attests.', m.agents) +
    metric(
      'keylime_verifier_attestations_total',
      'counter',
      'Quotes that passed verification.',
      m.attestations,
    ) +
    metric(
      'keylime_verifier_revocation_notifications_total',
      'counter',
      'Revocation notifications sent.',
      m.notifications,
    ) +
    `# HELP ${h} Time from a quote request to its verdict.\n# TYPE ${h} histogram\n`;
  // Prometheus buckets are cumulative; the snapshot holds one count per bucket.
  let cumulative = 0;
  VERDICT_BUCKETS_MS.forEach((boundMs, i) => {
    cumulative += m.verdictTimes.counts[i] ?? 0;
    out += `${h}_bucket{le="${num(boundMs / 1000)}"} ${cumulative}\n`;
  });
  cumulative += m.verdictTimes.counts[VERDICT_BUCKETS_MS.length] ?? 0;
  out += `${h}_bucket{le="+Inf"} ${cumulative}\n`;
  out += `${h}_sum ${num(m.verdictTimes.sumMs / 1000)}\n${h}_count ${cumulative}\n`;
  return out;
}

/** The handler: gathers the loop's figures (from every worker) and renders them. */
export function metricsHandler(
  gather: () => Promise<LoopMetrics>,
  logger: Logger,
): (req: Request, res: Response) => void {
  return (_req, res) => {
    gather().then(
      (m) => {
        res.status(200).type(METRICS_CONTENT_TYPE).send(renderMetrics(m));
      },
      (e: unknown) => {
        logger.error(`Cannot gather metrics: ${errorMessage(e)}`);
        sendEnvelope(res, 503, 'Metrics unavailable');
      },
    );
  };
}
