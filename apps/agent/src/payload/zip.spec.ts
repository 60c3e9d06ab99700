/** @module payload/zip.spec: the zip checks refuse traversal, links, bombs and floods before writing anything. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extractZip, planZip, ZipRejectedError } from './zip';

const LIMITS = {
  maxEntries: 100,
  maxEntryBytes: 1 << 20,
  maxTotalBytes: 1 << 20,
  reservedNames: ['decrypted_payload'],
};

/** Builds a zip with python's zipfile (exact control over names, modes and declared sizes). */
function makeZip(script: string): Buffer {
  const out = execFileSync('python3', [
    '-c',
    `
import io, sys, zipfile
buf = io.BytesIO()
z = zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED)
${script}
z.close()
sys.stdout.buffer.write(buf.getvalue())
`,
  ]);
  return out;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-zip-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('extracts files and directories with owner modes', async () => {
  const zip = makeZip(`
i = zipfile.ZipInfo('autorun.sh'); i.external_attr = (0o100755 << 16); z.writestr(i, 'echo hi\\n')
z.writestr('sub/', '')
z.writestr('sub/data.txt', 'x' * 1000)
`);
  const names = await extractZip(zip, dir, LIMITS);
  expect(names).toEqual(['autorun.sh', 'sub/data.txt']);
  expect(fs.readFileSync(path.join(dir, 'sub/data.txt'), 'utf8')).toBe('x'.repeat(1000));
  expect(fs.statSync(path.join(dir, 'autorun.sh')).mode & 0o777).toBe(0o700);
});

test.each([
  ['parent traversal', `z.writestr('../evil', 'x')`],
  ['nested traversal', `z.writestr('a/../../evil', 'x')`],
  ['absolute path', `z.writestr(zipfile.ZipInfo('/etc/evil'), 'x')`],
  [
    'symlink',
    `i = zipfile.ZipInfo('link'); i.create_system = 3; i.external_attr = (0o120777 << 16); z.writestr(i, '/etc/passwd')`,
  ],
  ['reserved name', `z.writestr('decrypted_payload', 'x')`],
  ['duplicate', `z.writestr('a', 'x'); z.writestr('a', 'y')`],
  ['too many entries', `[z.writestr('f%d' % n, '') for n in range(101)]`],
  ['oversized entry (bomb)', `z.writestr('big', '\\0' * (2 << 20))`],
  ['oversized total', `[z.writestr('f%d' % n, '\\0' * (300 << 10)) for n in range(4)]`],
])('refuses %s and writes nothing', async (_name, script) => {
  const zip = makeZip(script);
  await expect(extractZip(zip, dir, LIMITS)).rejects.toBeInstanceOf(ZipRejectedError);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('refuses data that is not a zip', async () => {
  await expect(planZip(Buffer.from('hello world, not a zip'), LIMITS)).rejects.toBeInstanceOf(
    ZipRejectedError,
  );
});

test('refuses an entry whose data exceeds its declared size', async () => {
  // Declare 10 bytes for a 100-byte stored entry by patching both headers.
  const zip = makeZip(
    `i = zipfile.ZipInfo('a'); i.compress_type = zipfile.ZIP_STORED; z.writestr(i, 'A' * 100)`,
  );
  const patched = Buffer.from(zip);
  for (const [sig, off] of [
    [0x04034b50, 22],
    [0x02014b50, 24],
  ] as const) {
    const at = patched.indexOf(Buffer.from(new Uint32Array([sig]).buffer));
    patched.writeUInt32LE(10, at + off);
  }
  await expect(extractZip(patched, dir, LIMITS)).rejects.toThrow();
  expect(
    fs.existsSync(path.join(dir, 'a')) ? fs.statSync(path.join(dir, 'a')).size : 0,
  ).toBeLessThanOrEqual(10);
});
