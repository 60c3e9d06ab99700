/**
 * @module notifier: revocation notifications (verifier §6.4, agent-registrar-tenant §5.8). The
 * message text is signed with the failed agent's enrolled `revocation_key` (RSA-PSS SHA-256, max
 * salt; the tenant's CA issues it beside the RevocationNotifier certificate it ships to agents) and
 * sent as `{msg, signature}` on every enabled channel: `agent` (POST to the agents of this verifier
 * that enrolled a revocation key), `webhook` (POST with retries) and `zeromq` (PUB socket). Delivery
 * is fire-and-forget: a slow receiver never holds up attestation.
 */
import http from 'node:http';
import https from 'node:https';
import { signRevocationMessage } from '@keylime/crypto';
import type { Logger } from '@keylime/core';
import { errorMessage } from '@keylime/core';
import { toPythonJson } from '@keylime/ima';
import type { AgentClient, ClientTls } from '../attestation/agent-client';

export interface FailedAgentInfo {
  readonly agentId: string;
  readonly ip: string | null;
  readonly port: number | null;
  readonly tpmPolicy: string;
  readonly metaData: string;
  readonly revocationKey: string;
}

export interface RevocationEvent {
  readonly type: 'revocation' | 'comm_error';
  readonly agent: FailedAgentInfo;
  readonly eventId?: string;
  readonly severityLabel?: string;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** An agent that receives `agent`-channel notifications. */
export interface NotificationTarget {
  readonly agentId: string;
  readonly apiVersion: string;
  readonly client: AgentClient;
}

export interface NotifierOptions {
  readonly channels: readonly string[];
  readonly webhookUrl: string | undefined;
  readonly zmqIp: string;
  readonly zmqPort: number;
  readonly clientTls: ClientTls | undefined;
  readonly maxRetries: number;
  readonly retryDelayMs: (attempt: number) => number;
  readonly timeoutMs: number;
  /**
   * Agents of this verifier that asked for notifications (enrolled a revocation key); a promise
   * when the attestation workers hold them.
   */
  readonly targets: () => readonly NotificationTarget[] | Promise<readonly NotificationTarget[]>;
  readonly logger: Logger;
}

export interface SignedNotification {
  readonly msg: string;
  readonly signature: string;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** C asctime() of local time, e.g. `Mon Aug  3 08:08:39 2026` (Python time.asctime()). */
export function asctime(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** Builds and signs the message (key order as upstream's prepare_error). */
export function buildNotification(ev: RevocationEvent, now = new Date()): SignedNotification {
  const m: Record<string, unknown> = {
    type: ev.type,
    ip: ev.agent.ip,
    agent_id: ev.agent.agentId,
    port: ev.agent.port,
    tpm_policy: ev.agent.tpmPolicy,
    meta_data: ev.agent.metaData,
    event_time: asctime(now),
  };
  if (ev.eventId !== undefined) {
    m['event_id'] = ev.eventId;
    m['severity_label'] = ev.severityLabel ?? '';
    m['context'] = toPythonJson(ev.context ?? {});
  }
  const msg = toPythonJson(m);
  const signature =
    ev.agent.revocationKey === '' ? '' : signRevocationMessage(ev.agent.revocationKey, msg);
  return { msg, signature };
}

interface ZmqPublisher {
  bind(address: string): Promise<void>;
  send(message: string): Promise<void>;
  close(): void;
}

/** Delivers notifications on the configured channels. */
export class RevocationNotifier {
  private zmq: Promise<ZmqPublisher | undefined> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Notifications sent (for tests and metrics). */
  sent = 0;

  constructor(private readonly options: NotifierOptions) {}

  private has(channel: string): boolean {
    return this.options.channels.includes(channel);
  }

  /** Starts the ZeroMQ publisher when that channel is enabled (bind errors are logged). */
  start(): void {
    if (this.has('zeromq')) this.zmq = this.openZmq();
  }

  /** Signs and sends; returns at once, delivery continues in the background. */
  notify(ev: RevocationEvent): SignedNotification {
    const n = buildNotification(ev);
    this.sent++;
    this.options.logger.info(
      `Sending ${ev.type} notification for agent ${ev.agent.agentId}${ev.eventId ? ` (event ${ev.eventId})` : ''}`,
    );
    if (this.has('agent')) this.track(this.toAgents(n, ev.agent.agentId));
    if (this.has('webhook') && this.options.webhookUrl)
      this.track(this.toWebhook(n, this.options.webhookUrl));
    if (this.has('zeromq')) this.track(this.toZmq(n));
    return n;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) =>
      this.options.logger.warn(`Revocation notification failed: ${errorMessage(e)}`),
    );
    this.inFlight.add(q);
    void q.finally(() => this.inFlight.delete(q));
  }

  private async toAgents(n: SignedNotification, failedId: string): Promise<void> {
    const targets = (await this.options.targets()).filter((t) => t.agentId !== failedId);
    await Promise.all(
      targets.map(async (t) => {
        const r = await t.client.post(`/v${t.apiVersion}/notifications/revocation`, n);
        if (r.kind !== 'response' || r.status !== 200) {
          this.options.logger.warn(`Agent ${t.agentId} did not accept the revocation notification`);
        }
      }),
    );
  }

  private async toWebhook(n: SignedNotification, url: string): Promise<void> {
    const { maxRetries, retryDelayMs } = this.options;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, retryDelayMs(attempt)));
      const status = await this.post(url, JSON.stringify(n)).catch(() => 0);
      if (status === 200 || status === 202) return;
    }
    this.options.logger.warn(`Webhook ${url} did not accept the revocation notification`);
  }

  private post(url: string, body: string): Promise<number> {
    const u = new URL(url);
    const tls = this.options.clientTls;
    return new Promise((resolve, reject) => {
      const opts = {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: this.options.timeoutMs,
      };
      const cb = (res: http.IncomingMessage): void => {
        res.resume();
        resolve(res.statusCode ?? 0);
      };
      const req =
        u.protocol === 'https:'
          ? https.request(
              u,
              { ...opts, ...(tls ? { cert: tls.cert, key: tls.key, ca: [...tls.cas] } : {}) },
              cb,
            )
          : http.request(u, opts, cb);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }

  private async openZmq(): Promise<ZmqPublisher | undefined> {
    try {
      // Optional native module, loaded only when the channel is enabled (external in the bundle).
      // require, not import(): a native import() of a CommonJS build fails under Jest's VM.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
      const zmq = require('zeromq') as { Publisher: new () => ZmqPublisher };
      const pub = new zmq.Publisher();
      await pub.bind(`tcp://${this.options.zmqIp}:${this.options.zmqPort}`);
      return pub;
    } catch (e) {
      this.options.logger.error(`Cannot start the ZeroMQ revocation publisher: ${errorMessage(e)}`);
      return undefined;
    }
  }

  private async toZmq(n: SignedNotification): Promise<void> {
    const pub = await this.zmq;
    // Upstream publishes json.dumps(envelope): Python's separators.
    await pub?.send(toPythonJson(n));
  }

  /** Waits for deliveries in progress, then closes the publisher. */
  async close(): Promise<void> {
    await Promise.all([...this.inFlight]);
    const pub = await this.zmq;
    pub?.close();
  }
}
