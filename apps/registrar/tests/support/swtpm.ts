/**
 * @module swtpm: a private swtpm with EK certificates from a private swtpm_localca (temp dir,
 * free ports), and tpm2-tools playing the agent's TPM side — independent of our agent code.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@keylime/persistence/src/testing';

const run = promisify(execFile);

export interface Swtpm {
  readonly dir: string;
  readonly tcti: string;
  /** PEM of the swtpm_localca certificate that signs the EK certificates. */
  readonly issuerCertPem: string;
  /** Runs a tpm2-tools command against this TPM in `dir`. */
  tpm2(tool: string, args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function which(tool: string): string {
  return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
}

export async function startSwtpm(): Promise<Swtpm> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-swtpm-'));
  const state = path.join(dir, 'state');
  const ca = path.join(dir, 'localca');
  fs.mkdirSync(state);
  fs.mkdirSync(ca);
  fs.writeFileSync(
    path.join(dir, 'localca.conf'),
    [
      `statedir = ${ca}`,
      `signingkey = ${ca}/signkey.pem`,
      `issuercert = ${ca}/issuercert.pem`,
      `certserial = ${ca}/certserial`,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'localca.options'),
    '--platform-manufacturer keylime-ts\n--platform-version 2.1\n--platform-model swtpm\n',
  );
  fs.writeFileSync(
    path.join(dir, 'setup.conf'),
    [
      `create_certs_tool = ${which('swtpm_localca')}`,
      `create_certs_tool_config = ${dir}/localca.conf`,
      `create_certs_tool_options = ${dir}/localca.options`,
      'active_pcr_banks = sha256',
      '',
    ].join('\n'),
  );
  await run('swtpm_setup', [
    '--tpm2',
    '--tpmstate',
    state,
    '--config',
    path.join(dir, 'setup.conf'),
    '--create-ek-cert',
    '--create-platform-cert',
    '--pcr-banks',
    'sha256',
    '--overwrite',
  ]);

  let port = 0;
  let ctrl = 0;
  for (let attempt = 0; ; attempt++) {
    // tpm2-tss's swtpm TCTI always uses the next port for the control channel.
    port = await freePort();
    if (port >= 65535 || !(await isFree(port + 1))) continue;
    ctrl = port + 1;
    try {
      await run('swtpm', [
        'socket',
        '--tpm2',
        '--server',
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl',
        `type=tcp,port=${ctrl},bindaddr=127.0.0.1`,
        '--tpmstate',
        `dir=${state}`,
        '--flags',
        'not-need-init,startup-clear',
        '--pid',
        `file=${dir}/swtpm.pid`,
        '--daemon',
      ]);
      break;
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const env = { ...process.env, TPM2TOOLS_TCTI: tcti };
  return {
    dir,
    tcti,
    issuerCertPem: fs.readFileSync(path.join(ca, 'issuercert.pem'), 'utf8'),
    tpm2: async (tool, args) => (await run(tool, [...args], { cwd: dir, env })).stdout,
    stop: async () => {
      await run('swtpm_ioctl', ['--tcp', `127.0.0.1:${ctrl}`, '-s']).catch(() => {
        const pid = Number(fs.readFileSync(path.join(dir, 'swtpm.pid'), 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGKILL');
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What tpm2-tools produced for one agent identity. */
export interface ToolsIdentity {
  /** TPM2B_PUBLIC of the EK and the AK (tpm2-tools "tss" format). */
  readonly ekPub: Buffer;
  readonly akPub: Buffer;
  readonly ekCertDer: Buffer;
  /** Files for this AK in the swtpm dir. */
  readonly akCtx: string;
}

/** tpm2_createek + tpm2_createak + tpm2_nvread of the RSA EK certificate. */
export async function createIdentity(tpm: Swtpm, name: string): Promise<ToolsIdentity> {
  await tpm.tpm2('tpm2_flushcontext', ['-t']);
  await tpm.tpm2('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub', '-f', 'tss']);
  await tpm.tpm2('tpm2_createak', [
    '-C',
    'ek.ctx',
    '-c',
    `${name}.ctx`,
    '-G',
    'rsa',
    '-g',
    'sha256',
    '-s',
    'rsassa',
    '-u',
    `${name}.pub`,
    '-n',
    `${name}.name`,
    '-f',
    'tss',
  ]);
  await tpm.tpm2('tpm2_flushcontext', ['-t']);
  await tpm.tpm2('tpm2_nvread', ['0x01c00002', '-o', 'ekcert.der']);
  const read = (f: string): Buffer => fs.readFileSync(path.join(tpm.dir, f));
  return {
    ekPub: read('ek.pub'),
    akPub: read(`${name}.pub`),
    ekCertDer: read('ekcert.der'),
    akCtx: `${name}.ctx`,
  };
}

/** tpm2_activatecredential with the EK's PolicySecret session; returns the credential. */
export async function activateCredential(
  tpm: Swtpm,
  identity: ToolsIdentity,
  blobB64: string,
): Promise<Buffer> {
  const blobFile = path.join(tpm.dir, 'mkcred.out');
  const outFile = path.join(tpm.dir, 'actcred.out');
  fs.writeFileSync(blobFile, Buffer.from(blobB64, 'base64'));
  await tpm.tpm2('tpm2_flushcontext', ['-t']);
  await tpm.tpm2('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa']);
  await tpm.tpm2('tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx']);
  await tpm.tpm2('tpm2_policysecret', ['-S', 'session.ctx', '-c', 'e']);
  try {
    await tpm.tpm2('tpm2_activatecredential', [
      '-c',
      identity.akCtx,
      '-C',
      'ek.ctx',
      '-i',
      blobFile,
      '-o',
      outFile,
      '-P',
      'session:session.ctx',
    ]);
  } finally {
    await tpm.tpm2('tpm2_flushcontext', ['session.ctx']).catch(() => undefined);
    await tpm.tpm2('tpm2_flushcontext', ['-t']).catch(() => undefined);
  }
  return fs.readFileSync(outFile);
}
