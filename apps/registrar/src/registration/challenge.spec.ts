import { createHmac } from 'node:crypto';
import { authTagMatches } from './challenge';

describe('activation auth_tag (spec §9 item 3)', () => {
  const key = 'Wk5SS09Obnd1UnVIMWg3NHhaRmpCQW8xR1hnbEhNQUk=';
  const id = 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000';
  const tag =
    'c7eb95b4fe0f8f2669c9220f97fd1ed8c311d125ca53f255b25d812577d1d22c985ef114e85c542692f0d1011f02cf71';

  it('accepts the upstream known answer', () => {
    expect(Buffer.from(key, 'base64').toString()).toBe('ZNRKONnwuRuH1h74xZFjBAo1GXglHMAI');
    expect(createHmac('sha384', key).update(id).digest('hex')).toBe(tag);
    expect(authTagMatches(key, id, tag)).toBe(true);
  });

  it('refuses any other tag, id or key', () => {
    expect(authTagMatches(key, id, `${tag.slice(0, -1)}0`)).toBe(false);
    expect(authTagMatches(key, id, tag.slice(0, -2))).toBe(false);
    expect(authTagMatches(key, id, '')).toBe(false);
    expect(authTagMatches(key, id, 'z'.repeat(96))).toBe(false);
    expect(authTagMatches(key, `${id}x`, tag)).toBe(false);
    expect(authTagMatches(`${key}x`, id, tag)).toBe(false);
  });
});
