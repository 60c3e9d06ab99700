import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from './config-error';
import {
  AGENT_DEFAULTS,
  DEFAULT_TCTI,
  loadAgentConfig,
  parseAgentList,
  parseApiVersions,
} from './agent-config';
import type { AgentLoadOptions } from './agent-config';

const UPSTREAM_AGENT_CONF = fs.readFileSync(
  path.join(__dirname, '..', 'test-data', 'rust-keylime', 'keylime-agent.conf'),
  'utf8',
);
const roots: string[] = [];
afterAll(() => {
  for (const dir of roots) fs.rmSync(dir, { recursive: true, force: true });
});

/** A temp root with etc/keylime and usr/etc/keylime; `files` are relative to the root. */
function setup(
  files: Readonly<Record<string, string>>,
  env: Record<string, string> = {},
): { options: AgentLoadOptions; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-agent-'));
  roots.push(root);
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return {
    root,
    options: {
      env,
      euid: 0,
      etcDirs: [path.join(root, 'etc/keylime'), path.join(root, 'usr/etc/keylime')],
    },
  };
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadAgentConfig', () => {
  it('resolves the built-in defaults like rust-keylime config_translate_keywords', () => {
    const { options } = setup({});
    const c = loadAgentConfig(options);
    expect(Object.isFrozen(c)).toBe(true);
    expect(c).toMatchObject({
      version: '2.0',
      apiVersions: ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'],
      uuid: 'd432fbb3-d2f1-4a97-9ef7-75bd81c00000',
      ip: '127.0.0.1',
      port: 9002,
      contactPort: 9002,
      registrarPort: 8890,
      registrarTlsPort: 8891,
      registrarTlsEnabled: false,
      registrarTlsCaCert: '/var/lib/keylime/cv_ca/cacert.crt',
      enableAgentMtls: true,
      keylimeDir: '/var/lib/keylime',
      serverKey: '/var/lib/keylime/server-private.pem',
      serverCert: '/var/lib/keylime/server-cert.crt',
      payloadKey: '/var/lib/keylime/payload-private.pem',
      trustedClientCa: ['/var/lib/keylime/cv_ca/cacert.crt'],
      revocationCert: '/var/lib/keylime/secure/unzipped/RevocationNotifier-cert.crt',
      revocationActions: [],
      ekHandle: '',
      iakCert: '/var/lib/keylime/iak-cert.crt',
      runAs: 'keylime:tss',
      agentDataPath: '/var/lib/keylime/agent_data.json',
      imaMlPath: '/sys/kernel/security/ima/ascii_runtime_measurements',
      measuredbootMlPath: '/sys/kernel/security/tpm0/binary_bios_measurements',
      registrarApiVersions: ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'],
      exponentialBackoffInitialDelayMs: 10000,
      tcti: DEFAULT_TCTI,
      files: [],
    });
    expect(loadAgentConfig({ ...options, euid: 1000 }).runAs).toBe('');
  });

  it("loads rust-keylime's shipped keylime-agent.conf unchanged", () => {
    const { options, root } = setup({ 'usr/etc/keylime/agent.conf': UPSTREAM_AGENT_CONF });
    const c = loadAgentConfig(options);
    expect(c.files).toEqual([path.join(root, 'usr/etc/keylime/agent.conf')]);
    expect(c.version).toBe('2.4');
    expect(c.iakIdevidTemplate).toBe('detect');
    expect(c.verifierTlsCaCert).toBe('/var/lib/keylime/cv_ca/cacert.crt');
    expect(c.warnings).toEqual([]);
  });

  it('layers /usr/etc file, /usr/etc snippets, /etc file, /etc snippets, then KEYLIME_AGENT_*', () => {
    const { options, root } = setup(
      {
        'usr/etc/keylime/agent.conf':
          '[agent]\nip = "10.0.0.1"\nport = 1\ncontact_port = 1\nregistrar_port = 1\nrevocation_notification_port = 1\n',
        'usr/etc/keylime/agent.conf.d/b.conf':
          '[agent]\nport = 2\ncontact_port = 2\nregistrar_port = 2\n',
        'usr/etc/keylime/agent.conf.d/a.conf': '[agent]\nport = 3\ncontact_port = 3\n',
        'etc/keylime/agent.conf': '[agent]\nport = 4\ncontact_port = 4\n',
        'etc/keylime/agent.conf.d/01-anything': '[agent]\nport = 5\n[other]\nport = 99\n',
      },
      { KEYLIME_AGENT_REVOCATION_NOTIFICATION_PORT: '6' },
    );
    const c = loadAgentConfig(options);
    expect([c.ip, c.port, c.contactPort, c.registrarPort, c.revocationNotificationPort]).toEqual([
      '10.0.0.1',
      5,
      4,
      2,
      6,
    ]);
    expect(c.files.map((f) => path.relative(root, f))).toEqual([
      'usr/etc/keylime/agent.conf',
      'usr/etc/keylime/agent.conf.d/a.conf',
      'usr/etc/keylime/agent.conf.d/b.conf',
      'etc/keylime/agent.conf',
      'etc/keylime/agent.conf.d/01-anything',
    ]);
    expect(c.raw.get('port')?.origin).toEqual({
      kind: 'file',
      file: path.join(root, 'etc/keylime/agent.conf.d/01-anything'),
      line: 2,
    });
  });

  it('KEYLIME_AGENT_CONFIG replaces all files and must exist', () => {
    const { options, root } = setup({
      'etc/keylime/agent.conf': '[agent]\nport = 4\nip = "10.9.9.9"\n',
      'custom.toml': '[agent]\nport = 7\n',
    });
    const c = loadAgentConfig({
      ...options,
      env: { KEYLIME_AGENT_CONFIG: path.join(root, 'custom.toml') },
    });
    expect(c.port).toBe(7);
    expect(c.ip).toBe('127.0.0.1');
    expect(
      errorOf(() =>
        loadAgentConfig({ ...options, env: { KEYLIME_AGENT_CONFIG: '/nonexistent/agent.conf' } }),
      ).message,
    ).toBe(
      'environment variable KEYLIME_AGENT_CONFIG: configuration file "/nonexistent/agent.conf" not found',
    );
  });

  it('KEYLIME_DIR wins over keylime_dir; paths resolve under it; uuid keywords are kept', () => {
    const { options } = setup(
      {
        'etc/keylime/agent.conf': [
          '[agent]',
          'keylime_dir = "/from/file"',
          'uuid = "hash_ek"',
          'server_key = "keys/server.pem"',
          'server_cert = "/abs/server.crt"',
          "trusted_client_ca = \"['cv_ca/cacert.crt', '/etc/other.crt']\"",
          'iak_cert = ""',
          'ek_handle = "0x81000000"',
          'ima_ml_path = "ima/log"',
          'revocation_actions = "a.py, b.py"',
        ].join('\n'),
      },
      { KEYLIME_DIR: '/srv/kl' },
    );
    const c = loadAgentConfig(options);
    expect(c).toMatchObject({
      keylimeDir: '/srv/kl',
      uuid: 'hash_ek',
      serverKey: '/srv/kl/keys/server.pem',
      serverCert: '/abs/server.crt',
      trustedClientCa: ['/srv/kl/cv_ca/cacert.crt', '/etc/other.crt'],
      iakCert: '',
      ekHandle: '0x81000000',
      imaMlPath: '/ima/log',
      revocationActions: ['a.py', 'b.py'],
    });
    expect(loadAgentConfig({ ...options, env: { KEYLIME_AGENT_UUID: 'generate' } }).uuid).toBe(
      'generate',
    );
    expect(loadAgentConfig({ ...options, env: {} }).keylimeDir).toBe('/from/file');
  });

  it('converts env strings to booleans and integers, and hosts like rust-keylime', () => {
    const { options } = setup(
      {},
      {
        KEYLIME_AGENT_ENABLE_AGENT_MTLS: 'false',
        KEYLIME_AGENT_EXTRACT_PAYLOAD_ZIP: 'No',
        KEYLIME_AGENT_PORT: '9999',
        KEYLIME_AGENT_IP: '[::1]',
        KEYLIME_AGENT_CONTACT_IP: 'agent-1.example.com',
        KEYLIME_AGENT_API_VERSIONS: 'latest',
        KEYLIME_AGENT_SOME_UNKNOWN_OPTION: 'kept',
      },
    );
    const c = loadAgentConfig(options);
    expect([
      c.enableAgentMtls,
      c.extractPayloadZip,
      c.port,
      c.ip,
      c.contactIp,
      c.apiVersions,
    ]).toEqual([false, false, 9999, '::1', 'agent-1.example.com', ['2.6']]);
    expect(c.raw.get('some_unknown_option')?.value).toBe('kept');
  });

  it('reads tcti from the file, TCTI, then KEYLIME_AGENT_TCTI', () => {
    const { options } = setup({
      'etc/keylime/agent.conf': '[agent]\ntcti = "swtpm:host=127.0.0.1,port=2321"\n',
    });
    expect(loadAgentConfig(options).tcti).toBe('swtpm:host=127.0.0.1,port=2321');
    expect(loadAgentConfig({ ...options, env: { TCTI: 'device:/dev/tpm0' } }).tcti).toBe(
      'device:/dev/tpm0',
    );
    expect(
      loadAgentConfig({
        ...options,
        env: { TCTI: 'device:/dev/tpm0', KEYLIME_AGENT_TCTI: 'swtpm:port=1' },
      }).tcti,
    ).toBe('swtpm:port=1');
    expect(loadAgentConfig({ ...setup({}).options }).tcti).toBe('device:/dev/tpmrm0');
  });

  it.each([
    ['port = "abc"', 'port: expected an integer 0-65535, got "abc"'],
    ['port = 70000', 'port: expected an integer 0-65535, got 70000'],
    [
      'enable_agent_mtls = "maybe"',
      'enable_agent_mtls: expected a boolean (true/false), got "maybe"',
    ],
    ['ip = "not a host!"', 'ip: expected an IP address or host name, got "not a host!"'],
    ['server_key = [1, 2]', 'server_key: expected a string, got [1,2]'],
    [
      'enable_revocation_notifications = true\nrevocation_notification_ip = ""',
      'revocation_notification_ip: must not be empty when enable_revocation_notifications = true',
    ],
  ])('rejects "%s" naming file, line and option', (line, problem) => {
    const { options, root } = setup({ 'etc/keylime/agent.conf': `# agent\n[agent]\n${line}\n` });
    const lineNo = line.includes('\n') ? 4 : 3;
    expect(errorOf(() => loadAgentConfig(options)).message).toBe(
      `${path.join(root, 'etc/keylime/agent.conf')}:${lineNo}: [agent] ${problem}`,
    );
  });

  it('names the variable for a bad env value and the line for bad TOML', () => {
    const { options, root } = setup({}, { KEYLIME_AGENT_PORT: 'abc' });
    expect(errorOf(() => loadAgentConfig(options)).message).toBe(
      'environment variable KEYLIME_AGENT_PORT: [agent] port: expected an integer 0-65535, got "abc"',
    );
    fs.mkdirSync(path.join(root, 'etc/keylime'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/keylime/agent.conf'), '[agent]\nport = \n');
    const error = errorOf(() => loadAgentConfig({ ...options, env: {} }));
    expect(error.message).toMatch(
      new RegExp(`^${path.join(root, 'etc/keylime/agent.conf')}:2: invalid TOML: `),
    );
    expect(error.message).not.toContain('\n');
  });

  it('has a default for every option of the shipped agent.conf', () => {
    const names = [...UPSTREAM_AGENT_CONF.matchAll(/^([a-z_]+)\s*=/gm)].map((m) => m[1]);
    for (const name of names) expect(Object.keys(AGENT_DEFAULTS)).toContain(name);
  });
});

describe('agent list and api_versions parsing', () => {
  it.each([
    ['default', ['default']],
    ['[aa, bb]', ['aa', 'bb']],
    ['[\'aa\', "bb", cc]', ['aa', 'bb', 'cc']],
    ['aa bb\ncc\tdd', ['aa', 'bb', 'cc', 'dd']],
    ['aa,bb,', ['aa', 'bb']],
    ['', []],
  ])('parseAgentList(%p)', (text, expected) => {
    expect(parseAgentList(text)).toEqual(expected);
  });

  it('filters and sorts api_versions, falling back to all supported', () => {
    const warnings: string[] = [];
    expect(parseApiVersions('2.5, 2.4, 9.9', undefined, warnings)).toEqual(['2.4', '2.5']);
    expect(warnings).toEqual(['skipping API version "9.9" from api_versions: not supported']);
    expect(parseApiVersions('9.9')).toEqual(['2.1', '2.2', '2.3', '2.4', '2.5', '2.6']);
    expect(parseApiVersions('default', ['2.1', '2.2'])).toEqual(['2.1', '2.2']);
    expect(parseApiVersions('latest', ['2.1', '2.2'])).toEqual(['2.2']);
  });
});
