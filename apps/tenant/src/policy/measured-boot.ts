/** @module policy/measured-boot: `keylime-policy create measured-boot` (UEFI event logs). */
import type { PolicyCommandGroups } from './commands';

export function registerMeasuredBootCommands(_groups: PolicyCommandGroups): void {
  // Filled in by the measured-boot issue.
}
