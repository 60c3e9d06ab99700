/**
 * @module payload/run-script: runs a payload script or revocation action as a child process with a
 * time limit and bounded output capture, without blocking the event loop.
 */
import { spawn } from 'node:child_process';

export interface ScriptResult {
  /** Exit code, or undefined when killed. */
  readonly code: number | undefined;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

const OUTPUT_LIMIT = 64 * 1024;

/** Runs `command args…` in `cwd`; kills the whole process group after `timeoutMs`. */
export function runScript(
  command: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly timeoutMs: number },
): Promise<ScriptResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group, so a timeout also ends whatever the script started.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const append = (current: string, chunk: Buffer): string =>
      current.length >= OUTPUT_LIMIT
        ? current
        : (current + chunk.toString('utf8')).slice(0, OUTPUT_LIMIT);
    child.stdout.on('data', (c: Buffer) => (stdout = append(stdout, c)));
    child.stderr.on('data', (c: Buffer) => (stderr = append(stderr, c)));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, options.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? undefined, timedOut, stdout, stderr });
    });
  });
}
