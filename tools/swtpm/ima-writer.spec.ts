/** @module tools/swtpm/ima-writer.spec: lines written by the tool parse and replay with @keylime/ima; PCR 10 on swtpm matches. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseImaEntry } from '@keylime/ima';
import { Tpm, readPcrs } from '@keylime/tpm-device';
import { startSwtpm } from '@keylime/tpm-device/src/testing';
import type { SwtpmInstance } from '@keylime/tpm-device/src/testing';
import { appendImaMeasurements, imaNgLine } from './ima-writer';
import { createHash } from 'node:crypto';

test('boot_aggregate line matches the verified upstream example (verifier.md §4.2)', () => {
  const digest = Buffer.from(
    'f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3',
    'hex',
  );
  expect(imaNgLine({ path: 'boot_aggregate', digest })).toBe(
    `10 6309e2c83b7814367bb3912a55e5473454623535 ima-ng sha256:${digest.toString('hex')} boot_aggregate\n`,
  );
});

describe('on swtpm', () => {
  let swtpm: SwtpmInstance;
  let dir: string;
  beforeAll(async () => {
    swtpm = await startSwtpm({ ekCerts: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-ima-writer-'));
  }, 60_000);
  afterAll(async () => {
    await swtpm.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('PCR 10 equals the replay of the written lines in both banks', async () => {
    const tpm = Tpm.open(swtpm.tcti);
    const file = path.join(dir, 'ascii_runtime_measurements');
    const lines = await appendImaMeasurements({
      tpm,
      file,
      measurements: [
        { path: 'boot_aggregate' },
        { path: '/usr/bin/bash' },
        { path: '/etc/with space' },
      ],
    });
    expect(fs.readFileSync(file, 'utf8')).toBe(lines.join(''));
    const pcrs = await readPcrs(tpm, [
      { hashAlg: 0x0004, pcrs: [10] },
      { hashAlg: 0x000b, pcrs: [10] },
    ]);
    for (const [bank, alg, size] of [
      ['sha1', 0, 20],
      ['sha256', 1, 32],
    ] as const) {
      let pcr = Buffer.alloc(size);
      for (const line of lines) {
        const entry = parseImaEntry(line.replace(/\n$/, ''));
        if ('error' in entry) throw new Error(entry.error);
        const value = createHash(bank).update(entry.templateData).digest();
        pcr = createHash(bank)
          .update(Buffer.concat([pcr, value]))
          .digest();
      }
      expect(Buffer.from(pcrs.banks[alg]!.values[0]!.digest)).toEqual(pcr);
    }
  }, 30_000);
});
