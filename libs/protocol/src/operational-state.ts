/**
 * @module operational-state: the verifier's numeric agent states, on the wire since 1.0
 * (upstream `keylime/common/states.py`, spec/verifier.md §2.1).
 */

export const OperationalState = {
  Registered: 0,
  Start: 1,
  Saved: 2,
  GetQuote: 3,
  GetQuoteRetry: 4,
  ProvideV: 5,
  ProvideVRetry: 6,
  Failed: 7,
  Terminated: 8,
  InvalidQuote: 9,
  TenantFailed: 10,
} as const;

export type OperationalState = (typeof OperationalState)[keyof typeof OperationalState];

/** The text upstream's tenant prints for each state. */
export const OPERATIONAL_STATE_NAMES: Readonly<Record<OperationalState, string>> = {
  0: 'Registered',
  1: 'Start',
  2: 'Saved',
  3: 'Get Quote',
  4: 'Get Quote (retry)',
  5: 'Provide V',
  6: 'Provide V (retry)',
  7: 'Failed',
  8: 'Terminated',
  9: 'Invalid Quote',
  10: 'Tenant Quote Failed',
};

export function isOperationalState(n: number): n is OperationalState {
  return Number.isInteger(n) && n >= 0 && n <= 10;
}
