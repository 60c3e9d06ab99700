/**
 * @module boot-from-eventlog: "boots" a fresh swtpm from a real UEFI event log by extending its PCRs
 * with the log's digests, so quotes match the log (tests and the demo). PCRs 0–15 cannot be reset,
 * so the swtpm must be fresh. A log with a StartupLocality event (spec §5.2) needs the TPM started
 * at that locality: start swtpm with `--flags not-need-init,startup-none` and pass `--ctrl`; this
 * tool then sets the locality on the control channel and sends TPM2_Startup(CLEAR) itself.
 *
 *   node -r @swc-node/register tools/swtpm/boot-from-eventlog.ts --tcti swtpm:host=127.0.0.1,port=P \
 *     --eventlog FILE [--ctrl 127.0.0.1:P+1] [--banks sha256,sha1] [--verify]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { toHex } from '@keylime/core';
import { EventType, bankName, parseEventLog, replayEventLog } from '@keylime/mba';
import type { BankName, EventLog } from '@keylime/mba';

interface Options {
  readonly tcti: string;
  readonly eventlog: string;
  readonly ctrl: string | undefined;
  readonly banks: readonly BankName[] | undefined;
  readonly verify: boolean;
}

/** Extends per tpm2_pcrextend call; keeps command lines short while avoiding one process per event. */
const BATCH = 16;

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      tcti: { type: 'string' },
      eventlog: { type: 'string' },
      ctrl: { type: 'string' },
      banks: { type: 'string' },
      verify: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.tcti === undefined || values.eventlog === undefined)
    throw new Error('--tcti and --eventlog are required');
  const banks = values.banks?.split(',').map((b) => {
    if (b !== 'sha1' && b !== 'sha256' && b !== 'sha384' && b !== 'sha512')
      throw new Error(`unsupported bank ${b}`);
    return b;
  });
  return {
    tcti: values.tcti,
    eventlog: values.eventlog,
    ctrl: values.ctrl,
    banks,
    verify: values.verify === true,
  };
}

function tpm2(tool: string, args: readonly string[], tcti: string): string {
  try {
    return execFileSync(tool, [...args], {
      env: { ...process.env, TPM2TOOLS_TCTI: tcti },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? '';
    throw new Error(
      `${tool} ${args.join(' ').slice(0, 80)} failed: ${stderr.trim().split('\n')[0] ?? String(e)}`,
    );
  }
}

/** Banks the TPM has allocated, from `tpm2_pcrread` (headers like "  sha256:"). */
function allocatedBanks(tcti: string): Set<string> {
  const out = tpm2('tpm2_getcap', ['pcrs'], tcti);
  const banks = new Set<string>();
  for (const m of out.matchAll(
    /^\s*-\s*(sha1|sha256|sha384|sha512|sm3_256)\s*:\s*\[([^\]]*)\]/gm,
  )) {
    if ((m[2] ?? '').trim() !== '') banks.add(m[1] ?? '');
  }
  return banks;
}

/** Reads PCRs 0–23 of `bank` with tpm2_pcrread. */
function readPcrs(tcti: string, bank: BankName): Map<number, string> {
  const out = tpm2('tpm2_pcrread', [`${bank}:all`], tcti);
  const values = new Map<number, string>();
  for (const m of out.matchAll(/^\s*(\d+)\s*:\s*0x([0-9A-Fa-f]+)/gm))
    values.set(Number(m[1]), (m[2] ?? '').toLowerCase());
  return values;
}

/** TPM2_Startup(CLEAR) at the locality set on the control channel (raw, so no TCTI resets the locality). */
async function startupAtLocality(tcti: string, ctrl: string, locality: number): Promise<void> {
  const data = /host=([^,]+),port=(\d+)/.exec(tcti);
  if (data === null) throw new Error('StartupLocality needs a swtpm:host=…,port=… TCTI');
  const [ctrlHost, ctrlPort] = ctrl.split(':');
  execFileSync('swtpm_ioctl', [
    '--tcp',
    `${ctrlHost ?? '127.0.0.1'}:${ctrlPort ?? ''}`,
    '-l',
    String(locality),
  ]);
  const response = await new Promise<Buffer>((resolve, reject) => {
    const sock = connect(Number(data[2]), data[1] ?? '127.0.0.1', () => {
      sock.write(Buffer.from('80010000000c000001440000', 'hex'));
    });
    sock.once('data', (b) => {
      // Close fully: swtpm serves the control channel only once the data client is gone.
      sock.destroy();
      resolve(b);
    });
    sock.once('error', reject);
  });
  execFileSync('swtpm_ioctl', ['--tcp', `${ctrlHost ?? '127.0.0.1'}:${ctrlPort ?? ''}`, '-l', '0']);
  const rc = response.readUInt32BE(6);
  if (rc !== 0)
    throw new Error(
      `TPM2_Startup at locality ${locality} failed: rc 0x${rc.toString(16)} (start swtpm with --flags not-need-init,startup-none)`,
    );
}

function extendAll(log: EventLog, banks: readonly BankName[], tcti: string): number {
  const specs: string[] = [];
  for (const ev of log.events) {
    if (ev.eventType === EventType.EV_NO_ACTION) continue;
    const parts = ev.digests
      .filter((d) => banks.includes(bankName(d.algId) as BankName))
      .map((d) => `${d.alg}=${toHex(d.digest)}`);
    if (parts.length > 0) specs.push(`${ev.pcrIndex}:${parts.join(',')}`);
  }
  for (let i = 0; i < specs.length; i += BATCH)
    tpm2('tpm2_pcrextend', specs.slice(i, i + BATCH), tcti);
  return specs.length;
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv);
  const log = parseEventLog(new Uint8Array(readFileSync(opts.eventlog)));
  const replay = replayEventLog(log);
  const locality = replay.startupLocality ?? 0;
  if (locality > 0) {
    if (opts.ctrl === undefined) {
      throw new Error(
        `the log starts at locality ${locality}: start swtpm with --flags not-need-init,startup-none and pass --ctrl host:port`,
      );
    }
    await startupAtLocality(opts.tcti, opts.ctrl, locality);
  }
  const allocated = allocatedBanks(opts.tcti);
  const logBanks = [...replay.banks.keys()];
  const banks = (opts.banks ?? logBanks).filter((b) => logBanks.includes(b) && allocated.has(b));
  if (banks.length === 0)
    throw new Error(
      `no bank in both the log (${logBanks.join(',')}) and the TPM (${[...allocated].join(',')})`,
    );
  for (const b of allocated)
    if (!logBanks.includes(b as BankName))
      process.stderr.write(
        `boot-from-eventlog: warning: the TPM's ${b} bank is not in the log; its PCRs stay unextended\n`,
      );
  const n = extendAll(log, banks, opts.tcti);
  process.stdout.write(`extended ${n} event(s) into ${banks.join(',')} from ${opts.eventlog}\n`);
  if (!opts.verify) return 0;
  let bad = 0;
  for (const bank of banks) {
    const tpm = readPcrs(opts.tcti, bank);
    const expected = replay.banks.get(bank);
    for (const pcr of expected?.used ?? []) {
      const want = toHex(expected?.pcrs[pcr] ?? new Uint8Array());
      if (tpm.get(pcr) !== want) {
        bad++;
        process.stderr.write(
          `boot-from-eventlog: ${bank} PCR ${pcr}: TPM ${tpm.get(pcr) ?? '?'} != log ${want}\n`,
        );
      }
    }
  }
  process.stdout.write(
    bad === 0 ? 'PCRs match the log replay\n' : `${bad} PCR(s) differ from the log replay\n`,
  );
  return bad === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`boot-from-eventlog: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
