import { errorEnvelope, parseEnvelope, successEnvelope } from './envelope';
import { isValidAgentId } from './agent-id';
import { OPERATIONAL_STATE_NAMES, OperationalState } from './operational-state';

describe('envelope', () => {
  it('builds upstream-shaped bodies', () => {
    expect(successEnvelope({ a: 1 })).toEqual({ code: 200, status: 'Success', results: { a: 1 } });
    expect(errorEnvelope(404, 'Not Found')).toEqual({
      code: 404,
      status: 'Not Found',
      results: {},
    });
  });

  it("accepts the Rust agent's null results and rejects non-envelopes", () => {
    expect(parseEnvelope({ code: 200, status: 'Success', results: null }).results).toEqual({});
    expect(() => parseEnvelope({ status: 'x' })).toThrow(/not a Keylime envelope/);
    expect(() => parseEnvelope('hello')).toThrow(/not a Keylime envelope/);
  });
});

describe('agent ids and states', () => {
  it('validates ids like upstream, capped at 80 characters', () => {
    expect(isValidAgentId('d432fbb3-d2f1-4a97-9ef7-75bd81c00000')).toBe(true);
    expect(isValidAgentId('a.b_c-d')).toBe(true);
    expect(isValidAgentId('')).toBe(false);
    expect(isValidAgentId('../etc')).toBe(false);
    expect(isValidAgentId('a b')).toBe(false);
    expect(isValidAgentId('x'.repeat(81))).toBe(false);
  });

  it('names every state as the tenant prints it', () => {
    expect(OPERATIONAL_STATE_NAMES[OperationalState.GetQuote]).toBe('Get Quote');
    expect(Object.keys(OPERATIONAL_STATE_NAMES)).toHaveLength(11);
  });
});
