/**
 * @module tcti: strict parser for tpm2-tss style TCTI strings (`swtpm:host=H,port=P`,
 * `device:/dev/tpmrm0`), the way the agent names its TPM in agent.conf or the `TCTI` variable.
 */
import { TpmDeviceError, TpmDeviceErrorCode } from './errors';

/** swtpm's raw command port over TCP (no resource manager behind it). */
export interface SwtpmTcti {
  readonly kind: 'swtpm';
  readonly host: string;
  readonly port: number;
}

/** A Linux TPM character device; `/dev/tpmrm0` is the resource-managed one. */
export interface DeviceTcti {
  readonly kind: 'device';
  readonly path: string;
}

export type TctiConfig = SwtpmTcti | DeviceTcti;

/** tpm2-tss defaults for swtpm; our device default is the resource manager (design.md). */
export const DEFAULT_SWTPM_HOST = 'localhost';
export const DEFAULT_SWTPM_PORT = 2321;
export const DEFAULT_DEVICE_PATH = '/dev/tpmrm0';

/** The environment variables consulted by tctiFromEnvironment, in order. */
export const TCTI_ENV_VARIABLES = ['TCTI', 'TPM2TOOLS_TCTI', 'TEST_TCTI'] as const;

// The short name, the tpm2-tss module name and the shared-library name all select a TCTI.
const NAMES: Readonly<Record<string, TctiConfig['kind']>> = {
  swtpm: 'swtpm',
  'tcti-swtpm': 'swtpm',
  'libtss2-tcti-swtpm.so': 'swtpm',
  'libtss2-tcti-swtpm.so.0': 'swtpm',
  device: 'device',
  'tcti-device': 'device',
  'libtss2-tcti-device.so': 'device',
  'libtss2-tcti-device.so.0': 'device',
};

const HINTS: Readonly<Record<string, string>> = {
  mssim: '; swtpm answers raw commands, use swtpm:host=H,port=P',
  tabrmd: '; talk to the kernel resource manager with device:/dev/tpmrm0',
  abrmd: '; talk to the kernel resource manager with device:/dev/tpmrm0',
};

/**
 * Parses `name[:conf]`. Anything not understood is an error naming the problem, never a guess:
 * a typo in the TPM address must not silently select another TPM.
 */
export function parseTcti(text: string): TctiConfig {
  const s = text.trim();
  if (s === '') fail(text, 'empty TCTI string');
  const colon = s.indexOf(':');
  const name = colon < 0 ? s : s.slice(0, colon);
  const conf = colon < 0 ? '' : s.slice(colon + 1);
  const kind = NAMES[name];
  if (kind === undefined) {
    fail(text, `unsupported TCTI '${name}' (supported: swtpm, device)${HINTS[name] ?? ''}`);
  }
  return kind === 'swtpm' ? parseSwtpm(text, conf) : parseDevice(text, conf);
}

function parseSwtpm(text: string, conf: string): SwtpmTcti {
  let host = DEFAULT_SWTPM_HOST;
  let port = DEFAULT_SWTPM_PORT;
  if (conf === '') return { kind: 'swtpm', host, port };
  const seen = new Set<string>();
  for (const item of conf.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) fail(text, `expected key=value, got '${item}'`);
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (seen.has(key)) fail(text, `'${key}' given twice`);
    seen.add(key);
    if (key === 'host') {
      if (!/^[^\s,=]+$/.test(value)) fail(text, `bad host '${value}'`);
      host = value;
    } else if (key === 'port') {
      if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
        fail(text, `bad port '${value}' (expected 1-65535)`);
      }
      port = Number(value);
    } else {
      fail(text, `unknown swtpm option '${key}' (expected host, port)`);
    }
  }
  return { kind: 'swtpm', host, port };
}

function parseDevice(text: string, conf: string): DeviceTcti {
  if (conf === '') return { kind: 'device', path: DEFAULT_DEVICE_PATH };
  // The device TCTI's conf is the path itself; reject anything that is not a plain absolute path.
  if (!conf.startsWith('/') || /[\s,=\0]/.test(conf)) {
    fail(text, `bad device path '${conf}' (expected an absolute path such as /dev/tpmrm0)`);
  }
  return { kind: 'device', path: conf };
}

/**
 * The TCTI named by the environment (`TCTI`, then `TPM2TOOLS_TCTI`, then `TEST_TCTI`, as
 * tss-esapi and the Rust agent read them), or undefined when none is set. The caller passes
 * the environment: libs never read process.env.
 */
export function tctiFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): TctiConfig | undefined {
  for (const name of TCTI_ENV_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') {
      try {
        return parseTcti(value);
      } catch (e) {
        throw new TpmDeviceError(TpmDeviceErrorCode.BadTcti, `${name}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
  }
  return undefined;
}

/** The canonical string of a TCTI config (what tpm2-tools accepts in TPM2TOOLS_TCTI). */
export function formatTcti(config: TctiConfig): string {
  return config.kind === 'swtpm'
    ? `swtpm:host=${config.host},port=${config.port}`
    : `device:${config.path}`;
}

function fail(text: string, why: string): never {
  throw new TpmDeviceError(TpmDeviceErrorCode.BadTcti, `invalid TCTI '${text}': ${why}`);
}
