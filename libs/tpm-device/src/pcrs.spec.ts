import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { hasErrorCode, toHex } from '@keylime/core';
import { getPcrBanks, getRandomBytes, listLoadedHandles, startupTpm } from './capabilities';
import { execute } from './command';
import { getRandom } from './commands/basic';
import { flushContext, readPublic } from './commands/object';
import { TpmAlg } from './constants';
import { TpmDeviceErrorCode } from './errors';
import { extendPcr, readPcrs, resetPcr } from './pcrs';
import { TpmResponseError } from './response-code';
import type { SwtpmInstance } from './testing/swtpm';
import { startSwtpm, tpm2 } from './testing/swtpm';
import { Tpm } from './tpm';
import { DeviceTransport } from './transport/device-transport';
import { SwtpmTransport } from './transport/swtpm-transport';

/** Parses `tpm2_pcrread` output into bank name → PCR → hex. */
function parsePcrread(text: string): Record<string, Record<number, string>> {
  const out: Record<string, Record<number, string>> = {};
  let bank: Record<number, string> | undefined;
  for (const line of text.split('\n')) {
    const header = /^\s*(sha\d+):\s*$/.exec(line);
    if (header) out[header[1]!] = bank = {};
    const value = /^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)/.exec(line);
    if (value && bank) bank[Number(value[1])] = value[2]!.toLowerCase();
  }
  return out;
}

const ALL_PCRS = Array.from({ length: 24 }, (_, i) => i);

describe('TPM transport and PCR commands on swtpm', () => {
  let sw: SwtpmInstance;
  let tpm: Tpm;

  beforeAll(async () => {
    sw = await startSwtpm({ ekCerts: false });
    tpm = Tpm.open(sw.tcti, { timeoutMs: 10_000 });
  }, 30_000);

  afterAll(async () => {
    await tpm?.transport.close();
    await sw?.stop();
  });

  afterEach(async () => {
    // Hygiene: nothing transient or session-like stays loaded after any test.
    expect(await listLoadedHandles(tpm)).toEqual([]);
  });

  it('answers Startup with TPM_RC_INITIALIZE (already started) and gives random bytes', async () => {
    expect(await startupTpm(tpm)).toBe(false);
    const bytes = await getRandomBytes(tpm, 100);
    expect(bytes.length).toBe(100);
    expect(new Set(bytes).size).toBeGreaterThan(20);
  });

  it('lists the allocated PCR banks', async () => {
    const banks = await getPcrBanks(tpm);
    expect(banks.map((b) => b.hashAlg)).toEqual([TpmAlg.Sha1, TpmAlg.Sha256]);
    expect(banks[0]!.pcrs).toEqual(ALL_PCRS);
  });

  it('reads all 24 PCRs of two banks (8 per call) exactly as tpm2_pcrread does', async () => {
    await extendPcr(tpm, 7, [
      { hashAlg: TpmAlg.Sha1, digest: createHash('sha1').update('seven').digest() },
      { hashAlg: TpmAlg.Sha256, digest: createHash('sha256').update('seven').digest() },
    ]);
    const ours = await readPcrs(tpm, [
      { hashAlg: TpmAlg.Sha1, pcrs: ALL_PCRS },
      { hashAlg: TpmAlg.Sha256, pcrs: ALL_PCRS },
    ]);
    const theirs = parsePcrread(await tpm2(sw, 'pcrread', ['sha1:all+sha256:all']));
    for (const [name, alg] of [
      ['sha1', TpmAlg.Sha1],
      ['sha256', TpmAlg.Sha256],
    ] as const) {
      const bank = ours.banks.find((b) => b.hashAlg === alg)!;
      expect(bank.values.map((v) => v.pcr)).toEqual(ALL_PCRS);
      const mine = Object.fromEntries(bank.values.map((v) => [v.pcr, toHex(v.digest)]));
      expect(mine).toEqual(theirs[name]);
    }
    expect(toHex(ours.banks[1]!.values[7]!.digest)).not.toBe('00'.repeat(32));
  });

  it('extends like the spec says and resets PCR 16', async () => {
    const before = await readPcrs(tpm, [{ hashAlg: TpmAlg.Sha256, pcrs: [16] }]);
    const d = createHash('sha256').update('keylime').digest();
    await extendPcr(tpm, 16, [{ hashAlg: TpmAlg.Sha256, digest: d }]);
    const after = await readPcrs(tpm, [{ hashAlg: TpmAlg.Sha256, pcrs: [16] }]);
    const expected = createHash('sha256')
      .update(before.banks[0]!.values[0]!.digest)
      .update(d)
      .digest();
    expect(toHex(after.banks[0]!.values[0]!.digest)).toBe(toHex(expected));
    await resetPcr(tpm, 16);
    const reset = await readPcrs(tpm, [{ hashAlg: TpmAlg.Sha256, pcrs: [16] }]);
    expect(toHex(reset.banks[0]!.values[0]!.digest)).toBe('00'.repeat(32));
  });

  it('reports a bank the TPM does not have', async () => {
    await expect(readPcrs(tpm, [{ hashAlg: TpmAlg.Sha384, pcrs: [0] }])).rejects.toThrow(
      /bank\(s\) 0xc not available/,
    );
  });

  it('turns TPM errors into named TpmResponseErrors', async () => {
    const e = await tpm.run((op) => op.execute(readPublic(0x80000010))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TpmResponseError);
    // libtpms answers an unloaded transient handle with TPM_RC_VALUE + handle 1 (0x184).
    expect(e).toMatchObject({
      rcName: 'TPM_RC_VALUE',
      handle: 1,
      format: 1,
      command: 'TPM2_ReadPublic',
    });
    expect((e as TpmResponseError).message).toMatch(
      /^TPM2_ReadPublic failed: TPM_RC_VALUE \(0x184\) on handle 1/,
    );
    const flush = await tpm
      .run((op) => op.execute(flushContext(0x80ffffff)))
      .catch((x: unknown) => x);
    expect(flush).toMatchObject({ rcName: 'TPM_RC_VALUE', parameter: 1 });
    const locality = await resetPcr(tpm, 0).catch((x: unknown) => x);
    expect((locality as TpmResponseError).rcName).toBe('TPM_RC_LOCALITY');
  });

  it('serialises concurrent commands on one transport', async () => {
    const transport = new SwtpmTransport({ kind: 'swtpm', host: sw.host, port: sw.port });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => execute(transport, getRandom(8))),
    );
    expect(results.every((r) => r.length === 8)).toBe(true);
    await transport.close();
  });

  it('holds no connection between operations, so tpm2-tools can use the TPM meanwhile', async () => {
    await getRandomBytes(tpm, 4);
    // swtpm serves one connection at a time: this would hang if our connection were still open.
    const out = await tpm2(sw, 'getrandom', ['--hex', '4']);
    expect(out).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('transport failures', () => {
  let silent: Server;
  let port: number;
  const accepted: Socket[] = [];

  beforeAll(async () => {
    silent = createServer((s) => accepted.push(s)); // accepts and never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    port = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of accepted) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('times out a TPM that never answers', async () => {
    const t = new SwtpmTransport({ kind: 'swtpm', host: '127.0.0.1', port }, { timeoutMs: 200 });
    const e = await execute(t, getRandom(8)).catch((x: unknown) => x);
    expect(hasErrorCode(e, TpmDeviceErrorCode.Timeout)).toBe(true);
    await t.close();
  });

  it('reports a missing TPM device as an I/O error naming the path', async () => {
    const t = new DeviceTransport({ kind: 'device', path: '/nonexistent/tpmrm9' });
    const e = await execute(t, getRandom(8)).catch((x: unknown) => x);
    expect(hasErrorCode(e, TpmDeviceErrorCode.Io)).toBe(true);
    expect((e as Error).message).toMatch(/^cannot open \/nonexistent\/tpmrm9: ENOENT/);
    await t.close();
  });

  it('reports a refused connection as an I/O error naming the TPM', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const p = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const t = new SwtpmTransport({ kind: 'swtpm', host: '127.0.0.1', port: p });
    const e = await execute(t, getRandom(8)).catch((x: unknown) => x);
    expect(hasErrorCode(e, TpmDeviceErrorCode.Io)).toBe(true);
    expect((e as Error).message).toMatch(`cannot connect to swtpm:host=127.0.0.1,port=${p}`);
  });
});
