import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { caConfigFrom, loadComponentConfig } from '@keylime/config';
import { decodePrivateYml } from '@keylime/crypto';
import { buildPkcs12, pkcs12Kdf } from './pkcs12';
import { caCertPkg, caInit, caMkcert, caRevoke } from './store';
import { buildStoredZip } from './zip';

const root = mkdtempSync(path.join(os.tmpdir(), 'kl-ca-'));
const config = caConfigFrom(
  loadComponentConfig('ca', { env: { KEYLIME_CA_CONFIG: '/dev/null', KEYLIME_DIR: root } }),
);
const log = { info: jest.fn(), warn: jest.fn() };

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('keylime_ca directory', () => {
  const ca = { dir: path.join(root, 'ca'), password: 'pw', config };

  it('init, create, pkg and revoke as upstream ca_util', async () => {
    await caInit(ca, log);
    expect(log.info).toHaveBeenCalledWith(`CA certificate created successfully in ${ca.dir}`);
    expect(await caMkcert(ca, 'node1', log)).toBe(2);
    const store = await decodePrivateYml(
      readFileSync(path.join(ca.dir, 'private.yml'), 'utf8'),
      'pw',
    );
    expect(store.lastSerial).toBe(2);
    expect(Object.keys(store.keys)).toEqual(['node1']);
    const cert = new X509Certificate(readFileSync(path.join(ca.dir, 'node1-cert.crt')));
    expect(
      cert.verify(new X509Certificate(readFileSync(path.join(ca.dir, 'cacert.crt'))).publicKey),
    ).toBe(true);
    const pkg = await caCertPkg(ca, 'node1', false, log);
    expect(pkg.entries.map((e) => e.name)).toEqual([
      'node1-public.pem',
      'node1-cert.crt',
      'node1-private.pem',
      'cacert.crt',
      'cacrl.der',
      'cacrl.pem',
    ]);
    await caRevoke(ca, { name: 'node1' }, log);
    const after = await decodePrivateYml(
      readFileSync(path.join(ca.dir, 'private.yml'), 'utf8'),
      'pw',
    );
    expect(after.revokedSerials).toEqual(['2']);
    await expect(caMkcert({ ...ca, password: 'wrong' }, 'x', log)).rejects.toThrow(
      'Invalid password for keystore',
    );
    await expect(caMkcert({ ...ca, dir: path.join(root, 'none') }, 'x', log)).rejects.toThrow(
      /No CA in/,
    );
    await expect(caMkcert(ca, '../evil', log)).rejects.toThrow(/Invalid certificate name/);
  }, 30_000);

  it('writes PKCS#12 files OpenSSL reads', () => {
    const p12 = buildPkcs12({
      certificatePem: readFileSync(path.join(ca.dir, 'node1-cert.crt'), 'utf8'),
      privateKeyPem: readFileSync(path.join(ca.dir, 'node1-private.pem'), 'utf8'),
      caCertificatePem: readFileSync(path.join(ca.dir, 'cacert.crt'), 'utf8'),
      friendlyName: 'node1',
      password: 'pw',
    });
    expect(pkcs12Kdf('', new Uint8Array(8), 3, 1, 32)).toHaveLength(32);
    if (!hasOpenssl()) return;
    const file = path.join(root, 'node1.p12');
    writeFileSync(file, p12);
    const text = execFileSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:pw', '-nodes'], {
      encoding: 'utf8',
    });
    expect(text).toContain('BEGIN PRIVATE KEY');
    expect(text).toContain('friendlyName: node1');
    expect(() =>
      execFileSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:bad', '-nodes'], {
        stdio: 'pipe',
      }),
    ).toThrow();
  });

  it('zips that unzip accepts', () => {
    const zip = buildStoredZip([{ name: 'a.txt', data: new Uint8Array(Buffer.from('hello')) }]);
    const file = path.join(root, 'a.zip');
    writeFileSync(file, zip);
    try {
      execFileSync('unzip', ['-v'], { stdio: 'ignore' });
    } catch {
      return;
    }
    expect(execFileSync('unzip', ['-p', file, 'a.txt'], { encoding: 'utf8' })).toBe('hello');
  });
});
