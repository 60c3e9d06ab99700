/**
 * @module payload/deliver-payload: what happens once K is known and the tenant sent a payload
 * (spec §5.6): decrypt, check the zip, write K, the plaintext and the zip contents into
 * `secure/unzipped`, run `autorun.sh`, chmod the action list. A bad payload changes nothing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { decryptPayload } from '@keylime/crypto';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { runScript } from './run-script';
import { extractZip, planZip } from './zip';
import type { ZipLimits } from './zip';

export interface PayloadSettings {
  /** `<keylime_dir>/secure`. */
  readonly secureDir: string;
  readonly encKeyname: string;
  readonly decPayloadFile: string;
  readonly extractPayloadZip: boolean;
  /** `payload_script`; "" → none. */
  readonly payloadScript: string;
  readonly secureSizeBytes: number;
  readonly scriptTimeoutMs: number;
  readonly maxZipEntries: number;
}

/** Why a payload was not (fully) delivered. */
export class PayloadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadError';
  }
}

function zipLimits(settings: PayloadSettings, plaintextBytes: number): ZipLimits {
  const room = Math.max(0, settings.secureSizeBytes - plaintextBytes);
  return {
    maxEntries: settings.maxZipEntries,
    maxEntryBytes: room,
    maxTotalBytes: room,
    reservedNames: [settings.encKeyname, settings.decPayloadFile],
  };
}

/** `action_list` names → chmod 0700 (RK does this line by line; names stay inside `dir`). */
async function chmodActions(dir: string, logger: Logger): Promise<void> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'action_list'), 'utf8');
  } catch {
    return;
  }
  for (const line of text.split('\n')) {
    const name = line.trim();
    if (name === '') continue;
    const file = path.resolve(dir, name);
    if (!file.startsWith(dir + path.sep)) {
      logger.warn(`Ignoring action ${JSON.stringify(name)} outside the payload directory`);
      continue;
    }
    const stat = await fs.lstat(file).catch(() => undefined);
    if (stat?.isFile() !== true) continue;
    await fs.chmod(file, 0o700);
    logger.info(`Permission set for action: ${file}`);
  }
}

/**
 * Delivers one payload. Throws PayloadError when the payload is refused before anything was
 * written; a script that fails or times out is only logged (RK does not check its status).
 */
export async function deliverPayload(
  k: Uint8Array,
  payloadB64: string,
  settings: PayloadSettings,
  logger: Logger,
): Promise<void> {
  let plaintext: Buffer;
  try {
    plaintext = Buffer.from(decryptPayload(k, payloadB64));
  } catch (e) {
    throw new PayloadError(`Failed to decrypt payload: ${errorMessage(e)}`, { cause: e });
  }
  logger.info('Successfully decrypted payload');
  if (plaintext.length > settings.secureSizeBytes)
    throw new PayloadError(
      `decrypted payload is larger than secure_size (${settings.secureSizeBytes} bytes)`,
    );
  const limits = zipLimits(settings, plaintext.length);
  if (settings.extractPayloadZip) {
    try {
      await planZip(plaintext, limits);
    } catch (e) {
      throw new PayloadError(`Refusing payload zip: ${errorMessage(e)}`, { cause: e });
    }
  }

  // Build the new tree beside the old one, then swap, so a failure leaves no half state.
  const unzipped = path.join(settings.secureDir, 'unzipped');
  const staging = path.join(settings.secureDir, `.unzipped-${process.pid}`);
  await fs.rm(staging, { recursive: true, force: true });
  await fs.mkdir(staging, { mode: 0o700 });
  try {
    await fs.writeFile(path.join(staging, settings.encKeyname), k, { mode: 0o600, flag: 'wx' });
    logger.info(`Wrote payload decryption key to ${path.join(unzipped, settings.encKeyname)}`);
    await fs.writeFile(path.join(staging, settings.decPayloadFile), plaintext, {
      mode: 0o600,
      flag: 'wx',
    });
    logger.info(`Wrote decrypted payload to ${path.join(unzipped, settings.decPayloadFile)}`);
    if (settings.extractPayloadZip) {
      logger.info(`Unzipping payload ${settings.decPayloadFile} to ${unzipped}`);
      await extractZip(plaintext, staging, limits);
    }
    await fs.rm(unzipped, { recursive: true, force: true });
    await fs.rename(staging, unzipped);
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true });
    throw new PayloadError(`Failed to write payload: ${errorMessage(e)}`, { cause: e });
  }

  if (settings.payloadScript === '') {
    logger.info('No payload script specified, skipping');
  } else {
    await runPayloadScript(unzipped, settings, logger);
  }
  await chmodActions(unzipped, logger);
}

async function runPayloadScript(
  dir: string,
  settings: PayloadSettings,
  logger: Logger,
): Promise<void> {
  const script = path.resolve(dir, settings.payloadScript);
  if (!script.startsWith(dir + path.sep)) {
    logger.warn(
      `payload_script ${settings.payloadScript} is outside the payload directory, not run`,
    );
    return;
  }
  const stat = await fs.lstat(script).catch(() => undefined);
  if (stat?.isFile() !== true) {
    logger.info(`No payload script ${settings.payloadScript} found in ${dir}`);
    return;
  }
  await fs.chmod(script, 0o700);
  logger.info(`Executing payload script: ${script}`);
  try {
    const result = await runScript('sh', ['-c', script], {
      cwd: dir,
      timeoutMs: settings.scriptTimeoutMs,
    });
    if (result.timedOut) logger.warn(`${script} was stopped after ${settings.scriptTimeoutMs} ms`);
    else logger.info(`${script} ran successfully (exit status ${String(result.code)})`);
    if (result.stderr !== '') logger.warn(`Payload script stderr: ${result.stderr.trimEnd()}`);
  } catch (e) {
    logger.warn(`${script} failed during run: ${errorMessage(e)}`);
  }
}
