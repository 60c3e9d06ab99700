/** @module tenant/prompt: the CA key store password, as upstream's ca_util.ask_password obtains it. */
import { createInterface } from 'node:readline';
import { UserError } from './errors';

/** Reads one line from the terminal without echoing it. */
export function readHiddenLine(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(prompt);
    // Echo nothing while the password is typed.
    output._writeToOutput = () => undefined;
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    rl.on('SIGINT', () => {
      rl.close();
      reject(new UserError('interrupted'));
    });
  });
}

/**
 * Upstream ask_password: an explicit password wins; `[ca] password = default` is refused for the
 * CLIs and asked for at a terminal; without a terminal it is one clear error.
 */
export async function askCaPassword(
  explicit: string | undefined,
  configured: string,
  warn: (message: string) => void,
  interactive: boolean = process.stdin.isTTY === true,
): Promise<string> {
  if (explicit !== undefined && explicit !== '') return explicit;
  let password = configured;
  if (password === 'default') {
    warn(
      "The 'default' password option from CA configuration file cannot be used with keylime CLI (keylime_tenant or keylime_ca)",
    );
    if (!interactive) {
      throw new UserError(
        'You must specify a password! Set [ca] password in ca.conf or KEYLIME_CA_PASSWORD (keylime_ca also takes --password)',
      );
    }
    password = await readHiddenLine('Please enter the password to decrypt your keystore: ');
  }
  if (!password) throw new UserError('You must specify a password!');
  return password;
}
