/** @module quotes/measurement-list.spec: RK's ima_ml_entry semantics (spec §4.2). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MeasurementList } from './measurement-list';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-ima-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('slices from the requested entry, empty at the end, whole log beyond it', async () => {
  const file = path.join(dir, 'ml');
  fs.writeFileSync(file, '0-entry\n1-entry\n2-entry\n');
  const ml = new MeasurementList(file);
  expect(await ml.read(2)).toEqual({ text: '2-entry\n', entry: 2, total: 3 });
  expect(await ml.read(3)).toEqual({ text: '', entry: 3, total: 3 });
  expect(await ml.read(4)).toEqual({ text: '0-entry\n1-entry\n2-entry\n', entry: 0, total: 3 });
  fs.appendFileSync(file, '3-entry\n4-entry\n');
  expect(await ml.read(3)).toEqual({ text: '3-entry\n4-entry\n', entry: 3, total: 5 });
  expect(await ml.read(1)).toEqual({
    text: '1-entry\n2-entry\n3-entry\n4-entry\n',
    entry: 1,
    total: 5,
  });
  expect(await ml.read(0)).toMatchObject({ entry: 0, total: 5 });
});

test('no file means no IMA list', async () => {
  expect(await new MeasurementList(path.join(dir, 'absent')).read(0)).toBeUndefined();
});
