/**
 * @module registrar-client: the pull agent's side of the registrar protocol over plain HTTP
 * (spec §2.4 version negotiation, §3.2 registration, §3.5 activation), as RK registrar_client.rs.
 */
import { isIP } from 'node:net';
import { KeylimeError, errorMessage, fromBase64 } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { compareApiVersions, parseApiVersion } from '@keylime/protocol';
import { z } from 'zod';

export const RegistrarErrorCode = {
  /** Network failure or timeout. */
  Unreachable: 'KL_AGENT_REGISTRAR_UNREACHABLE',
  /** 403: the registrar refuses a changed TPM identity for this UUID. */
  Forbidden: 'KL_AGENT_REGISTRATION_FORBIDDEN',
  /** Any other non-2xx answer or a malformed body. */
  Rejected: 'KL_AGENT_REGISTRAR_REJECTED',
  /** No API version both sides speak. */
  Incompatible: 'KL_AGENT_REGISTRAR_INCOMPATIBLE',
} as const;

export class RegistrarError extends KeylimeError {
  readonly status: number | undefined;
  constructor(
    code: (typeof RegistrarErrorCode)[keyof typeof RegistrarErrorCode],
    message: string,
    status?: number,
  ) {
    super(code, message);
    this.name = 'RegistrarError';
    this.status = status;
  }
}

export interface RegistrarClientOptions {
  readonly host: string;
  readonly port: number;
  /** Agent-enabled API versions, oldest first. */
  readonly enabledVersions: readonly string[];
  readonly timeoutMs?: number;
  readonly logger: Logger;
}

/** What the agent registers (spec §3.2, RK field order). */
export interface Registration {
  readonly agentUuid: string;
  /** TPM2B_PUBLIC of the AK. */
  readonly akPublic: Uint8Array;
  /** TPM2B_PUBLIC of the EK. */
  readonly ekPublic: Uint8Array;
  /** EK certificate PEM, when the TPM has one. */
  readonly ekCertificatePem: string | undefined;
  readonly contactIp: string;
  readonly contactPort: number;
  /** Server certificate PEM, or undefined when mTLS is off (sent as "disabled"). */
  readonly mtlsCertificatePem: string | undefined;
}

const VersionBody = z.object({
  results: z.object({
    current_version: z.string(),
    supported_versions: z.array(z.string()).optional(),
  }),
});
const RegisterBody = z.object({ results: z.object({ blob: z.string() }) });

/** A registrar reached over HTTP; remembers the negotiated version for activation. */
export class RegistrarClient {
  private version: string | undefined;
  private readonly base: string;

  constructor(private readonly options: RegistrarClientOptions) {
    const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
    this.base = `http://${host}:${options.port}`;
  }

  /** The API version used for registration and activation (after `register`). */
  get apiVersion(): string | undefined {
    return this.version;
  }

  private async request(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; text: string }> {
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      throw new RegistrarError(
        RegistrarErrorCode.Unreachable,
        `cannot reach the registrar at ${this.base}: ${errorMessage(e)}`,
      );
    }
  }

  /** GET /version; undefined when the registrar does not serve it (old registrar). */
  private async registrarVersions(): Promise<
    { current: string; supported: string[] | undefined } | undefined
  > {
    this.options.logger.info(`Requesting registrar API version to ${this.base}/version`);
    const { status, text } = await this.request('GET', '/version');
    if (status < 200 || status > 299) {
      this.options.logger.info(
        `Registrar at '${this.base}/version' does not support the '/version' endpoint`,
      );
      return undefined;
    }
    const parsed = VersionBody.safeParse(safeJson(text));
    if (!parsed.success)
      throw new RegistrarError(
        RegistrarErrorCode.Rejected,
        'malformed /version answer from the registrar',
        status,
      );
    return {
      current: parsed.data.results.current_version,
      supported: parsed.data.results.supported_versions,
    };
  }

  /** Versions to try, newest first, per RK's rules (spec §2.4). */
  private async candidates(): Promise<string[]> {
    const enabled = [...this.options.enabledVersions].sort((a, b) => {
      const va = parseApiVersion(a);
      const vb = parseApiVersion(b);
      return va && vb ? compareApiVersions(vb, va) : 0;
    });
    const remote = await this.registrarVersions();
    if (remote === undefined) return enabled;
    if (enabled.includes(remote.current)) return [remote.current];
    if (remote.supported === undefined)
      throw new RegistrarError(
        RegistrarErrorCode.Incompatible,
        `Inconsistent information from registrar: current API version = '${remote.current}', but no list of supported API versions was provided`,
      );
    const usable = enabled.filter((v) => remote.supported?.includes(v));
    if (usable.length === 0) {
      const message = `Registrar and agent API versions are incompatible: agent enabled APIs '${enabled.join(', ')}', registrar supported APIs '${remote.supported.join(', ')}'`;
      this.options.logger.warn(message);
      throw new RegistrarError(RegistrarErrorCode.Incompatible, message);
    }
    return usable;
  }

  /** POST {v}/agents/{uuid}; returns the MakeCredential blob. A 403 stops immediately. */
  async register(reg: Registration): Promise<Uint8Array> {
    const body = {
      aik_tpm: Buffer.from(reg.akPublic).toString('base64'),
      ek_tpm: Buffer.from(reg.ekPublic).toString('base64'),
      ...(reg.ekCertificatePem === undefined ? {} : { ekcert: reg.ekCertificatePem }),
      iak_cert: null,
      idevid_cert: null,
      ip: reg.contactIp,
      mtls_cert: reg.mtlsCertificatePem ?? 'disabled',
      port: reg.contactPort,
    };
    let last: RegistrarError | undefined;
    for (const version of await this.candidates()) {
      const path = `/v${version}/agents/${encodeURIComponent(reg.agentUuid)}`;
      this.options.logger.info(
        `Requesting agent registration from ${this.base}${path} for ${reg.agentUuid}`,
      );
      const { status, text } = await this.request('POST', path, body);
      if (status === 403) {
        throw new RegistrarError(
          RegistrarErrorCode.Forbidden,
          `Registration forbidden: ${envelopeStatus(text)}. This may indicate a TPM identity change or UUID spoofing attempt. The existing agent record must be deleted before re-registering with a different TPM.`,
          status,
        );
      }
      if (status >= 200 && status <= 299) {
        const parsed = RegisterBody.safeParse(safeJson(text));
        if (!parsed.success)
          throw new RegistrarError(
            RegistrarErrorCode.Rejected,
            'registrar answer has no blob',
            status,
          );
        this.version = version;
        return fromBase64(parsed.data.results.blob, 'registrar blob');
      }
      last = new RegistrarError(
        RegistrarErrorCode.Rejected,
        `Failed to register agent: received ${status} from ${this.base}${path}: ${envelopeStatus(text)}`,
        status,
      );
    }
    throw last ?? new RegistrarError(RegistrarErrorCode.Incompatible, 'no API version to try');
  }

  /** PUT {v}/agents/{uuid} with the activation auth_tag (the version used to register). */
  async activate(agentUuid: string, authTag: string): Promise<void> {
    const version = this.version;
    if (version === undefined) throw new Error('activate() before register()');
    const path = `/v${version}/agents/${encodeURIComponent(agentUuid)}`;
    this.options.logger.info(
      `Requesting agent activation from ${this.base}${path} for ${agentUuid}`,
    );
    const { status, text } = await this.request('PUT', path, { auth_tag: authTag });
    if (status < 200 || status > 299) {
      throw new RegistrarError(
        RegistrarErrorCode.Rejected,
        `Failed to activate agent: received ${status} from ${this.base}${path}: ${envelopeStatus(text)}`,
        status,
      );
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The envelope's status text, or the raw body (bounded) when it is not an envelope. */
function envelopeStatus(text: string): string {
  const json = safeJson(text);
  if (typeof json === 'object' && json !== null && 'status' in json) {
    const s = json.status;
    if (typeof s === 'string') return s;
  }
  return text.slice(0, 200) || 'no details';
}
