import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_EXIT_CODE, ConfigError, describeValue, formatConfigError } from './config-error';
import { loadComponentConfig } from './component-loader';
import type { ConfigLoadOptions } from './component-loader';
import { CA_DEFAULTS, loadCaConfig } from './ca-config';
import { loadLoggingConfig } from './logging-config';
import { REGISTRAR_DEFAULTS, loadRegistrarConfig } from './registrar-config';
import { TENANT_DEFAULTS, loadTenantConfig } from './tenant-config';
import {
  VERIFIER_DEFAULTS,
  VERIFIER_REVOCATIONS_DEFAULTS,
  loadVerifierConfig,
} from './verifier-config';

const DEFAULTS_DIR = path.join(__dirname, '..', 'test-data', 'upstream-defaults');
const roots: string[] = [];
afterAll(() => {
  for (const dir of roots) fs.rmSync(dir, { recursive: true, force: true });
});

/** A temp /etc/keylime holding `files`; returns loader options and the root. */
function setup(
  files: Readonly<Record<string, string>>,
  env: Record<string, string> = {},
): { options: ConfigLoadOptions; etc: string; work: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-roles-'));
  roots.push(root);
  const etc = path.join(root, 'etc/keylime');
  fs.mkdirSync(etc, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(etc, name)), { recursive: true });
    fs.writeFileSync(path.join(etc, name), content);
  }
  const work = path.join(root, 'work');
  return {
    options: {
      env: { KEYLIME_DIR: work, ...env },
      etcDirs: [etc, path.join(root, 'usr/etc/keylime')],
    },
    etc,
    work,
  };
}

function upstreamDefault(component: string): string {
  return fs.readFileSync(path.join(DEFAULTS_DIR, `${component}.conf`), 'utf8');
}

function withoutRaw<T extends { raw: unknown }>(config: T): Omit<T, 'raw'> {
  const { raw: _raw, ...rest } = config;
  return rest;
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

describe('built-in defaults match the files upstream generates (keylime_upgrade_config --defaults)', () => {
  it.each([
    ['verifier', 'verifier', { ...VERIFIER_DEFAULTS }],
    ['verifier', 'revocations', { ...VERIFIER_REVOCATIONS_DEFAULTS }],
    ['registrar', 'registrar', { ...REGISTRAR_DEFAULTS }],
    ['tenant', 'tenant', { ...TENANT_DEFAULTS }],
    ['ca', 'ca', { ...CA_DEFAULTS }],
  ] as const)('%s.conf [%s]', (component, section, defaults) => {
    const { options } = setup({ [`${component}.conf`]: upstreamDefault(component) });
    const raw = loadComponentConfig(component, options);
    const fromFile = Object.fromEntries(
      raw.ini.options(section).map((o) => [o, raw.ini.get(section, o)?.replace(/^"|"$/g, '')]),
    );
    // Options upstream reads with a code fallback but does not write into the template, and
    // keylime-ts's own options.
    const codeOnly = new Set(['nonce_lifetime', 'max_upload_size', 'agent_tls_engine']);
    const ours = Object.fromEntries(
      Object.entries(defaults).filter(([k]) => !(codeOnly.has(k) && !(k in fromFile))),
    );
    expect(ours).toEqual(fromFile);
  });

  it.each([
    ['verifier', loadVerifierConfig],
    ['registrar', loadRegistrarConfig],
    ['tenant', loadTenantConfig],
    ['ca', loadCaConfig],
  ] as const)(
    '%s: the upstream default file and no file at all give the same typed config',
    (component, load) => {
      const withFile = setup({ [`${component}.conf`]: upstreamDefault(component) });
      const empty = setup({});
      const a = withoutRaw(load(withFile.options) as { raw: unknown });
      const b = withoutRaw(
        load({ ...empty.options, env: { KEYLIME_DIR: withFile.work } }) as { raw: unknown },
      );
      expect(a).toEqual(b);
    },
  );
});

describe('loadVerifierConfig', () => {
  it('types and resolves the upstream defaults', () => {
    const { options, work } = setup({ 'verifier.conf': upstreamDefault('verifier') });
    const c = loadVerifierConfig(options);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.revocations)).toBe(true);
    expect(c).toMatchObject({
      uuid: 'default',
      ip: '127.0.0.1',
      port: 8881,
      registrarPort: 8891,
      enableAgentMtls: true,
      tls: { dir: path.join(work, 'cv_ca'), generate: true },
      serverKey: path.join(work, 'cv_ca', 'server-private.pem'),
      serverCert: path.join(work, 'cv_ca', 'server-cert.crt'),
      serverKeyPassword: undefined,
      clientKey: path.join(work, 'cv_ca', 'client-private.pem'),
      clientCert: path.join(work, 'cv_ca', 'client-cert.crt'),
      trustedClientCa: { verifyPeer: true, files: [path.join(work, 'cv_ca', 'cacert.crt')] },
      trustedServerCa: { verifyPeer: true, files: [path.join(work, 'cv_ca', 'cacert.crt')] },
      database: {
        kind: 'sqlite',
        file: path.join(work, 'cv_data.sqlite'),
        url: `sqlite:///${path.join(work, 'cv_data.sqlite')}`,
      },
      numWorkers: 0,
      maxWorkers: 16,
      quoteIntervalSeconds: 2,
      retryIntervalSeconds: 2,
      maxRetries: 5,
      requestTimeoutSeconds: 60,
      maxUploadSize: 104857600,
      measuredBootPolicyName: 'accept-all',
      measuredBootImports: [],
      measuredBootEvaluate: 'once',
      severityLabels: ['info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'],
      severityPolicy: [{ eventId: '.*', severityLabel: 'emergency' }],
      ignoreTomtouErrors: false,
      mode: 'pull',
      challengeLifetimeSeconds: 1800,
      sessionLifetimeSeconds: 180,
      nonceLifetimeSeconds: 60,
      agentTlsEngine: 'builtin',
      shutdownDrainTimeoutSeconds: 10,
      durableAttestation: {
        importModule: undefined,
        persistentStoreFormat: 'json',
        transparencyLogSignAlgo: 'sha256',
        signedAttributes: [],
      },
      revocations: {
        enabledRevocationNotifications: ['agent'],
        zmqIp: '127.0.0.1',
        zmqPort: 8992,
        webhookUrl: undefined,
      },
    });
    expect(c.raw.files).toHaveLength(1);
  });

  it('applies env overrides, section form included, over the files', () => {
    const { options } = setup(
      { 'verifier.conf': upstreamDefault('verifier') },
      {
        KEYLIME_VERIFIER_QUOTE_INTERVAL: '0.5',
        KEYLIME_VERIFIER_ENABLE_AGENT_MTLS: 'off',
        KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT: '9000',
        KEYLIME_VERIFIER_REVOCATIONS_ENABLED_REVOCATION_NOTIFICATIONS: "['agent', 'webhook']",
        KEYLIME_VERIFIER_REVOCATIONS_WEBHOOK_URL: '"http://hook.example/x"',
        KEYLIME_VERIFIER_MODE: 'push',
      },
    );
    const c = loadVerifierConfig(options);
    expect(c.quoteIntervalSeconds).toBe(0.5);
    expect(c.enableAgentMtls).toBe(false);
    expect(c.mode).toBe('push');
    expect(c.revocations).toEqual({
      enabledRevocationNotifications: ['agent', 'webhook'],
      zmqIp: '127.0.0.1',
      zmqPort: 9000,
      webhookUrl: 'http://hook.example/x',
    });
  });

  it('resolves tls_dir paths, trusted CA lists, "all" and a server database', () => {
    const { options, work } = setup({
      'verifier.conf': [
        '[verifier]',
        'tls_dir = mytls',
        'server_key = keys/server.pem',
        'server_cert = /abs/cert.pem',
        'server_key_password = "s3cret"',
        "trusted_client_ca = ['ca1.crt', '/abs/ca2.crt']",
        'trusted_server_ca = all',
        'client_cert =',
        'database_url = postgresql://kl:pw@db/keylime',
        'database_pool_sz_ovfl = 20, 40',
        'cert_subject_alternative_names = verifier.example, 10.1.1.1',
        'mode =',
      ].join('\n'),
    });
    const c = loadVerifierConfig(options);
    const tlsDir = path.join(work, 'mytls');
    expect(c.tls).toEqual({ dir: tlsDir, generate: false });
    expect(c.serverKey).toBe(path.join(tlsDir, 'keys/server.pem'));
    expect(c.serverCert).toBe('/abs/cert.pem');
    expect(c.serverKeyPassword).toBe('s3cret');
    expect(c.clientCert).toBeUndefined();
    expect(c.trustedClientCa).toEqual({
      verifyPeer: true,
      files: [path.join(tlsDir, 'ca1.crt'), '/abs/ca2.crt'],
    });
    expect(c.trustedServerCa).toEqual({ verifyPeer: false, files: [] });
    expect(c.database).toEqual({
      kind: 'url',
      url: 'postgresql://kl:pw@db/keylime',
      poolSize: 20,
      maxOverflow: 40,
    });
    expect(c.certSubjectAlternativeNames).toEqual(['verifier.example', '10.1.1.1']);
    expect(c.mode).toBe('pull');
  });

  it('keeps unknown options reachable through raw', () => {
    const { options } = setup({
      'verifier.conf': '[verifier]\nsome_future_option = 42\n[extra]\nx = y\n',
    });
    const c = loadVerifierConfig(options);
    expect(c.raw.get('some_future_option')?.value).toBe('42');
    expect(c.raw.get('x', 'extra')?.value).toBe('y');
  });

  it.each([
    ['quote_interval = abc', 'quote_interval: expected a number, got "abc"'],
    ['quote_interval = -1', 'quote_interval: expected a number >= 0, got -1'],
    ['port = 99999', 'port: expected a port number (0-65535), got "99999"'],
    [
      'enable_agent_mtls = maybe',
      'enable_agent_mtls: expected a boolean (true/false, yes/no, on/off, 1/0), got "maybe"',
    ],
    ['max_retries = 2.5', 'max_retries: expected an integer, got "2.5"'],
    [
      'measured_boot_imports = foo, bar',
      `measured_boot_imports: expected a Python list such as ['a', 'b'], got "foo, bar" (names are not literals: "foo" at offset 0)`,
    ],
    [
      'measured_boot_evaluate = sometimes',
      'measured_boot_evaluate: expected one of once, always, got "sometimes"',
    ],
    ['mode = pul', 'mode: expected one of pull, push, got "pul"'],
    [
      'agent_tls_engine = gnutls',
      'agent_tls_engine: expected one of builtin, openssl, got "gnutls"',
    ],
    [
      'severity_policy = [{"event_id": ".*", "severity_label": "loud"}]',
      'severity_policy: label "loud" is not in severity_labels',
    ],
    [
      'database_url = postgresql://db/x\ndatabase_pool_sz_ovfl = 5',
      'database_pool_sz_ovfl: expected "pool size,max overflow" such as "5,10", got "5"',
    ],
    [
      'server_cert = mine.crt',
      'server_cert: must be "default" when tls_dir = generate, got "mine.crt"',
    ],
    ['tls_dir =', 'tls_dir: must not be empty (use "default", "generate" or a directory)'],
  ])('rejects "%s" with one line naming file, line, section and option', (line, problem) => {
    const { options, etc } = setup({ 'verifier.conf': `[verifier]\n${line}\n` });
    const error = errorOf(() => loadVerifierConfig(options));
    const lineNo = line.includes('\ndatabase_pool_sz_ovfl') ? 3 : 2;
    expect(error.message).toBe(
      `${path.join(etc, 'verifier.conf')}:${lineNo}: [verifier] ${problem}`,
    );
    expect(error.message).not.toContain('\n');
  });

  it('names the environment variable when an override is bad', () => {
    const { options } = setup({}, { KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT: 'x' });
    expect(errorOf(() => loadVerifierConfig(options)).message).toBe(
      'environment variable KEYLIME_VERIFIER_REVOCATIONS_ZMQ_PORT: [revocations] zmq_port: expected a port number (0-65535), got "x"',
    );
  });

  it('never prints a password value', () => {
    const { options } = setup({}, { KEYLIME_VERIFIER_SERVER_KEY_PASSWORD: 'hunter2' });
    expect(loadVerifierConfig(options).serverKeyPassword).toBe('hunter2');
    expect(describeValue('hunter2', 'server_key_password')).toBe('(value hidden)');
    expect(describeValue('x'.repeat(100))).toBe(JSON.stringify(`${'x'.repeat(77)}...`));
  });
});

describe('loadRegistrarConfig', () => {
  it('types the upstream defaults; tls_dir = generate uses reg_ca', () => {
    const { options, work } = setup({
      'registrar.conf': upstreamDefault('registrar').replace(
        'tls_dir = default',
        'tls_dir = generate',
      ),
    });
    const c = loadRegistrarConfig(options);
    expect(c).toMatchObject({
      ip: '127.0.0.1',
      port: 8890,
      tlsPort: 8891,
      tls: { dir: path.join(work, 'reg_ca'), generate: true },
      serverKey: path.join(work, 'reg_ca', 'server-private.pem'),
      trustedClientCa: { verifyPeer: true, files: [path.join(work, 'cv_ca', 'cacert.crt')] },
      database: { kind: 'sqlite', file: path.join(work, 'reg_data.sqlite') },
      maxWorkers: 16,
      autoMigrateDb: true,
      maxUploadSize: 104857600,
      tpmIdentity: 'default',
      malformedCertAction: 'warn',
      durableAttestation: { signedAttributes: ['ek_tpm', 'aik_tpm', 'ekcert'] },
    });
  });

  it('reads tls_dir = default as WORK_DIR/cv_ca and rejects an unknown tpm_identity', () => {
    const ok = setup({ 'registrar.conf': upstreamDefault('registrar') });
    expect(loadRegistrarConfig(ok.options).tls).toEqual({
      dir: path.join(ok.work, 'cv_ca'),
      generate: false,
    });
    const bad = setup({}, { KEYLIME_REGISTRAR_TPM_IDENTITY: 'tpm' });
    expect(errorOf(() => loadRegistrarConfig(bad.options)).message).toBe(
      'environment variable KEYLIME_REGISTRAR_TPM_IDENTITY: [registrar] tpm_identity: expected one of default, ek_cert_or_iak_idevid, ek_cert, iak_idevid, got "tpm"',
    );
  });
});

describe('loadTenantConfig', () => {
  it('types the upstream defaults', () => {
    const { options, work } = setup({ 'tenant.conf': upstreamDefault('tenant') });
    const c = loadTenantConfig(options);
    expect(c).toMatchObject({
      verifierIp: '127.0.0.1',
      verifierPort: 8881,
      registrarPort: 8891,
      tls: { dir: path.join(work, 'cv_ca'), generate: false },
      clientKey: path.join(work, 'cv_ca', 'client-private.pem'),
      tpmCertStore: '/var/lib/keylime/tpm_cert_store',
      maxPayloadSize: 1048576,
      acceptTpmHashAlgs: ['sha512', 'sha384', 'sha256'],
      acceptTpmEncryptionAlgs: ['ecc', 'rsa'],
      acceptTpmSigningAlgs: ['ecschnorr', 'rsassa'],
      exponentialBackoff: true,
      retryIntervalSeconds: 2,
      maxRetries: 5,
      requestTimeoutSeconds: 60,
      requireEkCert: true,
      ekCheckScript: undefined,
      mbRefstate: undefined,
    });
  });

  it('refuses tls_dir = generate, which upstream supports only for verifier and registrar', () => {
    const { options, etc } = setup({ 'tenant.conf': '[tenant]\ntls_dir = generate\n' });
    expect(errorOf(() => loadTenantConfig(options)).message).toBe(
      `${path.join(etc, 'tenant.conf')}:2: [tenant] tls_dir: "generate" is only supported for the verifier and the registrar`,
    );
  });

  it('reads a list continued over several lines', () => {
    const { options } = setup({
      'tenant.conf': "[tenant]\naccept_tpm_signing_algs = ['ecschnorr',\n    'rsassa', 'ecdsa']\n",
    });
    expect(loadTenantConfig(options).acceptTpmSigningAlgs).toEqual([
      'ecschnorr',
      'rsassa',
      'ecdsa',
    ]);
  });
});

describe('loadCaConfig and loadLoggingConfig', () => {
  it('types ca.conf', () => {
    const { options } = setup({ 'ca.conf': upstreamDefault('ca') });
    expect(loadCaConfig(options)).toMatchObject({
      password: 'default',
      certCountry: 'US',
      certCaName: 'Keylime Certificate Authority',
      certOrgUnit: '53',
      certCaLifetimeDays: 3650,
      certLifetimeDays: 365,
      certBits: 2048,
      certCrlDist: 'http://localhost:38080/crl',
    });
  });

  it('reads levels and format from logging.conf', () => {
    const { options } = setup({
      'logging.conf': upstreamDefault('logging').replace(
        'level = INFO\nqualname',
        'level = DEBUG\nqualname',
      ),
    });
    const c = loadLoggingConfig(options);
    expect(c.rootLevel).toBe('INFO');
    expect(c.keylimeLevel).toBe('DEBUG');
    expect(c.format).toBe('%(asctime)s.%(msecs)03d - %(name)s - %(levelname)s - %(message)s');
    expect(c.datefmt).toBe('%Y-%m-%d %H:%M:%S');
  });

  it('rejects an unknown logging level', () => {
    const { options, etc } = setup({ 'logging.conf': '[logger_root]\nlevel = LOUD\n' });
    expect(errorOf(() => loadLoggingConfig(options)).message).toBe(
      `${path.join(etc, 'logging.conf')}:2: [logger_root] level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, NOTSET, got "LOUD"`,
    );
  });
});

describe('formatConfigError', () => {
  it('gives one line for config errors and for anything else', () => {
    const error = new ConfigError('KL_CONFIG_INVALID_VALUE', {
      origin: { kind: 'file', file: '/etc/keylime/verifier.conf', line: 3 },
      section: 'verifier',
      option: 'quote_interval',
      problem: 'expected a number, got "abc"',
    });
    expect(formatConfigError(error)).toBe(
      'configuration error: /etc/keylime/verifier.conf:3: [verifier] quote_interval: expected a number, got "abc"',
    );
    expect(formatConfigError(new Error('two\nlines'))).toBe('configuration error: two lines');
    expect(CONFIG_EXIT_CODE).toBe(2);
  });
});
