/** @module policy/commands: the parent commands each policy kind hangs its subcommands on. */
import type { Command } from 'commander';

export interface PolicyCommandGroups {
  readonly program: Command;
  /** `keylime-policy create <kind>` */
  readonly create: Command;
  /** `keylime-policy sign <kind>` */
  readonly sign: Command;
}
