import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseImaEntry, splitSpaces } from './entry';
import { MEASUREMENTS, SIGNATURES, BAD_SIGNATURE, KEYRING_ENTRY } from './testing/upstream-vectors';

const DATA = join(__dirname, '..', 'test-data');
const sha1 = (b: Uint8Array): string => crypto.createHash('sha1').update(b).digest('hex');

describe('parseImaEntry', () => {
  it('encodes the §4.2 worked example byte for byte', () => {
    const line = readFileSync(join(DATA, 'create-runtime-policy/ima-log-sha256'), 'utf8').split('\n')[0] as string;
    const e = parseImaEntry(line);
    if ('error' in e) throw new Error(e.error);
    expect(e.templateData.toString('hex')).toBe(
      '28000000' + '7368613235363a00' + 'f4845392eca429a4c941a6a07fc32faf843a88c5c3dfa3b9329ab8f4171d9ce3' +
        '0f000000' + '626f6f745f616767726567617465' + '00',
    );
    expect(sha1(e.templateData)).toBe('6309e2c83b7814367bb3912a55e5473454623535');
    expect(crypto.createHash('sha256').update(e.templateData).digest('hex')).toBe(
      '28648d7f6d621b067d420dd97425f6874dbf8a779c7cee67d2408fa8096f77cf',
    );
    expect(e).toMatchObject({ pcr: '10', template: 'ima-ng', digestAlg: 'sha256', name: 'boot_aggregate' });
  });

  it.each([...MEASUREMENTS, ...SIGNATURES, KEYRING_ENTRY])('reproduces the column-2 hash of upstream vector %#', (line) => {
    const e = parseImaEntry(line);
    if ('error' in e) throw new Error(e.error);
    expect(sha1(e.templateData)).toBe(e.templateHash.toString('hex'));
  });

  it('parses the signature header of an ima-sig line (§11.5)', () => {
    const e = parseImaEntry(SIGNATURES[0] as string);
    if ('error' in e) throw new Error(e.error);
    expect(e.signature?.length).toBe(265);
    expect(e.signature?.subarray(0, 9).toString('hex')).toBe('030204f3452d230100');
  });

  it('treats a malformed signature as absent, so the template hash no longer matches', () => {
    const e = parseImaEntry(BAD_SIGNATURE);
    if ('error' in e) throw new Error(e.error);
    expect(e.signature).toBeUndefined();
    expect(sha1(e.templateData)).not.toBe(e.templateHash.toString('hex'));
  });

  it('reproduces every template hash of the 826-line rust-keylime log', () => {
    const lines = readFileSync(join(DATA, 'rust-keylime/ascii_runtime_measurements'), 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(826);
    for (const line of lines) {
      const e = parseImaEntry(line);
      if ('error' in e) throw new Error(e.error);
      const zero = e.templateHash.every((b) => b === 0);
      if (!zero) expect(sha1(e.templateData)).toBe(e.templateHash.toString('hex'));
    }
  });

  it('encodes the legacy ima template with a fixed 256-byte name field', () => {
    const digest = 'aa'.repeat(20);
    const data = Buffer.concat([Buffer.from(digest, 'hex'), Buffer.from('/bin/x'), Buffer.alloc(250)]);
    const e = parseImaEntry(`10 ${sha1(data)} ima ${digest} /bin/x`);
    if ('error' in e) throw new Error(e.error);
    expect(e.templateData.equals(data)).toBe(true);
    expect(e.digestAlg).toBe('sha1');
  });

  it('encodes ima-buf with a length-prefixed buffer', () => {
    const e = parseImaEntry('10 00 ima-buf sha256:' + 'ab'.repeat(32) + ' kernel_version 352e31342e30');
    if ('error' in e) throw new Error(e.error);
    expect(e.buffer?.toString()).toBe('5.14.0');
    expect(e.templateData.subarray(-10).toString('hex')).toBe('06000000352e31342e30');
  });

  it.each([
    ['', 'expected 4 fields'],
    ['this-is-an-invalid-ima-log-file', 'expected 4 fields'],
    ['10 zz ima-ng sha1:00 x', 'template hash'],
    ['10 00 ima-modsig sha1:00 x', "no parser for template 'ima-modsig'"],
    ['10 00 ima-ng sha256:abc', 'expects 2 fields'],
    ['10 00 ima-ng sha256:abz0 x', 'not valid hex'],
    ['10 00 ima-ng abcd x', 'neither md5 nor sha1'],
    ['10 00 ima-ng a:b:cc x', 'more than one'],
    ['10 00 ima-sig sha256:00 x', 'expects 3 fields'],
    ['10 00 ima-buf sha256:00 x zz', 'buffer is not valid hex'],
    [`10 00 ima ${'aa'.repeat(20)} ${'x'.repeat(256)}`, 'longer than 255'],
  ])('rejects %j', (line, reason) => {
    const e = parseImaEntry(line);
    expect('error' in e && e.error).toContain(reason);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('ima', 'ima-ng', 'ima-sig', 'ima-buf'), fc.string(), (a, t, b) => {
        parseImaEntry(`10 ${a} ${t} ${b}`);
        parseImaEntry(a);
      }),
      { numRuns: 2000 },
    );
  });

  it('splits like Python str.split(" ", n)', () => {
    expect(splitSpaces('a  b c', 2)).toEqual(['a', '', 'b c']);
    expect(splitSpaces('a b ', 2)).toEqual(['a', 'b', '']);
    expect(splitSpaces('abc', 3)).toEqual(['abc']);
  });
});
