/**
 * @module ca/cli: keylime_ca (KR keylime/ca_util.py main): `-c init|create|pkg|revoke|import-priv`
 * with `-n/--name`, `-d/--dir`, `-i/--insecure`, `-f/--file`, `-s/--serial`, plus `listen` (serve
 * the CRL over HTTP, as upstream before 7.x), `pkcs12` and `--password`.
 */
import {
  accessSync,
  constants as fsConstants,
  existsSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { loadCaConfig, resolveWorkDir } from '@keylime/config';
import type { CaConfig, Environment } from '@keylime/config';
import { UsageError, UserError, oneLineMessage } from '../tenant/errors';
import type { Reporter } from '../tenant/output';
import { askCaPassword } from '../tenant/prompt';
import { buildPkcs12 } from './pkcs12';
import { caCertPkg, caImportPriv, caInit, caMkcert, caRevoke } from './store';
import type { CaDir } from './store';

export const CA_COMMANDS = [
  'init',
  'create',
  'pkg',
  'revoke',
  'import-priv',
  'listen',
  'pkcs12',
] as const;

export interface CaArgs {
  readonly command: string;
  readonly name: string | undefined;
  readonly dir: string | undefined;
  readonly insecure: boolean;
  readonly file: string;
  readonly serial: string | undefined;
  readonly password: string | undefined;
  readonly port: string | undefined;
  readonly json: boolean;
}

/** Parses keylime_ca's options; undefined after --help. */
export function parseCaArgs(argv: readonly string[]): CaArgs | undefined {
  const program = new Command('keylime_ca')
    .description(
      'Keylime certificate authority: create and revoke certificates for agents and services',
    )
    .helpOption('-h, --help', 'show this help message and exit')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) })
    .addOption(
      new Option(
        '-c, --command <command>',
        `valid commands are ${CA_COMMANDS.join(',')}`,
      ).makeOptionMandatory(),
    )
    .addOption(new Option('-n, --name <name>', 'the common name of the certificate to create'))
    .addOption(
      new Option('-d, --dir <dir>', 'use a custom directory to store certificates and keys'),
    )
    .addOption(
      new Option(
        '-i, --insecure',
        'create cert packages with unprotected private keys and write them to disk. USE WITH CAUTION!',
      ),
    )
    .addOption(
      new Option(
        '-f, --file <path>',
        'file path of the private key of the CA cert (import-priv)',
      ).default('ca-private.pem'),
    )
    .addOption(
      new Option(
        '-s, --serial <serial>',
        'last serial number the CA has used (import-priv) or serial to revoke',
      ),
    )
    .addOption(
      new Option(
        '--password <password>',
        'the key store password (default: [ca] password, asked at a terminal when "default")',
      ),
    )
    .addOption(
      new Option('--port <port>', 'listen: the CRL port (default: the port of cert_crl_dist)'),
    )
    .addOption(new Option('--json', 'print the result as one JSON document'));
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return undefined;
      throw new UsageError(e.message);
    }
    throw e;
  }
  const o = program.opts<Record<string, unknown>>();
  const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return {
    command: s(o['command']) ?? '',
    name: s(o['name']),
    dir: s(o['dir']),
    insecure: o['insecure'] === true,
    file: s(o['file']) ?? 'ca-private.pem',
    serial: s(o['serial']),
    password: s(o['password']),
    port: s(o['port']),
    json: o['json'] === true,
  };
}

/** Upstream's default: WORK_DIR/ca, which needs read/write access to WORK_DIR. */
function workingDir(args: CaArgs, env: Environment): string {
  if (args.dir !== undefined) return path.resolve(args.dir);
  const workDir = resolveWorkDir({ env });
  try {
    accessSync(workDir, fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    throw new UserError(
      `If you don't specify a working directory, this process must be run as a user with access to ${workDir}`,
    );
  }
  return path.join(workDir, 'ca');
}

function requireName(args: CaArgs): string {
  if (args.name === undefined)
    throw new UsageError('you must pass in a name for the certificate using -n (or --name)');
  return args.name;
}

/** The CRL port: --port, else the port of cert_crl_dist (upstream CRL_PORT 38080). */
export function crlPort(args: CaArgs, config: CaConfig): number {
  const text =
    args.port ??
    (() => {
      try {
        const url = new URL(config.certCrlDist);
        return url.port || (url.protocol === 'https:' ? '443' : '80');
      } catch {
        return '38080';
      }
    })();
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`invalid port: ${text}`);
  return port;
}

/** Serves cacrl.der (read on every request, so `-c revoke` is picked up) until stopped. */
export function serveCrl(
  dir: string,
  port: number,
  host: string,
  out: Reporter,
): Promise<http.Server> {
  const crlFile = path.join(dir, 'cacrl.der');
  const server = http.createServer((req, res) => {
    out.info(
      `GET invoked from ${String(req.socket.remoteAddress)} with uri: ${req.url ?? ''}`,
      null,
    );
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    let crl: Buffer;
    try {
      crl = readFileSync(crlFile);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { 'Content-Type': 'application/pkix-crl', 'Content-Length': crl.length })
      .end(crl);
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e) =>
      reject(new UserError(`Cannot listen on port ${port}: ${oneLineMessage(e)}`)),
    );
    server.listen(port, host, () => resolve(server));
  });
}

/** Runs one keylime_ca command. */
export async function runCaCommand(args: CaArgs, env: Environment, out: Reporter): Promise<void> {
  if (!(CA_COMMANDS as readonly string[]).includes(args.command)) {
    throw new UsageError(
      `Invalid command: ${args.command} (valid commands are ${CA_COMMANDS.join(',')})`,
    );
  }
  const config = loadCaConfig({ env });
  const dir = workingDir(args, env);
  const log = { info: (m: string) => out.info(m), warn: (m: string) => out.warn(m) };
  const password = (): Promise<string> =>
    askCaPassword(args.password, config.password, (m) => out.warn(m));
  const ca = async (): Promise<CaDir> => ({ dir, password: await password(), config });
  switch (args.command) {
    case 'init':
      await caInit(await ca(), log);
      out.result({ command: 'init', dir });
      return;
    case 'create': {
      const name = requireName(args);
      const serial = await caMkcert(await ca(), name, log);
      out.result({
        command: 'create',
        dir,
        name,
        serial,
        certificate: path.join(dir, `${name}-cert.crt`),
      });
      return;
    }
    case 'pkg': {
      const name = requireName(args);
      const pkg = await caCertPkg(await ca(), name, args.insecure, log);
      out.result({
        command: 'pkg',
        dir,
        name,
        serial: pkg.serial,
        subject: pkg.subject,
        package: path.join(dir, `${name}-pkg.zip`),
      });
      return;
    }
    case 'revoke': {
      if (args.name === undefined && args.serial === undefined) {
        throw new UsageError('you must pass in a name for the certificate using -n (or --name)');
      }
      await caRevoke(
        await ca(),
        { ...(args.name !== undefined ? { name: args.name } : { serial: args.serial }) },
        log,
      );
      out.result({ command: 'revoke', dir, name: args.name ?? null, serial: args.serial ?? null });
      return;
    }
    case 'import-priv': {
      if (args.serial === undefined) {
        throw new UsageError(
          'you must pass in the last serial number the CA has used using -s (or --serial)',
        );
      }
      await caImportPriv(await ca(), path.resolve(args.file), args.serial, log);
      out.result({ command: 'import-priv', dir });
      return;
    }
    case 'pkcs12': {
      const name = requireName(args);
      const pw = await password();
      const read = (f: string): string => {
        const file = path.join(dir, f);
        if (!existsSync(file))
          throw new UserError(`${file} does not exist; run keylime_ca -c create -n ${name} first`);
        return readFileSync(file, 'utf8');
      };
      const p12 = buildPkcs12({
        certificatePem: read(`${name}-cert.crt`),
        privateKeyPem: read(`${name}-private.pem`),
        caCertificatePem: read('cacert.crt'),
        friendlyName: name,
        password: pw,
      });
      const file = path.join(dir, `${name}.p12`);
      writeFileSync(file, p12, { mode: 0o640 });
      out.info(`Created PKCS#12 file ${file} for ${name}`);
      out.result({ command: 'pkcs12', dir, name, file });
      return;
    }
    case 'listen': {
      const port = crlPort(args, config);
      const server = await serveCrl(dir, port, '', out);
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      out.info(`Hosting CRL on ${os.hostname()}:${bound}`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          out.info('TERM Signal received, shutting down...');
          server.close(() => resolve());
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      return;
    }
  }
}
