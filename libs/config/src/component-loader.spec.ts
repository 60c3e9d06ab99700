import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from './config-error';
import {
  envOverrideName,
  listSnippets,
  loadComponentConfig,
  resolveWorkDir,
} from './component-loader';
import { stripQuotes } from './values';

const TEST_DATA = path.join(__dirname, '..', 'test-data');

/** A temporary root with `etc/keylime` and `usr/etc/keylime`; files are written relative to it. */
function makeRoot(files: Readonly<Record<string, string | Buffer>>): {
  root: string;
  etcDirs: string[];
} {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-config-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
  return { root, etcDirs: [path.join(root, 'etc/keylime'), path.join(root, 'usr/etc/keylime')] };
}

const roots: string[] = [];
function root(files: Readonly<Record<string, string | Buffer>>): {
  root: string;
  etcDirs: string[];
} {
  const made = makeRoot(files);
  roots.push(made.root);
  return made;
}
afterAll(() => {
  for (const dir of roots) fs.rmSync(dir, { recursive: true, force: true });
});

function upstream(name: string): string {
  return fs.readFileSync(path.join(TEST_DATA, 'upstream-test-config', name), 'utf8');
}

describe('loadComponentConfig (upstream get_config)', () => {
  it('loads upstream test/data/config/verifier.conf with its verifier.conf.d snippets unchanged', () => {
    const { etcDirs, root: r } = root({
      'etc/keylime/verifier.conf': upstream('verifier.conf'),
      'etc/keylime/verifier.conf.d/001-value2': upstream('verifier.conf.d/001-value2'),
      'etc/keylime/verifier.conf.d/002-value3': upstream('verifier.conf.d/002-value3'),
    });
    const raw = loadComponentConfig('verifier', { env: {}, etcDirs });
    expect(raw.get('attribute_1')?.value).toBe('value_1_3');
    expect(raw.get('attribute_2')?.value).toBe('value_2');
    expect(raw.get('attribute_3')?.value).toBe('value_3');
    // upstream's config.get strips quotes and spaces
    expect(stripQuotes(raw.get('quoted')?.value ?? '')).toBe('unquoted');
    expect(stripQuotes(raw.get('quotes_spaces')?.value ?? '')).toBe('unquoted');
    expect(raw.files).toEqual([
      path.join(r, 'etc/keylime/verifier.conf'),
      path.join(r, 'etc/keylime/verifier.conf.d/001-value2'),
      path.join(r, 'etc/keylime/verifier.conf.d/002-value3'),
    ]);
    expect(raw.get('attribute_1')?.origin).toEqual({
      kind: 'file',
      file: path.join(r, 'etc/keylime/verifier.conf.d/002-value3'),
      line: 4,
    });
    expect(raw.warnings).toEqual([]);
  });

  it('uses /etc/keylime/<c>.conf before /usr/etc/keylime/<c>.conf, never both', () => {
    const { etcDirs } = root({
      'etc/keylime/tenant.conf': '[tenant]\na = etc\n',
      'usr/etc/keylime/tenant.conf': '[tenant]\na = usr\nb = usr\n',
    });
    const raw = loadComponentConfig('tenant', { env: {}, etcDirs });
    expect(raw.get('a')?.value).toBe('etc');
    expect(raw.get('b')).toBeUndefined();
  });

  it('falls back to /usr/etc/keylime when /etc/keylime has no file', () => {
    const { etcDirs } = root({ 'usr/etc/keylime/tenant.conf': '[tenant]\na = usr\n' });
    expect(loadComponentConfig('tenant', { env: {}, etcDirs }).get('a')?.value).toBe('usr');
  });

  it('applies /usr/etc snippets, then /etc snippets, each sorted, all file names, later wins', () => {
    const { etcDirs, root: r } = root({
      'usr/etc/keylime/registrar.conf': '[registrar]\na = base\n',
      'usr/etc/keylime/registrar.conf.d/20-x.conf':
        '[registrar]\na = usr20\nb = usr20\nc = usr20\n',
      'usr/etc/keylime/registrar.conf.d/10-x.conf': '[registrar]\na = usr10\nb = usr10\n',
      'etc/keylime/registrar.conf.d/05-first': '[registrar]\nb = etc05\n',
      'etc/keylime/registrar.conf.d/99-last.conf': '[registrar]\nd = etc99\n',
      'etc/keylime/registrar.conf.d/subdir/ignored.conf': '[registrar]\nd = subdir\n',
    });
    const raw = loadComponentConfig('registrar', { env: {}, etcDirs });
    expect(raw.get('a')?.value).toBe('usr20');
    expect(raw.get('b')?.value).toBe('etc05');
    expect(raw.get('c')?.value).toBe('usr20');
    expect(raw.get('d')?.value).toBe('etc99');
    expect(raw.files.map((f) => path.relative(r, f))).toEqual([
      'usr/etc/keylime/registrar.conf',
      'usr/etc/keylime/registrar.conf.d/10-x.conf',
      'usr/etc/keylime/registrar.conf.d/20-x.conf',
      'etc/keylime/registrar.conf.d/05-first',
      'etc/keylime/registrar.conf.d/99-last.conf',
    ]);
  });

  it('ignores snippets when no base file exists and says so', () => {
    const { etcDirs } = root({ 'etc/keylime/ca.conf.d/01.conf': '[ca]\ncert_bits = 4096\n' });
    const raw = loadComponentConfig('ca', { env: {}, etcDirs });
    expect(raw.files).toEqual([]);
    expect(raw.get('cert_bits')).toBeUndefined();
    expect(raw.warnings).toHaveLength(1);
    expect(raw.warnings[0]).toMatch(/^no configuration file found for ca in /);
  });

  it('KEYLIME_<C>_CONFIG replaces every other file, snippets included', () => {
    const { etcDirs, root: r } = root({
      'etc/keylime/verifier.conf': '[verifier]\na = etc\n',
      'etc/keylime/verifier.conf.d/1.conf': '[verifier]\nb = snippet\n',
      'custom/v.conf': '[verifier]\na = custom\n',
    });
    const env = { KEYLIME_VERIFIER_CONFIG: path.join(r, 'custom/v.conf') };
    const raw = loadComponentConfig('verifier', { env, etcDirs });
    expect(raw.files).toEqual([path.join(r, 'custom/v.conf')]);
    expect(raw.get('a')?.value).toBe('custom');
    expect(raw.get('b')).toBeUndefined();
  });

  it('falls back to the installed files when KEYLIME_<C>_CONFIG names nothing, as upstream', () => {
    const { etcDirs, root: r } = root({ 'etc/keylime/verifier.conf': '[verifier]\na = etc\n' });
    const raw = loadComponentConfig('verifier', {
      env: { KEYLIME_VERIFIER_CONFIG: path.join(r, 'nope.conf') },
      etcDirs,
    });
    expect(raw.get('a')?.value).toBe('etc');
    expect(raw.warnings[0]).toContain('KEYLIME_VERIFIER_CONFIG');
  });

  it('lets KEYLIME_<C>_<OPTION> and KEYLIME_<C>_<SECTION>_<OPTION> override files', () => {
    const { etcDirs } = root({
      'etc/keylime/verifier.conf':
        '[verifier]\nquote_interval = 2\n[revocations]\nzmq_port = 8992\n',
    });
    const env = {
      KEYLIME_VERIFIER_QUOTE_INTERVAL: '7',
      KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT: '9000',
    };
    const raw = loadComponentConfig('verifier', { env, etcDirs });
    expect(raw.get('quote_interval')).toEqual({
      value: '7',
      origin: { kind: 'env', variable: 'KEYLIME_VERIFIER_QUOTE_INTERVAL' },
    });
    expect(raw.get('zmq_port', 'revocations')?.value).toBe('9000');
    // The section form only applies to the section it names.
    expect(raw.get('zmq_port')).toBeUndefined();
    expect(raw.has('not_in_file')).toBe(false);
  });

  it('reports a duplicate option in a snippet with the snippet path and line', () => {
    const { etcDirs, root: r } = root({
      'etc/keylime/verifier.conf': '[verifier]\na = 1\n',
      'etc/keylime/verifier.conf.d/10.conf': '[verifier]\na = 2\n# c\na = 3\n',
    });
    expect(() => loadComponentConfig('verifier', { env: {}, etcDirs })).toThrow(
      new ConfigError('KL_CONFIG_DUPLICATE_OPTION', {
        origin: {
          kind: 'file',
          file: path.join(r, 'etc/keylime/verifier.conf.d/10.conf'),
          line: 4,
        },
        section: 'verifier',
        option: 'a',
        problem: 'option appears twice in this section (first on line 2)',
      }),
    );
  });

  it('rejects a file that is not UTF-8', () => {
    const { etcDirs, root: r } = root({
      'etc/keylime/tenant.conf': Buffer.from([0x5b, 0xff, 0x5d]),
    });
    expect(() => loadComponentConfig('tenant', { env: {}, etcDirs })).toThrow(
      `${path.join(r, 'etc/keylime/tenant.conf')}: file is not valid UTF-8`,
    );
  });

  it('lists every regular file of a snippet directory, sorted', () => {
    const { root: r } = root({ 'd/b': '', 'd/a.conf': '', 'd/.hidden': '', 'd/sub/x': '' });
    expect(listSnippets(path.join(r, 'd')).map((f) => path.basename(f))).toEqual([
      '.hidden',
      'a.conf',
      'b',
    ]);
    expect(listSnippets(path.join(r, 'missing'))).toEqual([]);
  });
});

describe('work dir and variable names', () => {
  it('defaults to /var/lib/keylime, honours KEYLIME_DIR and KEYLIME_TEST', () => {
    expect(resolveWorkDir({ env: {} })).toBe('/var/lib/keylime');
    expect(resolveWorkDir({ env: { KEYLIME_DIR: '/srv/kl' } })).toBe('/srv/kl');
    expect(resolveWorkDir({ env: { KEYLIME_TEST: 'on' }, cwd: '/tmp/x' })).toBe('/tmp/x');
    expect(
      resolveWorkDir({ env: { KEYLIME_TEST: 'True', KEYLIME_DIR: '/srv/kl' }, cwd: '/tmp/x' }),
    ).toBe('/srv/kl');
  });

  it('names overrides as upstream _get_env does', () => {
    expect(envOverrideName('verifier', 'quote_interval')).toBe('KEYLIME_VERIFIER_QUOTE_INTERVAL');
    expect(envOverrideName('verifier', 'zmq_port', 'revocations')).toBe(
      'KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT',
    );
    expect(envOverrideName('verifier', 'ip', 'verifier')).toBe('KEYLIME_VERIFIER_IP');
  });
});
