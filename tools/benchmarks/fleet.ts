/**
 * @module fleet: how many agents one verifier attests — starts the built registrar and verifier on a
 * throw-away KEYLIME_DIR, hosts N simulated pull agents (tools/fleet, software ECDSA AKs, growing IMA
 * logs), registers and activates them at the registrar, enrols them through the verifier's tenant API
 * and measures attestations/s, quote-to-verdict latency, verifier CPU and RSS per agent and database
 * writes. Run: `tools/bench fleet [--agents 100,1000] [--db sqlite,postgres] [--seconds 30]`.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { SourceMap } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startPrivatePostgres } from '@keylime/persistence/src/testing';
import type { PrivatePostgres } from '@keylime/persistence/src/testing';
import { replayMeasurementList } from '@keylime/ima';
import { TpmAlg, prepareQuoteKey, verifyQuote } from '@keylime/tpm';
import { FleetShard, fleetRuntimePolicy } from '../fleet/fleet-agents';
import type { FleetAgentInfo, FleetStats } from '../fleet/fleet-agents';
import type { ShardReply, ShardRequest } from '../fleet/fleet-shard';
import { createFleetIdentity } from '../fleet/simulated-agent';
import { bucketsBetween, parseVerdictBuckets, quantileMs } from '../fleet/verdict-histogram';
import type { CumulativeBuckets } from '../fleet/verdict-histogram';

const ROOT = path.resolve(__dirname, '../..');
/** Built roles; `--built DIR` points at another copy (e.g. a snapshot while dist/ is being rebuilt). */
const BUILT = {
  verifier: path.join(ROOT, 'dist/apps/verifier/main.js'),
  registrar: path.join(ROOT, 'dist/apps/registrar/main.js'),
};
const API = 'v2.6';
/** Agents per simulator process: each costs two file descriptors there (listener + connection). */
const AGENTS_PER_SHARD = 5000;
const CLK_TCK = 100;

interface Options {
  readonly agents: readonly number[];
  readonly dbs: readonly ('sqlite' | 'postgres')[];
  readonly seconds: number;
  readonly intervalSeconds: number;
  readonly imaGrowth: number;
  /** Agents registered at the registrar (the rest are enrolled with the simulator's data). */
  readonly registerLimit: number;
  readonly profile: boolean;
  /** node --cpu-prof on the simulator shards (summary over the measured window). */
  readonly profileSimulator: boolean;
  readonly keep: boolean;
  readonly selfCheck: boolean;
  readonly maxWarmupSeconds: number;
  /** Extra `[verifier]` options (`--verifier-option num_workers=1`). */
  readonly verifierOptions: Readonly<Record<string, string>>;
  /** Extra node arguments of the verifier process (`--verifier-node-arg --heapsnapshot-signal=SIGUSR2`). */
  readonly verifierNodeArgs: readonly string[];
  /** Extra environment of the verifier process (`--verifier-env MALLOC_ARENA_MAX=2`). */
  readonly verifierEnv: Readonly<Record<string, string>>;
  /** Enrol into already running services instead of starting the built ones. */
  readonly external?: ExternalOptions;
  /** After the window, restart the verifier and measure how long the fleet takes to recover. */
  readonly restart: boolean;
}

function usage(): never {
  console.error(
    'usage: tools/bench fleet [--agents N[,N…]] [--db sqlite|postgres[,…]] [--seconds S] [--interval S]\n' +
      '                         [--ima-growth K] [--register all|K] [--profile] [--profile-simulator]\n' +
      '                         [--keep] [--self-check] [--restart]\n' +
      '                         [--verifier-option KEY=VALUE]… [--verifier-node-arg ARG]…\n' +
      '                         [--verifier-env KEY=VALUE]…\n' +
      '                         [--built DIR (default dist/apps)] [--warmup-max S]\n' +
      '  side by side with running services (e.g. upstream Keylime), nothing started here:\n' +
      '    --external-ca DIR --external-verifier PORT --external-registrar PORT,TLS_PORT\n' +
      '    [--external-verifier-pid PID] [--external-pg-url URL | --external-sqlite-wal FILE]\n' +
      '  needs dist/apps/{verifier,registrar}/main.js: run `npx nx build verifier registrar` first.\n' +
      '  FLEET_PROFILE=1 is the same as --profile (node --cpu-prof on the verifier);\n' +
      '  --profile-simulator does the same for the simulator processes.',
  );
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Options {
  const opts = {
    agents: [100] as number[],
    dbs: ['sqlite'] as ('sqlite' | 'postgres')[],
    seconds: 30,
    intervalSeconds: 2,
    imaGrowth: 3,
    registerLimit: Infinity,
    profile: process.env['FLEET_PROFILE'] === '1',
    profileSimulator: false,
    keep: false,
    selfCheck: false,
    maxWarmupSeconds: 120,
    verifierOptions: {} as Record<string, string>,
    verifierNodeArgs: [] as string[],
    verifierEnv: {} as Record<string, string>,
    restart: false,
  };
  const ext: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) usage();
      return v;
    };
    const num = (v: string): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) usage();
      return n;
    };
    if (a === '--agents')
      opts.agents = value()
        .split(',')
        .map((v) => Math.floor(num(v)));
    else if (a === '--db') {
      const dbs = value().split(',');
      if (!dbs.every((d) => d === 'sqlite' || d === 'postgres')) usage();
      opts.dbs = dbs;
    } else if (a === '--seconds') opts.seconds = num(value());
    else if (a === '--interval') opts.intervalSeconds = num(value());
    else if (a === '--ima-growth') opts.imaGrowth = Math.floor(num(value()));
    else if (a === '--warmup-max') opts.maxWarmupSeconds = num(value());
    else if (a === '--register') {
      const v = value();
      opts.registerLimit = v === 'all' ? Infinity : Math.floor(Number(v));
      if (!(opts.registerLimit >= 0)) usage();
    } else if (a === '--profile') opts.profile = true;
    else if (a === '--profile-simulator') opts.profileSimulator = true;
    else if (a === '--keep') opts.keep = true;
    else if (a === '--restart') opts.restart = true;
    else if (a === '--self-check') opts.selfCheck = true;
    else if (a === '--verifier-option') {
      const m = /^([a-z_]+)=(.*)$/.exec(value());
      if (!m?.[1] || m[2] === undefined) usage();
      opts.verifierOptions[m[1]] = m[2];
    } else if (a === '--verifier-env') {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(value());
      if (!m?.[1] || m[2] === undefined) usage();
      opts.verifierEnv[m[1]] = m[2];
    } else if (a === '--verifier-node-arg') opts.verifierNodeArgs.push(value());
    else if (a?.startsWith('--external-')) ext[a.slice('--external-'.length)] = value();
    else if (a === '--built') {
      const d = path.resolve(value());
      BUILT.verifier = path.join(d, 'verifier', 'main.js');
      BUILT.registrar = path.join(d, 'registrar', 'main.js');
    } else usage();
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------
// processes and cleanup

const cleanups: (() => Promise<void> | void)[] = [];

async function cleanupAll(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // best effort: keep stopping the rest
    }
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function startRole(
  name: string,
  file: string,
  dir: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): Service {
  const logFile = path.join(dir, `${name}.log`);
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, file], {
    cwd: dir,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const service: Service = {
    name,
    child,
    logFile,
    stop: () => stopChild(child, 20_000),
  };
  cleanups.push(() => service.stop());
  return service;
}

function tail(file: string, bytes = 3000): string {
  try {
    const t = fs.readFileSync(file, 'utf8');
    return t.slice(-bytes);
  } catch {
    return '';
  }
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

function request(
  url: string,
  options: https.RequestOptions & { body?: string } = {},
): Promise<Reply> {
  return requestOnce(url, options).catch((e: unknown) => {
    // A kept-alive socket the server closed as we reused it (its keep-alive timeout): the request
    // never reached the server, so sending it again is safe (the pattern Node's http docs give).
    if (e instanceof StaleSocketError) return requestOnce(url, options);
    throw e;
  });
}

class StaleSocketError extends Error {}

function requestOnce(
  url: string,
  options: https.RequestOptions & { body?: string },
): Promise<Reply> {
  const { body, ...rest } = options;
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    let answered = false;
    const req = mod.request(url, { timeout: 60_000, ...rest }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        !answered && req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')
          ? new StaleSocketError(e.message)
          : e,
      ),
    );
    if (body !== undefined) {
      req.setHeader('Content-Type', 'application/json');
      req.setHeader('Content-Length', Buffer.byteLength(body));
      req.write(body);
    }
    req.end();
  });
}

async function waitUntilAnswering(
  service: Service,
  probe: () => Promise<Reply>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (service.child.exitCode !== null)
      throw new Error(
        `${service.name} exited (${service.child.exitCode}):\n${tail(service.logFile)}`,
      );
    try {
      if ((await probe()).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${service.name} did not answer in time:\n${tail(service.logFile)}`);
    await sleep(200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs `fn` over `items` with at most `limit` at once; an optional pacing spreads the starts. */
async function pool<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  startAt?: (index: number) => number,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const due = startAt?.(i);
      if (due !== undefined && due > Date.now()) await sleep(due - Date.now());
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
}

// ---------------------------------------------------------------------------------------------
// simulator shards

interface Shard {
  readonly child: ChildProcess;
  call<T extends ShardReply['type']>(
    req: ShardRequest,
    expect: T,
    timeoutMs?: number,
  ): Promise<Extract<ShardReply, { type: T }>>;
}

/** `profileDir`: run the shard under `node --cpu-prof`, writing there when it exits. */
function startShard(profileDir?: string): Shard {
  const child = fork(path.join(ROOT, 'tools/fleet/fleet-shard.ts'), [], {
    execArgv: [
      '-r',
      '@swc-node/register',
      '--max-old-space-size=4096',
      ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]),
    ],
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (r: ShardReply) => void>();
  child.on('message', (m: unknown) => {
    const r = m as ShardReply;
    waiting.get(r.seq)?.(r);
    waiting.delete(r.seq);
  });
  child.on('exit', (code) => {
    for (const [seq, w] of waiting)
      w({ type: 'error', seq, message: `simulator shard exited with ${String(code)}` });
    waiting.clear();
  });
  cleanups.push(() => stopChild(child, 5000));
  return {
    child,
    call: (req, expect, timeoutMs = 600_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(req.seq);
          reject(new Error(`simulator shard: no answer to ${req.type}`));
        }, timeoutMs);
        waiting.set(req.seq, (r) => {
          clearTimeout(timer);
          if (r.type === expect) resolve(r as Extract<ShardReply, { type: typeof expect }>);
          else reject(new Error(r.type === 'error' ? r.message : `unexpected ${r.type}`));
        });
        child.send(req);
      }),
  };
}

let seqCounter = 0;
function seq(): number {
  return ++seqCounter;
}

// ---------------------------------------------------------------------------------------------
// measurements

/** utime+stime in ms, from /proc/<pid>/stat. */
function cpuMs(pid: number): number {
  try {
    const t = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = t.slice(t.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Machine-wide busy and total jiffies (for "how loaded was the box"). */
function machineCpu(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

function loadAvg(): string {
  return (fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?').trim();
}

/** Database write counters: commits and rows (rows unknown for SQLite: pages instead). */
interface DbCounter {
  sample(): Promise<{ commits: number; rows: number }>;
  close(): Promise<void>;
}

/**
 * SQLite in WAL mode: every committed transaction ends with a commit frame in the -wal file. Counts
 * commit frames appended since the last poll (a WAL reset after a checkpoint is seen from the salts;
 * frames written between the last poll and a reset are missed, so the figure is a lower bound).
 * `rows` reports WAL frames (pages written).
 */
function sqliteCounter(walPath: string): DbCounter {
  let salt = '';
  let offset = 32;
  let pageSize = 0;
  let commits = 0;
  let frames = 0;
  const scan = (): void => {
    let fd: number;
    try {
      fd = fs.openSync(walPath, 'r');
    } catch {
      return;
    }
    try {
      const header = Buffer.alloc(32);
      if (fs.readSync(fd, header, 0, 32, 0) < 32) return;
      const s = header.subarray(16, 24).toString('hex');
      if (s !== salt) {
        salt = s;
        offset = 32;
        pageSize = header.readUInt32BE(8);
      }
      const size = fs.fstatSync(fd).size;
      const fh = Buffer.alloc(24);
      while (pageSize > 0 && offset + 24 + pageSize <= size) {
        fs.readSync(fd, fh, 0, 24, offset);
        if (fh.subarray(8, 16).toString('hex') !== salt) break; // stale frame of an older generation
        frames++;
        if (fh.readUInt32BE(4) !== 0) commits++;
        offset += 24 + pageSize;
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  const timer = setInterval(scan, 100);
  return {
    sample: () => {
      scan();
      return Promise.resolve({ commits, rows: frames });
    },
    close: () => {
      clearInterval(timer);
      return Promise.resolve();
    },
  };
}

/** PostgreSQL: pg_stat_database of the verifier's database (commits include read-only ones). */
async function postgresCounter(url: string): Promise<DbCounter> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return {
    sample: async () => {
      // Statistics are flushed lazily; ask for a fresh snapshot.
      await client.query('SELECT pg_stat_clear_snapshot()');
      const r = await client.query<{ c: string; r: string }>(
        'SELECT xact_commit AS c, tup_inserted + tup_updated + tup_deleted AS r FROM pg_stat_database WHERE datname = current_database()',
      );
      const row = r.rows[0];
      return { commits: Number(row?.c ?? 0), rows: Number(row?.r ?? 0) };
    },
    close: () => client.end(),
  };
}

function mergeLatency(stats: readonly FleetStats[]): Map<number, number> {
  const hist = new Map<number, number>();
  for (const s of stats) for (const [ms, n] of s.latency) hist.set(ms, (hist.get(ms) ?? 0) + n);
  return hist;
}

function percentile(hist: Map<number, number>, p: number): number {
  const total = [...hist.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return NaN;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const ms of [...hist.keys()].sort((a, b) => a - b)) {
    seen += hist.get(ms) ?? 0;
    if (seen >= rank) return ms;
  }
  return NaN;
}

// ---------------------------------------------------------------------------------------------
// profile

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly startTime: number;
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** CLOCK_MONOTONIC in µs: the clock V8 stamps profile samples with, in every process. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Top self-time functions of one or more .cpuprofile files (one per thread: the verifier's main
 * thread and its attestation workers) within [fromUs, toUs] (the measured window, so start-up
 * and enrolment do not count), locations mapped through the bundle's source map. Percentages are
 * of all sampled time of all threads, idle included.
 */
function summariseProfile(
  files: readonly string[],
  bundle: string,
  fromUs: number,
  toUs: number,
  top = 20,
): string {
  let map: SourceMap | undefined;
  try {
    map = new SourceMap(JSON.parse(fs.readFileSync(`${bundle}.map`, 'utf8')) as never);
  } catch {
    map = undefined;
  }
  const byName = new Map<string, number>();
  const byArea = new Map<string, number>();
  let total = 0;
  let inWindow = 0;
  for (const file of files) {
    const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    let t = prof.startTime;
    prof.samples.forEach((id, i) => {
      const dt = prof.timeDeltas[i] ?? 0;
      t += dt;
      if (t < fromUs || t > toUs) return;
      inWindow++;
      self.set(id, (self.get(id) ?? 0) + dt);
    });
    for (const [id, us] of self) {
      const n = byId.get(id);
      if (!n) continue;
      total += us;
      const cf = n.callFrame;
      let where = cf.url === '' ? '' : `${path.basename(cf.url)}:${cf.lineNumber + 1}`;
      let area =
        cf.url === ''
          ? '(native/idle)'
          : cf.url.startsWith('node:')
            ? cf.url
            : (/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(cf.url)?.[1] ?? path.basename(cf.url));
      if (map && cf.url.endsWith('main.js') && cf.lineNumber >= 0) {
        const e = map.findEntry(cf.lineNumber, cf.columnNumber) as {
          originalSource?: string;
          originalLine?: number;
        };
        if (e.originalSource) {
          const src = e.originalSource.replace(/^webpack:\/\/[^/]*\//, '').replace(/^\.\//, '');
          where = `${src}:${(e.originalLine ?? 0) + 1}`;
          const m = /(node_modules\/(?:@[^/]+\/)?[^/]+|libs\/[^/]+|apps\/[^/]+\/src\/[^/]+)/.exec(
            src,
          );
          area = m?.[1] ?? src;
        }
      }
      const name = `${cf.functionName || '(anonymous)'} ${where}`;
      byName.set(name, (byName.get(name) ?? 0) + us);
      byArea.set(area, (byArea.get(area) ?? 0) + us);
    }
  }
  if (inWindow === 0) return 'no profile samples fall in the measured window';
  const fmt = (m: Map<string, number>, k: number): string =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => `  ${((100 * us) / total).toFixed(1).padStart(5)}%  ${name}`)
      .join('\n');
  return `${inWindow} samples in the measured window; self time by function (top ${top}):\n${fmt(byName, top)}\nself time by area:\n${fmt(byArea, 15)}`;
}

// ---------------------------------------------------------------------------------------------
// one run

interface RunResult {
  readonly db: string;
  readonly agents: number;
  readonly attestationsPerSecond: number;
  readonly target: number;
  /** Quote request to verdict, from the verifier's GET /metrics (or the simulator's lateness). */
  readonly p50: number;
  readonly p99: number;
  readonly latencySource: 'verifier' | 'simulator';
  /** Simulator: a quote request's arrival after the previous one, minus the quote interval. */
  readonly lateP50: number;
  readonly lateP99: number;
  readonly verifierCpuPercent: number;
  readonly cpuUsPerAttestation: number;
  readonly rssMiB: number;
  readonly idleRssMiB: number;
  readonly rssPerAgentKiB: number;
  readonly commitsPerSecond: number;
  readonly rowsPerSecond: number;
  readonly rowsLabel: string;
  readonly simulatorCpuPercent: number;
  /** The PostgreSQL server's processes (postmaster and backends); NaN for SQLite (in-process). */
  readonly dbServerCpuPercent: number;
  /** Simulator CPU (all shards, utime+stime) per quote served. */
  readonly simulatorUsPerQuote: number;
  readonly handshakesPerSecond: number;
  readonly machineBusyPercent: number;
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly failedAgents: number;
  readonly registered: number;
  readonly setupSeconds: number;
  readonly profile?: string;
  readonly simulatorProfile?: string;
  readonly restart?: RestartResult;
}

/** `--restart`: the verifier stopped (SIGTERM) and started again on the same database. */
interface RestartResult {
  /** SIGTERM to exit. */
  readonly stopSeconds: number;
  /** Start of the new process to the REST API answering. */
  readonly answeringSeconds: number;
  /** From the start of the new process until half / all of the agents served a quote again. */
  readonly halfQuotedSeconds: number;
  readonly allQuotedSeconds: number;
  /** From the start of the new process until every agent is GET_QUOTE and PASS in the API. */
  readonly allPassSeconds: number;
  readonly notPass: number;
  /** Retries and exhausted retries the restarted verifier logged (timeouts included). */
  readonly retriesLogged: number;
  readonly handshakes: number;
  readonly vkeys: number;
  readonly rssMiB: number;
}

function ini(section: string, values: Record<string, string | number>): string {
  return `[${section}]\n${Object.entries(values)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

/** The services under test: the built ones started here, or an already running (upstream) pair. */
interface Services {
  readonly verifierPort: number;
  readonly registrarPort: number;
  readonly registrarTlsPort: number;
  /** Directory with cacert.crt, client-cert.crt and client-private.pem (the tenant's identity). */
  readonly caDir: string;
  /** The verifier's process and its descendants (upstream runs worker processes). */
  verifierPids(): number[];
  /** The database server's processes, when it is a separate server started here. */
  dbServerPids?(): number[];
  counter(): Promise<DbCounter | undefined>;
  /** Why the verifier cannot be measured any more, or undefined. */
  dead(): string | undefined;
  logTail(): string;
  /** Stops what was started here; returns the verifier's CPU profile summary when profiled. */
  stop(fromUs: number, toUs: number): Promise<string | undefined>;
  /** Built services only: SIGTERM the verifier, start it again, wait until its API answers. */
  restartVerifier?(): Promise<{
    stopSeconds: number;
    answeringSeconds: number;
    /** performance.now() when the new process was spawned. */
    startedAt: number;
    logFrom: number;
  }>;
  /** The verifier's log from a byte offset (built services only). */
  verifierLogFrom?(offset: number): string;
}

/** External services for a side-by-side run with upstream Keylime (see docs/performance.md). */
interface ExternalOptions {
  readonly verifierPort: number;
  readonly registrarPort: number;
  readonly registrarTlsPort: number;
  readonly caDir: string;
  readonly verifierPid: number;
  readonly pgUrl?: string;
  readonly sqliteWal?: string;
}

/** The private PostgreSQL's postmaster and its backends (first line of postmaster.pid). */
function postmasterTree(dir: string): number[] {
  try {
    const pid = Number(
      fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    return Number.isInteger(pid) && pid > 0 ? processTree(pid) : [];
  } catch {
    return [];
  }
}

/** `pid` and all its descendants, from /proc. */
function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const t = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(t.slice(t.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++)
    for (const [child, p] of parent) if (p === out[i]) out.push(child);
  return out;
}

function externalServices(x: ExternalOptions): Services {
  return {
    verifierPort: x.verifierPort,
    registrarPort: x.registrarPort,
    registrarTlsPort: x.registrarTlsPort,
    caDir: x.caDir,
    verifierPids: () => (x.verifierPid > 0 ? processTree(x.verifierPid) : []),
    counter: async () =>
      x.pgUrl ? postgresCounter(x.pgUrl) : x.sqliteWal ? sqliteCounter(x.sqliteWal) : undefined,
    dead: () =>
      x.verifierPid > 0 && !fs.existsSync(`/proc/${x.verifierPid}`)
        ? 'the external verifier exited'
        : undefined,
    logTail: () => '',
    stop: () => Promise.resolve(undefined),
  };
}

async function startBuiltServices(
  opts: Options,
  db: 'sqlite' | 'postgres',
  n: number,
): Promise<Services> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-fleet-'));
  if (!opts.keep) cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const env: Record<string, string> = { KEYLIME_DIR: dir };
  for (const c of ['verifier', 'registrar', 'tenant', 'ca', 'logging']) {
    const file = path.join(dir, `${c}.conf`);
    fs.writeFileSync(file, `[${c}]\n`);
    env[`KEYLIME_${c.toUpperCase()}_CONFIG`] = file;
  }
  const ports = {
    verifier: await freePort(),
    registrar: await freePort(),
    registrarTls: await freePort(),
  };
  let pg: PrivatePostgres | undefined;
  let verifierDb = 'sqlite';
  let registrarDb = 'sqlite';
  if (db === 'postgres') {
    progress('starting a private PostgreSQL');
    pg = await startPrivatePostgres();
    const stop = pg.stop.bind(pg);
    cleanups.push(() => stop());
    verifierDb = pg.url;
    registrarDb = await pg.createDatabase('registrar');
  }
  fs.writeFileSync(
    env['KEYLIME_VERIFIER_CONFIG'] ?? '',
    ini('verifier', {
      ip: '127.0.0.1',
      port: ports.verifier,
      database_url: verifierDb,
      quote_interval: opts.intervalSeconds,
      retry_interval: 1,
      exponential_backoff: 'False',
      max_retries: 5,
      request_timeout: 10,
      ...opts.verifierOptions,
    }),
  );
  fs.writeFileSync(
    env['KEYLIME_REGISTRAR_CONFIG'] ?? '',
    ini('registrar', {
      ip: '127.0.0.1',
      port: ports.registrar,
      tls_port: ports.registrarTls,
      database_url: registrarDb,
    }),
  );

  // Private copies of the built roles: other people's rebuilds of dist/ cannot change a run midway.
  // Under the repository, so the bundles still find node_modules (better-sqlite3, pg).
  const rolesDir = path.join(ROOT, 'tmp', `fleet-roles-${process.pid}-${Date.now()}`);
  cleanups.push(() => fs.rmSync(rolesDir, { recursive: true, force: true }));
  const roles = {
    verifier: path.join(rolesDir, 'verifier', 'main.js'),
    registrar: path.join(rolesDir, 'registrar', 'main.js'),
  };
  fs.cpSync(path.dirname(BUILT.verifier), path.dirname(roles.verifier), { recursive: true });
  fs.cpSync(path.dirname(BUILT.registrar), path.dirname(roles.registrar), { recursive: true });

  progress(`${db} N=${n}: starting the verifier${opts.profile ? ' (--cpu-prof)' : ''}`);
  const profileDir = path.join(ROOT, 'tmp', 'fleet-profiles', `${db}-${n}-${Date.now()}`);
  const startVerifier = (): Service =>
    startRole('verifier', roles.verifier, dir, { ...env, ...opts.verifierEnv }, [
      ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      ...opts.verifierNodeArgs,
    ]);
  let verifier = startVerifier();
  const caDir = path.join(dir, 'cv_ca');
  const verifierAnswers = (): Promise<void> =>
    waitUntilAnswering(verifier, () =>
      request(`https://127.0.0.1:${ports.verifier}/version`, tenantTls(caDir)),
    );
  await verifierAnswers();
  progress(`${db} N=${n}: starting the registrar`);
  const registrar = startRole('registrar', roles.registrar, dir, env);
  await waitUntilAnswering(registrar, () => request(`http://127.0.0.1:${ports.registrar}/version`));
  return {
    verifierPort: ports.verifier,
    registrarPort: ports.registrar,
    registrarTlsPort: ports.registrarTls,
    caDir,
    verifierPids: () => [verifier.child.pid ?? 0],
    ...(pg === undefined ? {} : { dbServerPids: () => postmasterTree(pg.dir) }),
    counter: async () =>
      db === 'postgres' && pg
        ? postgresCounter(pg.url)
        : sqliteCounter(path.join(dir, 'cv_data.sqlite-wal')),
    dead: () =>
      verifier.child.exitCode !== null
        ? `verifier exited:\n${tail(verifier.logFile)}`
        : registrar.child.exitCode !== null
          ? `registrar exited:\n${tail(registrar.logFile)}`
          : undefined,
    logTail: () => tail(verifier.logFile, 1500),
    restartVerifier: async () => {
      const t0 = performance.now();
      await verifier.stop();
      const stopSeconds = (performance.now() - t0) / 1000;
      const logFrom = fs.statSync(verifier.logFile).size;
      const t1 = performance.now();
      verifier = startVerifier();
      await verifierAnswers();
      return {
        stopSeconds,
        answeringSeconds: (performance.now() - t1) / 1000,
        startedAt: t1,
        logFrom,
      };
    },
    verifierLogFrom: (offset) => {
      const fd = fs.openSync(verifier.logFile, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - offset));
        fs.readSync(fd, buf, 0, buf.length, offset);
        return buf.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
    },
    stop: async (fromUs, toUs) => {
      await registrar.stop();
      await verifier.stop();
      if (!opts.profile) return undefined;
      const files = fs.existsSync(profileDir)
        ? fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))
        : [];
      // One file per thread: the main thread and each attestation worker.
      const paths = files.map((f) => path.join(profileDir, f));
      return paths.length > 0
        ? `profile ${profileDir} (${paths.length} threads)\n${summariseProfile(paths, roles.verifier, fromUs, toUs, 30)}`
        : `no profile written in ${profileDir}`;
    },
  };
}

function tenantTls(caDir: string): https.RequestOptions {
  return {
    ca: fs.readFileSync(path.join(caDir, 'cacert.crt')),
    cert: fs.readFileSync(path.join(caDir, 'client-cert.crt')),
    key: fs.readFileSync(path.join(caDir, 'client-private.pem')),
    servername: 'localhost',
  };
}

type AgentStatus = Record<string, unknown>;

/** The verifier's quote-to-verdict histogram; undefined for a verifier without GET /metrics. */
async function verdictBuckets(
  tenant: (url: string) => Promise<Reply>,
  verifierPort: number,
): Promise<CumulativeBuckets | undefined> {
  const r = await tenant(`https://127.0.0.1:${verifierPort}/metrics`).catch(() => undefined);
  return r?.status === 200 ? parseVerdictBuckets(r.body) : undefined;
}

/** Every agent's status from the verifier's bulk listing; undefined when it does not answer. */
async function agentStatuses(
  tenant: (url: string) => Promise<Reply>,
  verifierPort: number,
): Promise<AgentStatus[] | undefined> {
  // After a restart, the kept-alive connection to the old process fails once: a missing answer.
  const started = Date.now();
  const r = await tenant(`https://127.0.0.1:${verifierPort}/${API}/agents/?bulk=1`).catch(
    (e: unknown) => {
      progress(`bulk agent status read failed after ${Date.now() - started} ms: ${String(e)}`);
      return undefined;
    },
  );
  if (r !== undefined && r.status !== 200)
    progress(`bulk agent status read: HTTP ${r.status} ${r.body.slice(0, 300)}`);
  if (r?.status !== 200) return undefined;
  const results = (JSON.parse(r.body) as { results?: Record<string, AgentStatus> }).results;
  const all = Object.values(results ?? {});
  progress(
    `bulk agent status read: ${all.length} agents, ${(r.body.length / 1048576).toFixed(1)} MiB in ${Date.now() - started} ms`,
  );
  return all;
}

/**
 * `--restart`: SIGTERM the verifier, start the same command on the same database, then time how
 * long until every agent served a quote again (simulator counters) and until the API shows every
 * agent GET_QUOTE (3) and PASS again.
 */
async function measureRestart(
  svc: Services,
  allStats: (reset: boolean) => Promise<FleetStats[]>,
  statuses: () => Promise<AgentStatus[] | undefined>,
  expected: number,
  maxSeconds: number,
  label: string,
): Promise<RestartResult> {
  const restartVerifier = svc.restartVerifier?.bind(svc);
  if (restartVerifier === undefined) throw new Error('--restart needs the built services');
  progress(`${label}: restarting the verifier (SIGTERM, then the same command)`);
  await allStats(true);
  const up = await restartVerifier();
  const since = (): number => (performance.now() - up.startedAt) / 1000;
  const deadline = Date.now() + maxSeconds * 1000;
  let halfQuoted = NaN;
  let allQuoted = NaN;
  while (Date.now() < deadline) {
    const dead = svc.dead();
    if (dead) throw new Error(dead);
    const quoted = (await allStats(false)).reduce((a, st) => a + st.agentsQuotedSinceReset, 0);
    if (Number.isNaN(halfQuoted) && quoted * 2 >= expected) halfQuoted = since();
    if (quoted >= expected) {
      allQuoted = since();
      break;
    }
    await sleep(250);
  }
  let allPass = NaN;
  let notPass = expected;
  while (Date.now() < deadline) {
    const all = await statuses();
    if (all !== undefined) {
      notPass = all.filter(
        (a) => a['operational_state'] !== 3 || a['attestation_status'] !== 'PASS',
      ).length;
      if (notPass === 0) {
        allPass = since();
        break;
      }
    }
    await sleep(500);
  }
  const st = await allStats(true);
  const log = svc.verifierLogFrom?.(up.logFrom) ?? '';
  return {
    stopSeconds: up.stopSeconds,
    answeringSeconds: up.answeringSeconds,
    halfQuotedSeconds: halfQuoted,
    allQuotedSeconds: allQuoted,
    allPassSeconds: allPass,
    notPass,
    // One line per retry ("not reachable (…); retry n of m") and per exhaustion.
    retriesLogged: log.split('\n').filter((line) => line.includes(' not reachable ')).length,
    handshakes: st.reduce((a, x) => a + x.handshakes, 0),
    vkeys: st.reduce((a, x) => a + x.vkeys, 0),
    rssMiB: svc.verifierPids().reduce((a, p) => a + rssKiB(p), 0) / 1024,
  };
}

async function runOnce(opts: Options, db: 'sqlite' | 'postgres', n: number): Promise<RunResult> {
  const setupStart = Date.now();
  const loadBefore = loadAvg();
  const svc = opts.external
    ? externalServices(opts.external)
    : await startBuiltServices(opts, db, n);
  const ports = {
    verifier: svc.verifierPort,
    registrar: svc.registrarPort,
    registrarTls: svc.registrarTlsPort,
  };
  const caDir = svc.caDir;
  const tls = tenantTls(caDir);
  const tenantAgent = new https.Agent({
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    servername: 'localhost',
    keepAlive: true,
    maxSockets: 32,
  });
  cleanups.push(() => tenantAgent.destroy());
  const tenant = (url: string, method = 'GET', body?: unknown): Promise<Reply> =>
    request(url, {
      agent: tenantAgent,
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  // Simulator shards (child processes), then registration + activation.
  const clientCaPem = fs.readFileSync(path.join(caDir, 'cacert.crt'), 'utf8');
  const shardCount = Math.ceil(n / AGENTS_PER_SHARD);
  const basePort = await freePort();
  progress(`${db} N=${n}: starting ${shardCount} simulator process(es)`);
  const simProfileDir = opts.profileSimulator
    ? path.join(ROOT, 'tmp', 'fleet-profiles', `simulator-${db}-${n}-${Date.now()}`)
    : undefined;
  const shards = Array.from({ length: shardCount }, () => startShard(simProfileDir));
  const ready = await Promise.all(
    shards.map((s, i) =>
      s.call(
        {
          type: 'init',
          seq: seq(),
          shard: i,
          count: Math.min(AGENTS_PER_SHARD, n - i * AGENTS_PER_SHARD),
          // Fresh ids against external services, which keep their database between runs.
          idPrefix: opts.external ? `fleet${Date.now().toString(36)}` : 'fleet',
          clientCaPem,
          imaGrowth: opts.imaGrowth,
          quoteIntervalMs: opts.intervalSeconds * 1000,
          basePort,
        },
        'ready',
        // Keys and 5 000 listeners take seconds; a shard that says nothing in 2 min is stuck.
        120_000,
      ),
    ),
  );
  const agents: (FleetAgentInfo & { mtlsCert: string })[] = ready.flatMap((r) =>
    r.agents.map((a) => ({ ...a, mtlsCert: r.mtlsCert })),
  );
  const registerCount = Math.min(n, opts.registerLimit);
  const perShard = Math.ceil(registerCount / shardCount);
  let registered = 0;
  if (registerCount > 0) {
    progress(`${db} N=${n}: registering and activating ${registerCount} agents at the registrar`);
    const t = Date.now();
    // Shards register their first `perShard` agents (one challenge/ActivateCredential each).
    const results = await Promise.all(
      shards.map((s) =>
        s.call(
          {
            type: 'register',
            seq: seq(),
            host: '127.0.0.1',
            port: ports.registrar,
            concurrency: 8,
            limit: perShard,
          },
          'registered',
        ),
      ),
    );
    registered = results.reduce((a, r) => a + r.ok, 0);
    const failed = results.flatMap((r) => r.failed);
    progress(
      `${db} N=${n}: ${registered} registered in ${((Date.now() - t) / 1000).toFixed(1)} s${failed.length > 0 ? `; failures: ${failed.slice(0, 3).join('; ')}` : ''}`,
    );
    if (registered === 0) throw new Error('no agent registered');
  }
  const registeredIds = new Set(ready.flatMap((r) => r.agents.slice(0, perShard).map((a) => a.id)));

  // One named runtime policy for the whole (homogeneous) fleet, as `keylime_tenant --runtime-policy-name`.
  const policy = Buffer.from(JSON.stringify(fleetRuntimePolicy())).toString('base64');
  const pr = await tenant(
    `https://127.0.0.1:${ports.verifier}/${API}/allowlists/fleet-policy`,
    'POST',
    {
      runtime_policy: policy,
      runtime_policy_key: '',
      tpm_policy: JSON.stringify({ mask: '0x400' }),
    },
  );
  if (pr.status !== 201 && !(opts.external && pr.status === 409))
    throw new Error(`creating the runtime policy: ${pr.status} ${pr.body}`);

  const pids = (): number[] => svc.verifierPids();
  const sum = (f: (pid: number) => number): number => pids().reduce((a, p) => a + f(p), 0);
  const idleRss = sum(rssKiB);
  progress(
    `${db} N=${n}: enrolling ${n} agents in the verifier (idle RSS ${(idleRss / 1024).toFixed(0)} MiB)`,
  );
  const enrolStart = Date.now();
  // Spread enrolment over at least one quote interval so quote phases are spread as in a real fleet.
  const spreadMs = opts.intervalSeconds * 1000;
  let enrolFailures = 0;
  let enrolled = 0;
  let firstEnrolError = '';
  await pool(
    agents,
    32,
    async (a) => {
      let akTpm = a.akTpm;
      let mtlsCert = a.mtlsCert;
      let ip = a.ip;
      let port = a.port;
      if (registeredIds.has(a.id)) {
        // What the tenant does: read the agent's identity from the registrar (admin mTLS).
        const r = await tenant(`https://127.0.0.1:${ports.registrarTls}/${API}/agents/${a.id}`);
        const res = (JSON.parse(r.body) as { results?: Record<string, unknown> }).results ?? {};
        if (r.status !== 200) throw new Error(`registrar GET ${a.id}: ${r.status} ${r.body}`);
        akTpm = String(res['aik_tpm']);
        mtlsCert = String(res['mtls_cert']);
        ip = String(res['ip']);
        port = Number(res['port']);
      }
      const r = await tenant(`https://127.0.0.1:${ports.verifier}/${API}/agents/${a.id}`, 'POST', {
        v: Buffer.alloc(32, 7).toString('base64'),
        cloudagent_ip: ip,
        cloudagent_port: port,
        verifier_ip: '127.0.0.1',
        verifier_port: String(ports.verifier),
        tpm_policy: JSON.stringify({ mask: '0x400' }),
        runtime_policy: '',
        runtime_policy_name: 'fleet-policy',
        runtime_policy_key: '',
        mb_policy: null,
        mb_policy_name: '',
        ima_sign_verification_keys: '',
        metadata: '{}',
        revocation_key: '',
        accept_tpm_hash_algs: ['sha512', 'sha384', 'sha256'],
        accept_tpm_encryption_algs: ['ecc', 'rsa'],
        accept_tpm_signing_algs: ['ecschnorr', 'rsassa', 'ecdsa'],
        ak_tpm: akTpm,
        mtls_cert: mtlsCert,
        supported_version: '2.6',
      });
      enrolled++;
      if (enrolled % 2000 === 0) progress(`${db} N=${n}: ${enrolled} enrolled`);
      if (r.status !== 200) {
        enrolFailures++;
        firstEnrolError ||= `${a.id}: ${r.status} ${r.body.slice(0, 300)}`;
      }
    },
    (i) => enrolStart + (i * spreadMs) / n,
  );
  progress(
    `${db} N=${n}: enrolled in ${((Date.now() - enrolStart) / 1000).toFixed(1)} s` +
      (enrolFailures > 0 ? `, ${enrolFailures} refused (${firstEnrolError})` : ''),
  );
  if (enrolFailures === n) throw new Error(`no agent enrolled: ${firstEnrolError}`);

  const allStats = async (reset: boolean): Promise<FleetStats[]> =>
    (
      await Promise.all(shards.map((s) => s.call({ type: 'stats', seq: seq(), reset }, 'stats')))
    ).map((r) => r.stats);

  // Warm-up: every agent quoted (and got V), then two more intervals for steady state.
  const warmDeadline = Date.now() + opts.maxWarmupSeconds * 1000;
  for (;;) {
    const st = await allStats(false);
    const quoted = st.reduce((a, s) => a + s.agentsQuoted, 0);
    if (quoted >= n - enrolFailures) break;
    if (Date.now() > warmDeadline) {
      progress(`${db} N=${n}: warm-up ended with ${quoted}/${n} agents quoted`);
      break;
    }
    const dead = svc.dead();
    if (dead) throw new Error(dead);
    await sleep(500);
  }
  await sleep(2 * opts.intervalSeconds * 1000);
  const setupSeconds = (Date.now() - setupStart) / 1000;

  // The measured window.
  progress(`${db} N=${n}: measuring for ${opts.seconds} s (load ${loadAvg()})`);
  const counter = (await svc.counter()) ?? {
    sample: () => Promise.resolve({ commits: NaN, rows: NaN }),
    close: () => Promise.resolve(),
  };
  const verdicts0 = await verdictBuckets(tenant, ports.verifier);
  await allStats(true);
  const db0 = await counter.sample();
  const cpu0 = sum(cpuMs);
  const simCpu0 = shards.reduce((a, s) => a + cpuMs(s.child.pid ?? 0), 0);
  // Per process: backends come and go with the pools' connections (one that exits mid-window
  // takes its share of the window with it, so this is a lower bound).
  const dbCpu0 = new Map((svc.dbServerPids?.() ?? []).map((p) => [p, cpuMs(p)]));
  const m0 = machineCpu();
  const t0 = performance.now();
  const windowFromUs = monotonicUs();
  let peakRss = 0;
  const end = Date.now() + opts.seconds * 1000;
  while (Date.now() < end) {
    await sleep(Math.min(1000, end - Date.now()));
    peakRss = Math.max(peakRss, sum(rssKiB));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const windowToUs = monotonicUs();
  const cpu1 = sum(cpuMs);
  const simCpu1 = shards.reduce((a, s) => a + cpuMs(s.child.pid ?? 0), 0);
  const dbPids1 = svc.dbServerPids?.() ?? [];
  const dbCpuMs = dbPids1.reduce((a, p) => a + Math.max(0, cpuMs(p) - (dbCpu0.get(p) ?? 0)), 0);
  const m1 = machineCpu();
  const db1 = await counter.sample();
  const stats = await allStats(true);
  const verdicts1 = await verdictBuckets(tenant, ports.verifier);
  await counter.close();
  const rss = sum(rssKiB);
  const loadAfter = loadAvg();

  // Verdicts as the verifier records them: every agent should be in GET_QUOTE (3) and PASS.
  const bulk = (): Promise<AgentStatus[] | undefined> => agentStatuses(tenant, ports.verifier);
  const verdicts = await bulk();
  const failedAgents =
    verdicts === undefined ? -1 : verdicts.filter((a) => a['attestation_status'] !== 'PASS').length;
  if (failedAgents !== 0)
    progress(`${db} N=${n}: ${failedAgents} agents not PASS; verifier log:\n${svc.logTail()}`);

  const restart = opts.restart
    ? await measureRestart(
        svc,
        allStats,
        bulk,
        n - enrolFailures,
        opts.maxWarmupSeconds,
        `${db} N=${n}`,
      )
    : undefined;
  if (restart !== undefined)
    progress(
      `${db} N=${n}: restarted; every agent quoted again after ${fmt(restart.allQuotedSeconds, 1)} s, GET_QUOTE and PASS after ${fmt(restart.allPassSeconds, 1)} s`,
    );

  const served = stats.reduce((a, s) => a + s.served, 0);
  const errors = stats.reduce((a, s) => a + s.errors, 0);
  const handshakes = stats.reduce((a, s) => a + s.handshakes, 0);
  const imaEntries = stats.reduce((a, s) => a + s.imaEntriesSent, 0);
  progress(
    `${db} N=${n}: ${(
      imaEntries /
      Math.max(
        1,
        stats.reduce((a, s) => a + s.served, 0),
      )
    ).toFixed(1)} IMA entries sent per quote (incremental: ≈ --ima-growth)`,
  );
  if (errors > 0) progress(`${db} N=${n}: simulator saw ${errors} bad requests/TLS errors`);
  const hist = mergeLatency(stats);
  const verdictWindow =
    verdicts0 !== undefined && verdicts1 !== undefined
      ? bucketsBetween(verdicts0, verdicts1)
      : undefined;
  const rate = served / elapsed;

  progress(`${db} N=${n}: stopping`);
  const shardsExited = shards.map(
    (s) =>
      new Promise<void>((r) => {
        if (s.child.exitCode !== null || s.child.signalCode !== null) r();
        else s.child.once('exit', () => r());
      }),
  );
  await Promise.all(
    shards.map((s) =>
      s.call({ type: 'close', seq: seq() }, 'closed', 30_000).catch(() => undefined),
    ),
  );
  let simulatorProfile: string | undefined;
  if (simProfileDir !== undefined) {
    // The profile is written as the shard exits (it does after 'closed').
    await Promise.race([Promise.all(shardsExited), sleep(30_000)]);
    const files = fs.existsSync(simProfileDir)
      ? fs.readdirSync(simProfileDir).filter((f) => f.endsWith('.cpuprofile'))
      : [];
    // One file per simulator process; summed like the verifier's threads.
    simulatorProfile =
      files.length === 0
        ? `no .cpuprofile in ${simProfileDir}`
        : `${simProfileDir} (${files.length} processes): ${summariseProfile(
            files.map((f) => path.join(simProfileDir, f)),
            '',
            windowFromUs,
            windowToUs,
            30,
          )}`;
  }
  const profile = await svc.stop(windowFromUs, windowToUs);
  await cleanupAll();
  return {
    db,
    agents: n,
    attestationsPerSecond: rate,
    target: n / opts.intervalSeconds,
    // Upstream's verifier has no /metrics; it asks again one interval after its verdict, so the
    // simulator's lateness is its time to verdict (plus scheduling delay).
    p50: verdictWindow ? quantileMs(verdictWindow, 0.5) : percentile(hist, 50),
    p99: verdictWindow ? quantileMs(verdictWindow, 0.99) : percentile(hist, 99),
    latencySource: verdictWindow ? 'verifier' : 'simulator',
    lateP50: percentile(hist, 50),
    lateP99: percentile(hist, 99),
    verifierCpuPercent: ((cpu1 - cpu0) / 1000 / elapsed) * 100,
    cpuUsPerAttestation: served > 0 ? ((cpu1 - cpu0) * 1000) / served : NaN,
    rssMiB: rss / 1024,
    idleRssMiB: idleRss / 1024,
    rssPerAgentKiB: (Math.max(rss, peakRss) - idleRss) / n,
    commitsPerSecond: (db1.commits - db0.commits) / elapsed,
    rowsPerSecond: (db1.rows - db0.rows) / elapsed,
    rowsLabel: db === 'postgres' ? 'rows' : 'pages',
    simulatorCpuPercent: ((simCpu1 - simCpu0) / 1000 / elapsed) * 100,
    dbServerCpuPercent: dbPids1.length > 0 ? (dbCpuMs / 1000 / elapsed) * 100 : NaN,
    simulatorUsPerQuote: served > 0 ? ((simCpu1 - simCpu0) * 1000) / served : NaN,
    handshakesPerSecond: handshakes / elapsed,
    machineBusyPercent: (100 * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total),
    loadBefore,
    loadAfter,
    failedAgents,
    registered,
    setupSeconds,
    ...(profile === undefined ? {} : { profile }),
    ...(simulatorProfile === undefined ? {} : { simulatorProfile }),
    ...(restart === undefined ? {} : { restart }),
  };
}

// ---------------------------------------------------------------------------------------------
// self-check (no services): simulator quotes verify with @keylime/tpm

async function selfCheck(): Promise<void> {
  const identity = await createFleetIdentity('self-check');
  const shard = new FleetShard({
    shard: 0,
    count: 3,
    idPrefix: 'check',
    clientCaPem: identity.tlsCertPem,
    identity,
    imaGrowth: 3,
    quoteIntervalMs: 2000,
    basePort: 0,
  });
  const infos = await shard.listen();
  // Over the wire, as the verifier asks: mTLS with a client certificate the shard's CA accepts.
  const mtls = new https.Agent({
    keepAlive: true,
    ca: identity.tlsCertPem,
    cert: identity.tlsCertPem,
    key: identity.tlsKeyPem,
    checkServerIdentity: () => undefined,
  });
  const logs = infos.map(() => '');
  let entry = 0;
  for (let round = 0; round < 3; round++) {
    for (const [i, info] of infos.entries()) {
      const nonce = `N${round}x${i}abcdefghijklmnop`;
      const query = `nonce=${nonce}&mask=0x400&partial=${round > 0 ? 1 : 0}&ima_ml_entry=${round === 0 ? 0 : entry}`;
      const reply = await request(
        `https://${info.ip}:${info.port}/v2.6/quotes/integrity?${query}`,
        { agent: mtls },
      );
      if (reply.status !== 200)
        throw new Error(`self-check: ${info.id} answered ${reply.status}: ${reply.body}`);
      const r = (JSON.parse(reply.body) as { results: Record<string, unknown> }).results;
      const v = verifyQuote(String(r['quote']), {
        ak: prepareQuoteKey(new Uint8Array(Buffer.from(info.akTpm, 'base64'))),
        nonce,
        hashAlg: 'sha256',
      });
      if (!v.ok) throw new Error(`self-check: quote of ${info.id} refused: ${JSON.stringify(v)}`);
      const slice = String(r['ima_measurement_list']);
      if (slice === '') throw new Error('self-check: empty IMA slice');
      logs[i] = (r['ima_measurement_list_entry'] === 0 ? '' : (logs[i] ?? '')) + slice;
      const replayed = replayMeasurementList(logs[i] ?? '', ['sha256']).pcr10.sha256;
      if (v.value.pcrs.get(10) !== replayed)
        throw new Error(`self-check: PCR 10 of ${info.id} is not the replay of its IMA log`);
    }
    entry = 1 + 3 * (round + 1);
  }
  mtls.destroy();
  await shard.close();
  console.log(
    `fleet self-check: ${infos.length} agents × 3 quotes over mTLS verified (ECDSA P-256, alg ${TpmAlg.Ecdsa}), PCR 10 = IMA replay`,
  );
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
function progress(msg: string): void {
  console.error(`[fleet +${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

function printTable(results: readonly RunResult[], opts: Options): void {
  console.log(
    `\nfleet: quote interval ${opts.intervalSeconds} s, IMA +${opts.imaGrowth} entries/quote, ${opts.seconds} s window, ${os.cpus().length} cores, node ${process.version}`,
  );
  console.log(
    '| db | agents | attest/s (target) | p50 ms | p99 ms | late p50/p99 ms | verifier CPU | CPU µs/attest | RSS MiB (idle) | KiB/agent | DB commits/s | DB rows/s | TLS handshakes/s | simulator CPU | sim µs/quote | DB server CPU | machine busy | load 1m before→after | not PASS |',
  );
  console.log(
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  );
  for (const r of results) {
    console.log(
      `| ${r.db} | ${r.agents} | ${fmt(r.attestationsPerSecond)} (${fmt(r.target)}) | ${fmt(r.p50)}${r.latencySource === 'simulator' ? '*' : ''} | ${fmt(r.p99)}${r.latencySource === 'simulator' ? '*' : ''} | ${fmt(r.lateP50)}/${fmt(r.lateP99)} | ${fmt(r.verifierCpuPercent)}% | ${fmt(r.cpuUsPerAttestation)} | ${fmt(r.rssMiB)} (${fmt(r.idleRssMiB)}) | ${fmt(r.rssPerAgentKiB, 1)} | ${fmt(r.commitsPerSecond)} | ${fmt(r.rowsPerSecond)} ${r.rowsLabel} | ${fmt(r.handshakesPerSecond, 1)} | ${fmt(r.simulatorCpuPercent)}% | ${fmt(r.simulatorUsPerQuote)} | ${Number.isNaN(r.dbServerCpuPercent) ? '—' : `${fmt(r.dbServerCpuPercent)}%`} | ${fmt(r.machineBusyPercent)}% | ${r.loadBefore}→${r.loadAfter} | ${r.failedAgents} |`,
    );
  }
  console.log(
    "p50/p99 = time from a quote request to its verdict, from the verifier's GET /metrics histogram (interpolated inside its bucket).\n" +
      'late = time from a quote request reaching the agent to the next one, minus the quote interval: the verifier asks again one interval\n' +
      '  after its verdict (as upstream does), so this is the time to verdict plus scheduling delay, as the agent sees it.\n' +
      "  * = a verifier without GET /metrics (upstream's): p50/p99 are the lateness.",
  );
  const restarts = results.filter((r) => r.restart !== undefined);
  if (restarts.length > 0) {
    console.log(
      '\nrestart: SIGTERM to the verifier after the window, then the same command; seconds after the new process started',
    );
    console.log(
      '| db | agents | stop s | API answers s | half quoted again s | all quoted again s | all GET_QUOTE+PASS s | not PASS | retries logged | TLS handshakes | V re-sent | RSS MiB after |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of restarts) {
      const x = r.restart as RestartResult;
      console.log(
        `| ${r.db} | ${r.agents} | ${fmt(x.stopSeconds, 1)} | ${fmt(x.answeringSeconds, 1)} | ${fmt(x.halfQuotedSeconds, 1)} | ${fmt(x.allQuotedSeconds, 1)} | ${fmt(x.allPassSeconds, 1)} | ${x.notPass} | ${x.retriesLogged} | ${x.handshakes} | ${x.vkeys} | ${fmt(x.rssMiB)} |`,
      );
    }
  }
  for (const r of results) if (r.profile) console.log(`\n${r.db} N=${r.agents} ${r.profile}`);
  for (const r of results)
    if (r.simulatorProfile)
      console.log(`\n${r.db} N=${r.agents} simulator profile ${r.simulatorProfile}`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.selfCheck) {
    await selfCheck();
    return;
  }
  // dist/ may be mid-rebuild by someone else: give it a moment before giving up.
  for (
    let i = 0;
    !opts.external && i < 60 && !Object.values(BUILT).every((f) => fs.existsSync(f));
    i++
  ) {
    if (i === 0)
      progress('waiting for dist/apps/{verifier,registrar}/main.js (a build is running?)');
    await sleep(2000);
  }
  for (const f of Object.values(BUILT)) {
    if (!opts.external && !fs.existsSync(f)) {
      console.error(
        `fleet: ${path.relative(ROOT, f)} is missing; run \`npx nx build verifier registrar\` first`,
      );
      process.exit(2);
    }
  }
  const onSignal = (): void => {
    progress('interrupted: stopping everything');
    void cleanupAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: RunResult[] = [];
  for (const db of opts.dbs) {
    for (const n of opts.agents) {
      try {
        results.push(await runOnce(opts, db, n));
      } catch (e) {
        progress(`${db} N=${n} failed: ${(e as Error).message}`);
        await cleanupAll();
        process.exitCode = 1;
      }
    }
  }
  printTable(results, opts);
}

void main();
