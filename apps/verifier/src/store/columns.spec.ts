/** @module columns.spec: JSON column readers; algorithm lists are shared and frozen. */
import { readStringList } from './columns';

describe('readStringList', () => {
  it('parses a list of strings, dropping other values, and reads NULL/garbage as empty', () => {
    expect(readStringList('["sha256", 1, "sha1"]')).toEqual(['sha256', 'sha1']);
    expect(readStringList(null)).toEqual([]);
    expect(readStringList('')).toEqual([]);
    expect(readStringList('not json')).toEqual([]);
    expect(readStringList('{"a":"b"}')).toEqual([]);
  });

  it('returns one frozen list object per column text, shared by every agent', () => {
    const a = readStringList('["sha512","sha384","sha256"]');
    const b = readStringList('["sha512","sha384","sha256"]');
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => (a as string[]).push('sha1')).toThrow(TypeError);
    expect(readStringList('["sha512","sha384","sha256"]')).toEqual(['sha512', 'sha384', 'sha256']);
    expect(readStringList('["rsa"]')).not.toBe(a);
    expect(readStringList('[]')).toBe(readStringList(null));
    expect(Object.isFrozen(readStringList(null))).toBe(true);
  });
});
