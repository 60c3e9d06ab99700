import {
  SERVER_SUPPORTED_VERSIONS,
  compareApiVersions,
  negotiateApiVersion,
  parseApiVersion,
  resolveVersionSegment,
} from './api-version';

describe('API versions', () => {
  it('orders numerically, not lexically', () => {
    expect(compareApiVersions(parseApiVersion('2.10')!, parseApiVersion('2.9')!)).toBeGreaterThan(
      0,
    );
  });

  it.each(['2', '2.', '02.1', '2.1.0', 'v2.1', '', '2.-1'])('rejects %p', (s) => {
    expect(parseApiVersion(s)).toBeUndefined();
  });

  it('negotiates the highest common version', () => {
    expect(negotiateApiVersion(['2.0', '2.1', '2.6'], ['2.1', '2.2', '2.6'])).toBe('2.6');
    expect(negotiateApiVersion(['2.0'], ['2.1'])).toBeUndefined();
  });

  it('resolves URL segments, aliasing /v2 to the latest minor', () => {
    expect(resolveVersionSegment('v2', SERVER_SUPPORTED_VERSIONS)).toBe('2.6');
    expect(resolveVersionSegment('v3', SERVER_SUPPORTED_VERSIONS)).toBe('3.0');
    expect(resolveVersionSegment('v2.3', SERVER_SUPPORTED_VERSIONS)).toBe('2.3');
    expect(resolveVersionSegment('v2.7', SERVER_SUPPORTED_VERSIONS)).toBeUndefined();
    expect(resolveVersionSegment('v9', SERVER_SUPPORTED_VERSIONS)).toBeUndefined();
    expect(resolveVersionSegment('agents', SERVER_SUPPORTED_VERSIONS)).toBeUndefined();
  });
});
