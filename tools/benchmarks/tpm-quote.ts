/**
 * @module tpm-quote: quotes per second through @keylime/tpm-device beside tpm2_quote invocations,
 * on a private swtpm this benchmark starts and stops. Run: `tools/bench tpm-quote [seconds]`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { TpmAlg } from '@keylime/tpm';
import { Tpm, createAk, createEk, listLoadedHandles, quote } from '@keylime/tpm-device';
import type { PcrSelection } from '@keylime/tpm-device';
import { startSwtpm, tpm2 } from '../../libs/tpm-device/src/testing';
import { quote as quoteCommand } from '../../libs/tpm-device/src/commands/attest';
import { loadAkIn } from '../../libs/tpm-device/src/ak';

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? '3');
const PCRS: PcrSelection = [{ hashAlg: TpmAlg.Sha256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 10, 16] }];
const TOOL_PCRS = 'sha256:0,1,2,3,4,5,6,7,10,16';
const AK_PERSISTENT = '0x81000100';

/** Runs `once` repeatedly for `seconds` and returns { count, perSecond, msEach }. */
async function measure(
  once: (i: number) => Promise<unknown>,
): Promise<{ count: number; perSecond: number; msEach: number }> {
  await once(-1); // warm-up
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let count = 0;
  while (performance.now() < end) await once(count++);
  const elapsed = (performance.now() - start) / 1000;
  return { count, perSecond: count / elapsed, msEach: (elapsed * 1000) / count };
}

function line(label: string, m: { count: number; perSecond: number; msEach: number }): string {
  return `${label.padEnd(58)} ${m.perSecond.toFixed(1).padStart(8)} quotes/s  ${m.msEach.toFixed(2).padStart(7)} ms each  (n=${m.count})`;
}

async function main(): Promise<void> {
  const sw = await startSwtpm({ ekCerts: false });
  try {
    const tpm = Tpm.open(sw.tcti);
    const ek = await createEk(tpm, 'rsa2048');
    const ak = await createAk(tpm, { ek });
    const nonce = new TextEncoder().encode('benchmarknonce0123456789');
    const { stdout: version } = await run('tpm2_quote', ['--version']);

    console.log(
      `tpm-quote: RSA-2048 EK, RSASSA-SHA256 AK, ${TOOL_PCRS}, ${seconds} s per row, one run`,
    );
    console.log(`swtpm 0.7 on 127.0.0.1:${sw.port}; ${version.trim()}`);

    // What the agent does per request: connect, ContextLoad the AK, read PCRs, quote, flush, close.
    const full = await measure(() => quote(tpm, { ek, ak, nonce, pcrs: PCRS }));
    console.log(line('@keylime/tpm-device quote() per request (saved AK context)', full));

    // The same after a TPM reset every time: re-create the EK, policy session, Load the AK.
    const cold = await measure(() => quote(Tpm.open(sw.tcti), { ek, ak, nonce, pcrs: PCRS }));
    console.log(line('@keylime/tpm-device quote() per request (cold: EK + Load)', cold));

    // The command layer alone: AK loaded once, TPM2_Quote in a loop on one connection.
    const raw = await tpm.run(async (op) => {
      const akHandle = await loadAkIn(op, { ek, ak });
      return measure(() => op.execute(quoteCommand(akHandle, nonce, PCRS)));
    });
    console.log(line('@keylime/tpm-device TPM2_Quote command (AK kept loaded)', raw));

    // tpm2-tools: one process per quote. A context file would leave objects loaded (swtpm has no
    // resource manager), so the tools' AK is made persistent for the run and evicted after.
    await tpm2(sw, 'createek', ['-G', 'rsa', '-c', 'ek.ctx']);
    await tpm2(sw, 'createak', [
      '-C',
      'ek.ctx',
      '-c',
      'ak.ctx',
      '-G',
      'rsa',
      '-g',
      'sha256',
      '-s',
      'rsassa',
    ]);
    await tpm2(sw, 'flushcontext', ['-t']);
    await tpm2(sw, 'evictcontrol', ['-C', 'o', '-c', 'ak.ctx', AK_PERSISTENT]);
    await tpm2(sw, 'flushcontext', ['-t']);
    const args = [
      '-c',
      AK_PERSISTENT,
      '-l',
      TOOL_PCRS,
      '-q',
      '00112233',
      '-m',
      'msg',
      '-s',
      'sig',
      '-o',
      'pcrs',
      '-g',
      'sha256',
    ];
    const tools = await measure(() => tpm2(sw, 'quote', args));
    console.log(line('tpm2_quote invocations (process per quote, persistent AK)', tools));
    await tpm2(sw, 'evictcontrol', ['-C', 'o', '-c', AK_PERSISTENT]);

    const left = await listLoadedHandles(tpm);
    console.log(
      `handles left loaded afterwards: ${left.length === 0 ? 'none' : left.map((h) => h.toString(16)).join(' ')}`,
    );
  } finally {
    await sw.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
