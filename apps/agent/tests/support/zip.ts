/** @module support/zip: zip archives for payload tests, made by python's zipfile (independent of the agent's reader). */
import { execFileSync } from 'node:child_process';

export interface ZipMember {
  readonly name: string;
  readonly data: string;
  /** Unix mode including the type bits, e.g. 0o100755. */
  readonly mode?: number;
}

export function makeZip(members: readonly ZipMember[]): Buffer {
  const script = `
import io, json, sys, zipfile
buf = io.BytesIO()
z = zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED)
for m in json.loads(sys.argv[1]):
    i = zipfile.ZipInfo(m['name'])
    i.compress_type = zipfile.ZIP_DEFLATED
    if m.get('mode'):
        i.create_system = 3
        i.external_attr = m['mode'] << 16
    z.writestr(i, m['data'])
z.close()
sys.stdout.buffer.write(buf.getvalue())
`;
  return execFileSync('python3', ['-c', script, JSON.stringify(members)]);
}
