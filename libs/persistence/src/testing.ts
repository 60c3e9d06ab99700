/**
 * @module testing: a private PostgreSQL server for tests — initdb in a temporary directory, a free
 * port on 127.0.0.1, stopped and removed afterwards. Never touches the system cluster.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { KeylimeError, errorMessage } from '@keylime/core';
import { PersistenceErrorCode } from './errors';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** `postgresql://keylime:keylime@127.0.0.1:<port>/keylime` */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Creates another empty database owned by `keylime` and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

export interface PrivatePostgresOptions {
  /** Directory holding initdb and pg_ctl; found automatically when absent. */
  readonly binDir?: string;
  /** How long pg_ctl waits for the server to accept connections. */
  readonly startTimeoutSeconds?: number;
}

function hasTools(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'pg_ctl'));
}

function versionDirs(root: string, suffix: string): string[] {
  try {
    return fs
      .readdirSync(root)
      .filter((d) => /^\d+$/.test(d.replace(/^pgsql-/, '')))
      .sort((a, b) => Number(b.replace(/^pgsql-/, '')) - Number(a.replace(/^pgsql-/, '')))
      .map((d) => path.join(root, d, suffix));
  } catch {
    return [];
  }
}

/** Finds the directory with initdb and pg_ctl (Debian keeps them out of PATH). */
export function findPostgresBinDir(): string | undefined {
  const candidates: string[] = [];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // pg_config is optional (it ships in libpq-dev on Debian)
  }
  candidates.push(...versionDirs('/usr/lib/postgresql', 'bin'));
  candidates.push(...versionDirs('/usr', 'bin').filter((d) => d.includes('pgsql-')));
  candidates.push('/usr/local/bin', '/usr/bin', '/usr/local/pgsql/bin');
  return candidates.find((d) => d !== '' && hasTools(d));
}

/**
 * A port that was free a moment ago, for a service that another process binds later. Taken below
 * the kernel's ephemeral range: a port from listen(0) lies inside it, where the outgoing
 * connections of tests running at the same time take their local ports, and one of them can take
 * it before the service binds (seen in CI as EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  const [low, high] = portsBelowEphemeralRange();
  if (high - low < 1000) return ephemeralPort();
  // A cursor from a random start: a process never hands out one port twice (its services may not
  // have bound the last one yet), and processes running at once start far apart.
  portCursor ??= Math.floor(Math.random() * (high - low));
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + (portCursor++ % (high - low));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${low}–${high - 1}`);
}

let portCursor: number | undefined;

/** [low, high): up to 12 000 ports just below the ephemeral range (32768–60999 by default). */
function portsBelowEphemeralRange(): [number, number] {
  let ephemeralLow = 32_768;
  try {
    const v = Number(
      fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    if (Number.isInteger(v) && v > 0) ephemeralLow = v;
  } catch {
    // not Linux: keep the usual default
  }
  return [Math.max(10_000, ephemeralLow - 12_000), ephemeralLow];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
}

/** initdb refuses to run as root: when root, run the server as the `postgres` (or `nobody`) user. */
function unprivilegedUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      if (Number.isInteger(uid) && uid > 0) return { uid, gid };
    } catch {
      // try the next candidate
    }
  }
  throw new KeylimeError(
    PersistenceErrorCode.TestServer,
    'running as root and neither a "postgres" nor a "nobody" user exists to run PostgreSQL',
  );
}

async function sql(port: number, statements: readonly string[]): Promise<void> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}

/** Starts a private PostgreSQL; call `stop()` in afterAll. */
export async function startPrivatePostgres(
  options: PrivatePostgresOptions = {},
): Promise<PrivatePostgres> {
  const binDir = options.binDir ?? findPostgresBinDir();
  if (!binDir) {
    throw new KeylimeError(
      PersistenceErrorCode.TestServer,
      'PostgreSQL server tools (initdb, pg_ctl) not found; run tools/setup-system.sh',
    );
  }
  const as = unprivilegedUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  if (as.uid !== undefined) fs.chownSync(dir, as.uid, as.gid ?? as.uid);
  const exec = (tool: string, args: string[]) =>
    run(path.join(binDir, tool), args, {
      ...as,
      cwd: dir,
      env: { PATH: '/usr/bin:/bin', LANG: 'C' },
    });

  const fail = async (what: string, e: unknown): Promise<never> => {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2000) : '';
    await exec('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
    throw new KeylimeError(
      PersistenceErrorCode.TestServer,
      `private PostgreSQL: ${what} failed: ${errorMessage(e)}${log ? `\n${log}` : ''}`,
      { cause: e },
    );
  };

  try {
    await exec('initdb', [
      '-D',
      dataDir,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
    ]);
  } catch (e) {
    return fail('initdb', e);
  }

  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    // Tests need no durability; skipping fsync keeps the suite fast.
    const serverOptions = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=100',
    ].join(' ');
    try {
      await exec('pg_ctl', [
        '-D',
        dataDir,
        '-o',
        serverOptions,
        '-l',
        logFile,
        '-w',
        '-t',
        String(options.startTimeoutSeconds ?? 30),
        'start',
      ]);
      break;
    } catch (e) {
      // Another process may have taken the port between the probe and the bind.
      if (attempt >= 2) return fail('pg_ctl start', e);
    }
  }

  try {
    await sql(port, [
      "CREATE ROLE keylime LOGIN PASSWORD 'keylime'",
      'CREATE DATABASE keylime OWNER keylime',
    ]);
  } catch (e) {
    return fail('creating the keylime database', e);
  }

  let stopped = false;
  return {
    url: `postgresql://keylime:keylime@127.0.0.1:${port}/keylime`,
    port,
    dir,
    createDatabase: async (name: string) => {
      if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) throw new Error(`bad database name ${name}`);
      await sql(port, [`CREATE DATABASE ${name} OWNER keylime`]);
      return `postgresql://keylime:keylime@127.0.0.1:${port}/${name}`;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await exec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() =>
        exec('pg_ctl', ['-D', dataDir, '-m', 'immediate', 'stop']).catch(() => undefined),
      );
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
