/** @module tenant/render: readable terminal views of agent status, lists and policies. */
import { renderTable } from './output';

function text(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** "2026-01-01 10:00:00 (12 s ago)" for UNIX seconds; "never" for 0. */
export function when(seconds: unknown, now: number = Date.now()): string {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return 'never';
  const d = new Date(s * 1000);
  const ago = Math.max(0, Math.round(now / 1000 - s));
  const pad = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${stamp} (${ago} s ago)`;
}

function maskOf(tpmPolicy: unknown): string {
  if (typeof tpmPolicy !== 'string') return '—';
  try {
    const p = JSON.parse(tpmPolicy) as Record<string, unknown>;
    return typeof p['mask'] === 'string' ? p['mask'] : '—';
  } catch {
    return '—';
  }
}

/** `-c status` at a terminal: one block per service. */
export function renderAgentStatus(
  agentId: string,
  registrar: unknown,
  verifier: unknown,
  now?: number,
): string {
  const reg = (registrar ?? {}) as Record<string, unknown>;
  const cv = (verifier ?? {}) as Record<string, unknown>;
  const rows: string[][] = [
    ['Agent', agentId],
    ['', ''],
    ['Registrar', text(reg['operational_state'])],
    ['  address', `${text(reg['ip'])}:${text(reg['port'])}`],
    ['  registrations', text(reg['regcount'])],
    ['  EK certificate', reg['ekcert'] ? 'present' : 'none'],
    [
      '  agent mTLS',
      reg['mtls_cert'] === 'disabled'
        ? 'disabled'
        : reg['mtls_cert']
          ? 'certificate registered'
          : 'none',
    ],
    ['', ''],
  ];
  if (verifier === undefined) {
    rows.push(['Verifier', 'not enrolled']);
  } else {
    rows.push(
      [
        'Verifier',
        `${text(cv['verifier_id'])} (${text(cv['verifier_ip'])}:${text(cv['verifier_port'])})`,
      ],
      ['  state', text(cv['operational_state'])],
      ['  attestation', text(cv['attestation_status'])],
      ['  attestations', text(cv['attestation_count'])],
      ['  last success', when(cv['last_successful_attestation'], now)],
      ['  last quote', when(cv['last_received_quote'], now)],
      [
        '  period',
        `${text(cv['attestation_period'])} (max interval ${text(cv['maximum_attestation_interval'])})`,
      ],
      [
        '  algorithms',
        `${text(cv['hash_alg'])} / ${text(cv['enc_alg'])} / ${text(cv['sign_alg'])}`,
      ],
      ['  PCR mask', maskOf(cv['tpm_policy'])],
      ['  runtime policy', cv['has_runtime_policy'] ? 'yes' : 'no'],
      ['  measured boot', cv['has_mb_refstate'] ? 'yes' : 'no'],
    );
    if (cv['last_event_id'])
      rows.push([
        '  last event',
        `${text(cv['last_event_id'])} (severity ${text(cv['severity_level'])})`,
      ]);
  }
  return renderTable(rows);
}

/** reglist / cvlist: `{"uuids": [...]}` (the verifier wraps each id in a list). */
export function renderAgentList(results: unknown, service: 'registrar' | 'verifier'): string {
  const uuids = ((results as Record<string, unknown> | undefined)?.['uuids'] ?? []) as unknown[];
  const ids = uuids.map((u) => (Array.isArray(u) ? text(u[0]) : text(u)));
  if (ids.length === 0) return `No agents on the ${service}.`;
  return (
    renderTable([['AGENT ID'], ...ids.map((id) => [id])]) +
    `\n${ids.length} agent${ids.length === 1 ? '' : 's'}`
  );
}

/** bulkinfo: one row per agent. */
export function renderBulk(results: unknown, now?: number): string {
  const entries = Object.entries((results ?? {}) as Record<string, Record<string, unknown>>);
  if (entries.length === 0) return 'No agents on the verifier.';
  const rows = [['AGENT ID', 'STATE', 'ATTESTATION', 'COUNT', 'ADDRESS', 'LAST SUCCESS']];
  for (const [id, r] of entries) {
    rows.push([
      id,
      text(r['operational_state']),
      text(r['attestation_status']),
      text(r['attestation_count']),
      r['ip'] ? `${text(r['ip'])}:${text(r['port'])}` : '—',
      when(r['last_successful_attestation'], now),
    ]);
  }
  return renderTable(rows);
}

/** listruntimepolicy / listmbpolicy: `{"runtimepolicy names": [...]}` or `{"mbpolicy names": [...]}`. */
export function renderPolicyList(results: unknown): string {
  const r = (results ?? {}) as Record<string, unknown>;
  const names = (r['runtimepolicy names'] ?? r['mbpolicy names'] ?? []) as unknown[];
  if (names.length === 0) return 'No policies.';
  return renderTable([['POLICY NAME'], ...names.map((n) => [text(n)])]);
}
