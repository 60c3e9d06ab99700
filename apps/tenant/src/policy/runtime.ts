/** @module policy/runtime: `keylime-policy create runtime`, `sign runtime`, `convert` (IMA). */
import type { PolicyCommandGroups } from './commands';

export function registerRuntimeCommands(_groups: PolicyCommandGroups): void {
  // Filled in by the IMA issue.
}
