/**
 * @module swtpm.spec: cross-checks against a real TPM: swtpm on free ports in a fresh state dir, driven by tpm2-tools
 * (guide/toolchain.md §8). Quotes made by tpm2_quote must verify with our code; credentials made by our
 * MakeCredential must be recovered by tpm2_activatecredential, for RSA and ECC.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomCredential, makeCredentialBlob } from './credential';
import { TpmAlg } from './constants';
import { decodeTpm2bPublic, objectName } from './public';
import { tpmPublicToPem } from './keys';
import { prepareQuoteKey, verifyQuote } from './quote';
import type { QuoteVerificationKey } from './quote';
import { formatQuoteString } from './quote-string';
import { decodePcrBlob } from './pcr-blob';

jest.setTimeout(20_000);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port P with P+1 also free: the swtpm TCTI expects the control channel on P+1. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const addr = s.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        s.close(() => resolve(p));
      });
    });
    if (port < 65535 && (await canListen(port + 1))) return port;
  }
  throw new Error('no free port pair');
}

let dir = '';
let swtpm: ChildProcess | undefined;
let env: NodeJS.ProcessEnv = {};

function tool(name: string, ...args: string[]): string {
  return execFileSync(name, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function file(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(dir, name)));
}

function flush(): void {
  tool('tpm2_flushcontext', '-t');
}

async function waitForTpm(): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      tool('tpm2_getrandom', '4');
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keylime-tpm-'));
  const port = await freePortPair();
  mkdirSync(join(dir, 'state'));
  swtpm = spawn(
    'swtpm',
    [
      'socket',
      '--tpm2',
      '--server',
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      '--tpmstate',
      `dir=${join(dir, 'state')}`,
      '--flags',
      'not-need-init,startup-clear',
    ],
    { stdio: 'ignore' },
  );
  env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` };
  await waitForTpm();
  for (const kind of ['rsa', 'ecc']) {
    tool('tpm2_createek', '-G', kind, '-c', `ek_${kind}.ctx`, '-u', `ek_${kind}.pub`);
    flush();
    const scheme = kind === 'rsa' ? 'rsassa' : 'ecdsa';
    tool(
      'tpm2_createak',
      '-C',
      `ek_${kind}.ctx`,
      '-G',
      kind,
      '-g',
      'sha256',
      '-s',
      scheme,
      '-c',
      `ak_${kind}.ctx`,
      '-u',
      `ak_${kind}.pub`,
      '-n',
      `ak_${kind}.name`,
    );
    flush();
  }
  // Make PCR 16 non-trivial, as the agent does with its NK (verifier §3.4).
  tool('tpm2_pcrextend', `16:sha256=${'ab'.repeat(32)}`);
});

afterAll(() => {
  if (swtpm?.pid !== undefined) swtpm.kill('SIGTERM');
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function quote(
  kind: 'rsa' | 'ecc',
  pcrs: string,
  nonce: string,
): { attest: Uint8Array; signature: Uint8Array; pcrBlob: Uint8Array } {
  tool(
    'tpm2_quote',
    '-c',
    `ak_${kind}.ctx`,
    '-l',
    `sha256:${pcrs}`,
    '-q',
    Buffer.from(nonce).toString('hex'),
    '-m',
    `${kind}.msg`,
    '-s',
    `${kind}.sig`,
    '-o',
    `${kind}.pcrs`,
    '-g',
    'sha256',
  );
  flush();
  return {
    attest: file(`${kind}.msg`),
    signature: file(`${kind}.sig`),
    pcrBlob: file(`${kind}.pcrs`),
  };
}

function expectAllCorruptionsRejected(
  parts: ReturnType<typeof quote>,
  ak: QuoteVerificationKey,
  nonce: string,
): void {
  for (const which of ['attest', 'signature', 'pcrBlob'] as const) {
    for (let i = 0; i < parts[which].length; i++) {
      const bad = new Uint8Array(parts[which]);
      bad[i] = bad[i]! ^ 0x01;
      const v = verifyQuote({ ...parts, [which]: bad }, { ak, nonce, hashAlg: 'sha256' });
      if (v.ok) throw new Error(`${which} byte ${i} corruption accepted`);
    }
  }
}

describe.each(['rsa', 'ecc'] as const)('swtpm + tpm2-tools, %s', (kind) => {
  it('AK public area: our Name equals tpm2_createak -n, our PEM equals tpm2_readpublic -f pem', () => {
    const ak = decodeTpm2bPublic(file(`ak_${kind}.pub`));
    expect(ak.value.type).toBe(kind === 'rsa' ? TpmAlg.Rsa : TpmAlg.Ecc);
    expect(objectName(ak)).toEqual(file(`ak_${kind}.name`));
    tool('tpm2_readpublic', '-c', `ak_${kind}.ctx`, '-f', 'pem', '-o', `ak_${kind}.pem`);
    flush();
    expect(tpmPublicToPem(ak.value)).toBe(readFileSync(join(dir, `ak_${kind}.pem`), 'utf8'));
  });

  it('tpm2_quote output verifies, as a quote string too, and every corruption is rejected', () => {
    const ak = prepareQuoteKey(file(`ak_${kind}.pub`));
    const nonce = `nonce${kind}0123456789`;
    // 10 PCRs: two TPML_DIGEST records in the blob (1200 bytes).
    const parts = quote(kind, '0,1,2,3,4,5,6,7,10,16', nonce);
    expect(parts.pcrBlob.length).toBe(1200);
    const v = verifyQuote(formatQuoteString(parts), { ak, nonce, hashAlg: 'sha256' });
    if (!v.ok) throw new Error(JSON.stringify(v.failure));
    expect([...v.value.pcrs.keys()]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 10, 16]);
    const pcr16 = tool('tpm2_pcrread', 'sha256:16')
      .match(/0x([0-9A-F]{64})/)?.[1]
      ?.toLowerCase();
    expect(v.value.pcrs.get(16)).toBe(pcr16);
    expect(decodePcrBlob(parts.pcrBlob).digests.length).toBe(2);
    expect(verifyQuote(parts, { ak, nonce: 'other', hashAlg: 'sha256' }).ok).toBe(false);
    expectAllCorruptionsRejected(quote(kind, '16', nonce), ak, nonce);
  });

  it('tpm2_activatecredential recovers the secret from our MakeCredential blob', () => {
    const ek = decodeTpm2bPublic(file(`ek_${kind}.pub`));
    const ak = decodeTpm2bPublic(file(`ak_${kind}.pub`));
    const { credential } = randomCredential();
    writeFileSync(join(dir, `cred_${kind}.blob`), makeCredentialBlob(ek, ak, credential));
    tool('tpm2_startauthsession', '--policy-session', '-S', 'session.ctx');
    tool('tpm2_policysecret', '-S', 'session.ctx', '-c', 'e');
    tool(
      'tpm2_activatecredential',
      '-c',
      `ak_${kind}.ctx`,
      '-C',
      `ek_${kind}.ctx`,
      '-i',
      `cred_${kind}.blob`,
      '-o',
      `act_${kind}.out`,
      '-P',
      'session:session.ctx',
    );
    tool('tpm2_flushcontext', 'session.ctx');
    flush();
    expect(Buffer.from(file(`act_${kind}.out`)).toString()).toBe(
      Buffer.from(credential).toString(),
    );
  });
});
