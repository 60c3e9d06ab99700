/** @module control: what the REST handlers may ask of the attestation loop (verifier §1.3 step 5, §1.5). */
import type { AgentRow } from '../store/schema';

export interface AttestationControl {
  /** Starts attesting an enrolled or reactivated agent: START → GET_QUOTE at once. */
  start(row: AgentRow): void;
  /** Stops polling the agent (PUT …/stop); the caller has stored TENANT_FAILED. */
  stop(agentId: string): void;
  /**
   * DELETE of an active agent: `now` when no step is in flight (polling cancelled; the caller
   * deletes the row), `deferred` when one is (the loop deletes the row when it finishes).
   */
  requestDelete(agentId: string): Promise<'now' | 'deferred'>;
  /** Forgets everything held in memory for the agent (after its row was deleted). */
  forget(agentId: string): void;
}
