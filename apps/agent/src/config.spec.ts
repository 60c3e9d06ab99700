/** @module config.spec: agent settings derived from agent.conf and the environment. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@keylime/config';
import { encAlgForApi, loadAgentSettings, parseSecureSize } from './config';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kl-agent-conf-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function load(env: Record<string, string>, toml = '[agent]\n') {
  const file = path.join(dir, 'agent.conf');
  fs.writeFileSync(file, toml);
  return loadAgentSettings({
    env: { KEYLIME_AGENT_CONFIG: file, KEYLIME_DIR: dir, ...env },
    euid: 1000,
  });
}

test('defaults: RSA EK, RSASSA AK, SHA-256, TCTI device, all versions, payloads over mTLS', () => {
  const s = load({});
  expect(s.algorithms).toEqual({ hash: 'sha256', ek: 'rsa2048', ak: 'rsa2048', sign: 'rsassa' });
  expect(s.config.tcti).toBe('device:/dev/tpmrm0');
  expect(s.config.apiVersions).toEqual(['2.1', '2.2', '2.3', '2.4', '2.5', '2.6']);
  expect(s.runPayloads).toBe(true);
  expect(s.secureSizeBytes).toBe(1024 * 1024);
  expect(s.secureDir).toBe(path.join(dir, 'secure'));
  expect(s.ekHandle).toBeUndefined();
});

test('TCTI, KEYLIME_AGENT_* and the file are honoured', () => {
  const s = load(
    { TCTI: 'swtpm:host=127.0.0.1,port=2321', KEYLIME_AGENT_TPM_HASH_ALG: 'sha384' },
    '[agent]\ntpm_encryption_alg = "ecc"\ntpm_signing_alg = "ecdsa"\nek_handle = "0x81010001"\n',
  );
  expect(s.config.tcti).toBe('swtpm:host=127.0.0.1,port=2321');
  expect(s.algorithms).toEqual({ hash: 'sha384', ek: 'ecc256', ak: 'ecc256', sign: 'ecdsa' });
  expect(s.ekHandle).toBe(0x81010001);
});

test.each([
  [{ KEYLIME_AGENT_TPM_HASH_ALG: 'md5' }, /tpm_hash_alg/],
  [{ KEYLIME_AGENT_TPM_SIGNING_ALG: 'rsapss' }, /tpm_signing_alg/],
  [{ KEYLIME_AGENT_EK_HANDLE: '0x1234' }, /ek_handle/],
  [{ KEYLIME_AGENT_SECURE_SIZE: 'lots' }, /secure_size/],
  [{ KEYLIME_AGENT_ENABLE_AGENT_MTLS: 'false' }, /enable_insecure_payload/],
  [{ KEYLIME_AGENT_ENC_KEYNAME: '../k' }, /enc_keyname/],
])('refuses %p with a one-line ConfigError', (env, pattern) => {
  let error: unknown;
  try {
    load(env);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).not.toContain('\n');
});

test('mTLS off is accepted with enable_insecure_payload', () => {
  const s = load({
    KEYLIME_AGENT_ENABLE_AGENT_MTLS: 'false',
    KEYLIME_AGENT_ENABLE_INSECURE_PAYLOAD: 'true',
  });
  expect(s.runPayloads).toBe(true);
});

test('secure_size and enc_alg spellings', () => {
  expect(parseSecureSize('1m')).toBe(1048576);
  expect(parseSecureSize('512k')).toBe(524288);
  expect(parseSecureSize('0')).toBeUndefined();
  expect(encAlgForApi('rsa2048', '2.4')).toBe('rsa');
  expect(encAlgForApi('ecc256', '2.1')).toBe('ecc');
  expect(encAlgForApi('rsa2048', '2.5')).toBe('rsa2048');
  expect(encAlgForApi('ecc384', '2.4')).toBe('ecc384');
});
