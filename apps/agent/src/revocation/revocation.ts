/**
 * @module revocation/revocation: signed revocation notifications (spec §5.8). The revocation
 * certificate is trusted only after a payload was delivered; a message acts only once its RSA-PSS
 * signature verifies and its text parses as JSON. Actions then run one after another.
 */
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseAgentList } from '@keylime/config';
import { verifyRevocationMessage } from '@keylime/crypto';
import { errorMessage } from '@keylime/core';
import type { Logger } from '@keylime/core';
import { runScript } from '../payload/run-script';

export interface RevocationSettings {
  /** `revocation_cert` (PEM). */
  readonly certFile: string;
  /** `revocation_actions_dir`. */
  readonly actionsDir: string;
  /** `revocation_actions`. */
  readonly configActions: readonly string[];
  readonly allowPayloadActions: boolean;
  /** `<secure>/unzipped`, where payload actions and `action_list` live. */
  readonly payloadDir: string;
  /** Where the temporary message file for an action is written (keylime_dir). */
  readonly workDir: string;
  readonly actionTimeoutMs: number;
}

/** The outcome of one notification, decided before anything runs. */
export type RevocationVerdict =
  | { readonly kind: 'accepted'; readonly actions: number }
  | { readonly kind: 'no-certificate' }
  | { readonly kind: 'bad-signature' }
  | { readonly kind: 'bad-message'; readonly reason: string };

/** Receives revocation messages for the whole agent (HTTP and ZeroMQ share it). */
export class RevocationHandler {
  private key: KeyObject | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly settings: RevocationSettings,
    private readonly logger: Logger,
  ) {}

  /** Loads the revocation certificate; called after a payload was delivered (spec §5.6 step 6). */
  enable(): void {
    try {
      const pem = fs.readFileSync(this.settings.certFile, 'utf8');
      this.key = new X509Certificate(pem).publicKey;
      this.logger.info(`Loaded revocation certificate ${this.settings.certFile}`);
    } catch (e) {
      this.logger.warn(
        `Revocation certificate not available (${this.settings.certFile}): ${errorMessage(e)}`,
      );
    }
  }

  get enabled(): boolean {
    return this.key !== undefined;
  }

  /** Verifies and, if valid, schedules the actions; never throws for bad input. */
  receive(msg: string, signature: string): RevocationVerdict {
    if (this.key === undefined) {
      this.logger.warn('Revocation certificate not yet available');
      return { kind: 'no-certificate' };
    }
    if (!verifyRevocationMessage(this.key, msg, signature)) {
      this.logger.error('Invalid revocation message signature');
      return { kind: 'bad-signature' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(msg);
    } catch {
      return { kind: 'bad-message', reason: 'msg is not JSON' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { kind: 'bad-message', reason: 'msg is not a JSON object' };
    const actions = this.actionNames();
    this.logger.info('Revocation signature validated for revocation message');
    this.queue = this.queue
      .then(() => this.runActions(actions, parsed))
      .catch((e: unknown) => {
        this.logger.error(`Revocation actions failed: ${errorMessage(e)}`);
      });
    return { kind: 'accepted', actions: actions.length };
  }

  /** Resolves when every scheduled action has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private actionNames(): string[] {
    const names = [...this.settings.configActions];
    try {
      names.push(
        ...parseAgentList(
          fs.readFileSync(path.join(this.settings.payloadDir, 'action_list'), 'utf8'),
        ),
      );
    } catch {
      this.logger.warn('WARNING: no action_list found in secure directory');
    }
    return names;
  }

  /** The executable for an action name: actions dir first, then the payload (if allowed). */
  private lookup(name: string): string | undefined {
    // Plain names only: an action list must not reach outside the two directories.
    if (name !== path.basename(name) || name === '.' || name === '..') return undefined;
    const candidates = [path.join(this.settings.actionsDir, name)];
    if (this.settings.allowPayloadActions)
      candidates.push(path.join(this.settings.payloadDir, name));
    return candidates.find((file) => fs.existsSync(file));
  }

  private async runActions(names: readonly string[], message: unknown): Promise<void> {
    if (names.length === 0) {
      this.logger.warn('WARNING: no actions found in revocation action list');
      return;
    }
    for (const name of names) {
      const file = this.lookup(name);
      if (file === undefined) {
        this.logger.error(
          `error executing revocation script ${name}: Could not find action ${name}`,
        );
        return;
      }
      this.logger.info(`Executing revocation action ${name}`);
      const jsonFile = path.join(
        this.settings.workDir,
        `.revocation-${randomBytes(8).toString('hex')}.json`,
      );
      await fsp.writeFile(jsonFile, JSON.stringify(message), { mode: 0o600, flag: 'wx' });
      try {
        const result = await runScript(file, [jsonFile], {
          cwd: this.settings.workDir,
          timeoutMs: this.settings.actionTimeoutMs,
        });
        if (result.stdout !== '') this.logger.info(`Action stdout: ${result.stdout.trimEnd()}`);
        if (result.stderr !== '') this.logger.warn(`Action stderr: ${result.stderr.trimEnd()}`);
        if (result.timedOut || result.code !== 0) {
          this.logger.error(
            `error executing revocation script ${name}: ${result.timedOut ? 'timed out' : `exit status ${String(result.code)}`}`,
          );
          return;
        }
        this.logger.info(`INFO: revocation action ${name} successful`);
      } finally {
        await fsp.rm(jsonFile, { force: true });
      }
    }
  }
}
