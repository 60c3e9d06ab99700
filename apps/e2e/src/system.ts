/**
 * @module system: the whole Keylime system on one host from the built files — the registrar and
 * the verifier as real processes on free ports with their own config files, and any number of
 * "machines" (a swtpm "booted" from a real UEFI event log, an IMA log, an agent process) — plus the
 * operator's tools (keylime_tenant, keylime-policy). Shared by the e2e suite and the demo;
 * stop() stops everything it started, even when start-up failed half-way.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
// Test helper of the TPM lib (free ports, EK certificates from a private CA); never shipped.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { startSwtpm } from '@keylime/tpm-device/src/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries
import type { SwtpmInstance } from '@keylime/tpm-device/src/testing';
import { ImaLog, tpm2 } from './ima';
import {
  BUILT,
  NODE_PATH,
  REPO_ROOT,
  clientTls,
  createWorkspace,
  freePort,
  request,
  startBuilt,
  waitUntilAnswering,
} from './processes';
import type { Reply, Service, Workspace } from './processes';

const run = promisify(execFile);

export const EVENT_LOGS = {
  /** SHA-256, Secure Boot on, RHEL 9.5 (upstream test data, no StartupLocality). */
  secureboot: path.join(REPO_ROOT, 'libs/mba/test-data/binary_bios_measurements-secureboot'),
} as const;

export interface SystemOptions {
  /** database_url of the registrar and the verifier; default `sqlite`. */
  readonly registrarDatabaseUrl?: string;
  readonly verifierDatabaseUrl?: string;
  /** Verifier quote_interval in seconds. */
  readonly quoteInterval?: number;
  /** Where the verifier POSTs revocations besides the agents (adds `webhook`). */
  readonly webhookUrl?: string;
  /** Called with each step's progress (the demo prints it; tests ignore it). */
  readonly onProgress?: (text: string) => void;
  /** The attested machines (their TPMs exist before the registrar loads its EK CA store). */
  readonly machines: readonly MachineOptions[];
}

export interface MachineOptions {
  readonly name: string;
  readonly agentId: string;
  /** UEFI event log the swtpm is booted with and the agent serves. */
  readonly eventLog?: string;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The verifier's status object for one agent (spec/verifier.md §1.4), as far as we read it. */
export interface AgentStatus {
  readonly operational_state: number;
  readonly attestation_count: number;
  readonly last_event_id: string | null;
  readonly severity_level: number | null;
  readonly attestation_status: string;
  readonly last_received_quote: number;
  readonly last_successful_attestation: number;
  readonly hash_alg: string;
  readonly has_mb_refstate: number;
  readonly has_runtime_policy: number;
}

/** One attested machine: its TPM, its IMA log and its agent. */
export interface Machine {
  readonly name: string;
  readonly agentId: string;
  /** The agent's KEYLIME_DIR (apart from the services', as on a real attested machine). */
  readonly dir: string;
  readonly tpm: SwtpmInstance;
  readonly ima: ImaLog;
  readonly eventLog: string;
  readonly port: number;
  /** Undefined until startAgent(). */
  readonly agent: Service | undefined;
  /** Starts the agent; resolves once it is registered, activated and listening. */
  startAgent(): Promise<Service>;
  stopAgent(): Promise<void>;
  /** Power-cycles the TPM and boots it from the event log again, with a fresh IMA log. */
  reboot(): Promise<void>;
  /** The verifier's GET /v2.6/agents/{id}: the status object, or undefined on 404. */
  status(): Promise<AgentStatus | undefined>;
  /** The registrar's record (GET /v2.6/agents/{id} on the tenant port). */
  registrarRecord(): Promise<Reply>;
}

export interface KeylimeSystem {
  readonly ws: Workspace;
  readonly ports: {
    readonly verifier: number;
    readonly registrar: number;
    readonly registrarTls: number;
  };
  readonly verifier: Service;
  readonly registrar: Service;
  /** In the order of SystemOptions.machines; agents not started yet. */
  readonly machines: readonly Machine[];
  startVerifier(): Promise<Service>;
  stopVerifier(): Promise<void>;
  /** keylime_tenant with the workspace's tenant.conf. */
  tenant(args: readonly string[]): Promise<CliResult>;
  /** keylime-policy. */
  policy(args: readonly string[]): Promise<CliResult>;
  /** An admin GET to the verifier (path after the version prefix). */
  verifierGet(pathAfterVersion: string): Promise<Reply>;
  /** An admin GET to the registrar's tenant port. */
  registrarGet(pathAfterVersion: string): Promise<Reply>;
  /** Everything the processes printed, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

const API = 'v2.6';

function ini(section: string, values: Readonly<Record<string, string | number>>): string {
  return `[${section}]\n${Object.entries(values)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

function toml(values: Readonly<Record<string, string | number | boolean>>): string {
  return `[agent]\n${Object.entries(values)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
    .join('\n')}\n`;
}

/** Unmounts the tmpfs a root agent mounts on its secure directory, if any. */
function unmountSecureDir(agentDir: string): void {
  const secure = path.join(agentDir, 'secure');
  let mounted = false;
  try {
    mounted = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[4] === secure);
  } catch {
    return;
  }
  if (mounted) execFileSync('umount', [secure], { stdio: 'ignore' });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function runCli(file: string, args: readonly string[], ws: Workspace): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [file, ...args], {
      cwd: ws.dir,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', NODE_PATH, ...ws.env },
      timeout: 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string; message?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? err.message ?? String(e),
    };
  }
}

/** Extends the fresh TPM's PCRs with the log's digests (tools/swtpm/boot-from-eventlog.ts). */
async function bootFromEventLog(tcti: string, eventLog: string): Promise<void> {
  await run(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      path.join(REPO_ROOT, 'tools/swtpm/boot-from-eventlog.ts'),
      '--tcti',
      tcti,
      '--eventlog',
      eventLog,
    ],
    { cwd: REPO_ROOT, timeout: 60_000 },
  );
}

/**
 * Writes the config files, makes each machine's swtpm (booted, IMA log started), then starts the
 * verifier (which creates the CA) and the registrar. Agents are started by the caller.
 */
export async function startSystem(options: SystemOptions): Promise<KeylimeSystem> {
  const progress = options.onProgress ?? (() => undefined);
  const ws = createWorkspace();
  const certStore = path.join(ws.dir, 'tpm_cert_store');
  fs.mkdirSync(certStore);
  let verifier: Service | undefined;
  let registrar: Service | undefined;
  const machines: Array<{ dir: string; tpm: SwtpmInstance; agent: () => Service | undefined }> = [];
  const history: Service[] = [];

  const stopAll = async (): Promise<void> => {
    const running = [...machines.map((m) => m.agent()), verifier, registrar];
    await Promise.all(running.map((s) => s?.stop() ?? Promise.resolve()));
    for (const m of machines) {
      try {
        unmountSecureDir(m.dir);
      } catch {
        // a busy mount must not keep the rest from being cleaned up
      }
      await m.tpm.stop();
    }
    ws.remove();
  };

  try {
    const ports = {
      verifier: await freePort(),
      registrar: await freePort(),
      registrarTls: await freePort(),
    };
    const quoteInterval = options.quoteInterval ?? 1;
    const notifications = options.webhookUrl === undefined ? ['agent'] : ['agent', 'webhook'];
    fs.writeFileSync(
      ws.env['KEYLIME_VERIFIER_CONFIG'] ?? '',
      ini('verifier', {
        ip: '127.0.0.1',
        port: ports.verifier,
        database_url: options.verifierDatabaseUrl ?? 'sqlite',
        quote_interval: quoteInterval,
        retry_interval: 1,
        exponential_backoff: 'False',
        max_retries: 3,
        request_timeout: 10,
      }) +
        ini('revocations', {
          enabled_revocation_notifications: `[${notifications.map((n) => `'${n}'`).join(', ')}]`,
          webhook_url: options.webhookUrl ?? '',
        }),
    );
    // tpm_cert_store holds the swtpm CAs ("TPM vendors") of every machine; both EK checks use it.
    fs.writeFileSync(
      ws.env['KEYLIME_REGISTRAR_CONFIG'] ?? '',
      ini('registrar', {
        ip: '127.0.0.1',
        port: ports.registrar,
        tls_port: ports.registrarTls,
        database_url: options.registrarDatabaseUrl ?? 'sqlite',
        tpm_cert_store: certStore,
      }),
    );
    fs.writeFileSync(
      ws.env['KEYLIME_TENANT_CONFIG'] ?? '',
      ini('tenant', {
        verifier_ip: '127.0.0.1',
        verifier_port: ports.verifier,
        registrar_ip: '127.0.0.1',
        registrar_port: ports.registrarTls,
        tpm_cert_store: certStore,
        require_ek_cert: 'True',
        retry_interval: 1,
        exponential_backoff: 'False',
        max_retries: 10,
        request_timeout: 10,
      }),
    );
    // A real password: with upstream's literal `default` the tenant would prompt for one.
    fs.writeFileSync(ws.env['KEYLIME_CA_CONFIG'] ?? '', ini('ca', { password: 'e2e-not-secret' }));

    const startVerifier = async (): Promise<Service> => {
      progress('starting the verifier');
      const s = startBuilt('verifier', BUILT.verifier, ws, {});
      verifier = s;
      history.push(s);
      await waitUntilAnswering(s, () =>
        request(`https://127.0.0.1:${ports.verifier}/version`, clientTls(ws)),
      );
      return s;
    };
    const registrarGet = (p: string): Promise<Reply> =>
      request(`https://127.0.0.1:${ports.registrarTls}/${API}/${p}`, clientTls(ws));
    const verifierGet = (p: string): Promise<Reply> =>
      request(`https://127.0.0.1:${ports.verifier}/${API}/${p}`, clientTls(ws));

    const addMachine = async ({
      name,
      agentId,
      eventLog = EVENT_LOGS.secureboot,
    }: MachineOptions): Promise<Machine> => {
      progress(`${name}: starting swtpm (EK certificates from a private CA)`);
      const tpm = await startSwtpm({ pcrBanks: 'sha256' });
      const dir = path.join(ws.dir, name.replace(/\W+/g, '-'));
      let agent: Service | undefined;
      machines.push({ dir, tpm, agent: () => agent });
      progress(`${name}: booting the TPM from ${path.basename(eventLog)}`);
      await bootFromEventLog(tpm.tcti, eventLog);
      for (const f of ['issuercert.pem', 'swtpm-localca-rootca-cert.pem']) {
        const from = path.join(tpm.dir, 'ca', f);
        if (fs.existsSync(from)) fs.copyFileSync(from, path.join(certStore, `${name}-${f}`));
      }
      fs.mkdirSync(path.join(dir, 'cv_ca'), { recursive: true, mode: 0o700 });
      const ima = new ImaLog(path.join(dir, 'ascii_runtime_measurements'), tpm.tcti);
      await ima.boot();
      const port = await freePort();
      const conf = path.join(dir, 'agent.conf');
      fs.writeFileSync(
        conf,
        toml({
          uuid: agentId,
          ip: '127.0.0.1',
          port,
          contact_ip: '127.0.0.1',
          contact_port: port,
          registrar_ip: '127.0.0.1',
          registrar_port: ports.registrar,
          keylime_dir: dir,
          run_as: '',
          tpm_hash_alg: 'sha256',
          tpm_encryption_alg: 'rsa',
          tpm_signing_alg: 'rsassa',
          ima_ml_path: ima.file,
          measuredboot_ml_path: eventLog,
          revocation_actions_dir: path.join(dir, 'actions'),
          allow_payload_revocation_actions: true,
          exponential_backoff_initial_delay: 500,
          exponential_backoff_max_retries: 10,
          exponential_backoff_max_delay: 2000,
        }),
      );
      const registrarRecord = (): Promise<Reply> => registrarGet(`agents/${agentId}`);
      return {
        name,
        agentId,
        dir,
        tpm,
        ima,
        eventLog,
        port,
        get agent() {
          return agent;
        },
        startAgent: async () => {
          progress(`${name}: starting the agent (registers its EK and AK, answers the challenge)`);
          // The CA of the verifier's and tenant's client certificates, copied "out of band" (§6.3).
          fs.copyFileSync(
            path.join(ws.dir, 'cv_ca', 'cacert.crt'),
            path.join(dir, 'cv_ca', 'cacert.crt'),
          );
          const s = startBuilt(`agent ${name}`, BUILT.agent, ws, {
            KEYLIME_DIR: dir,
            KEYLIME_AGENT_CONFIG: conf,
            TCTI: tpm.tcti,
          });
          agent = s;
          history.push(s);
          // The agent listens only after registering and activating.
          await waitUntilAnswering(
            s,
            async () =>
              (await listening(port)) ? registrarRecord() : { status: 0, body: 'not listening' },
            60_000,
          );
          return s;
        },
        stopAgent: async () => {
          await agent?.stop();
        },
        reboot: async () => {
          progress(`${name}: rebooting the TPM`);
          // An orderly TPM2_Shutdown first, as an OS does: else the clock's "safe" flag drops and
          // quotes after the reboot are (rightly) refused.
          await tpm2(tpm.tcti, 'shutdown', []);
          await tpm.restart();
          await bootFromEventLog(tpm.tcti, eventLog);
          await ima.boot();
        },
        status: async () => {
          const r = await verifierGet(`agents/${agentId}`);
          if (r.status === 404) return undefined;
          if (r.status !== 200) throw new Error(`verifier status: HTTP ${r.status} ${r.body}`);
          return (JSON.parse(r.body) as { results: AgentStatus }).results;
        },
        registrarRecord,
      };
    };

    const created = await Promise.all(options.machines.map(addMachine));
    await startVerifier();
    progress('starting the registrar');
    const reg = startBuilt('registrar', BUILT.registrar, ws, {});
    registrar = reg;
    history.push(reg);
    await waitUntilAnswering(reg, () => request(`http://127.0.0.1:${ports.registrar}/version`));

    return {
      ws,
      ports,
      get verifier() {
        if (verifier === undefined) throw new Error('verifier not started');
        return verifier;
      },
      registrar: reg,
      startVerifier,
      stopVerifier: async () => {
        await verifier?.stop();
      },
      machines: created,
      tenant: (args) => runCli(BUILT.tenant, args, ws),
      policy: (args) => runCli(BUILT.policy, args, ws),
      verifierGet,
      registrarGet,
      logs: () => history.map((s) => `--- ${s.name}\n${s.output()}`).join('\n'),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
