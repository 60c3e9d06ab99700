/**
 * @module tests/agent.spec: the agent on swtpm against our registrar process, over real mTLS —
 * registration, the wire format of every endpoint, quotes that verify with @keylime/tpm, the IMA
 * list replaying to the quoted PCR 10, hostile input, and identity kept across a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromBase64 } from '@keylime/core';
import {
  encryptPayload,
  keysVerifyHmac,
  rsaOaepEncrypt,
  signRevocationMessage,
  ukeyAuthTag,
  xorBytes,
} from '@keylime/crypto';
import { replayMeasurementList } from '@keylime/ima';
import { checkDataPcr, prepareQuoteKey, verifyQuote } from '@keylime/tpm';
import { listLoadedHandles } from '@keylime/tpm-device';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the IMA test tool lives in tools/swtpm, outside any project
import { appendImaMeasurements } from '../../../tools/swtpm/ima-writer';
import { startHarness, UEFI_LOG } from './support/harness';
import { makeZip } from './support/zip';
import type { ZipMember } from './support/zip';
import type { Harness } from './support/harness';

let h: Harness;
let akTpm: Uint8Array;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);
afterAll(async () => {
  await h?.stop();
});

function results(r: { json: unknown }): Record<string, unknown> {
  return (r.json as { results: Record<string, unknown> }).results;
}

describe('start-up', () => {
  test('registers and activates: the registrar shows the agent with our AK, EK cert and mTLS cert', async () => {
    const id = h.agent.agentUuid;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const r = await h.registrarGet(`/v2.6/agents/${id}`);
    expect(r.status).toBe(200);
    const rec = results(r);
    expect(Object.keys(rec)).toEqual([
      'agent_id',
      'ek_tpm',
      'ekcert',
      'aik_tpm',
      'ip',
      'port',
      'mtls_cert',
      'regcount',
    ]);
    expect(rec['mtls_cert']).toBe(fs.readFileSync(path.join(h.dir, 'server-cert.crt'), 'utf8'));
    expect(rec['ekcert']).toEqual(expect.any(String));
    expect(rec['ip']).toBe('127.0.0.1');
    expect(rec['port']).toBe(9002);
    akTpm = fromBase64(rec['aik_tpm'] as string);
    expect(h.logs.some((l) => l.includes(`SUCCESS: Agent ${id} activated`))).toBe(true);
  });
});

describe('version routing', () => {
  test('/version lists the enabled versions', async () => {
    const r = await h.get('/version');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      code: 200,
      status: 'Success',
      results: {
        supported_version: '2.6',
        supported_versions: ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'],
      },
    });
  });

  test('an unsupported version gets exactly the text the verifier renegotiates on', async () => {
    const r = await h.get('/v2.0/quotes/identity?nonce=abc');
    expect(r.status).toBe(400);
    expect(r.text).toBe('{"code":400,"status":"API version not supported: v2.0","results":{}}');
  });

  test('unknown paths answer with RK hints; wrong methods 405 with Allow', async () => {
    expect((await h.get('/nothing')).json).toEqual({
      code: 400,
      status: 'Not Implemented: Use /2.1, /2.2, /2.3, /2.4, /2.5, /2.6 or /version interfaces',
      results: {},
    });
    const inScope = await h.get('/v2.6/keys/nothing');
    expect(inScope.status).toBe(400);
    const del = await h.call('DELETE', '/v2.6/keys/nothing');
    expect(del.status).toBe(405);
    expect(del.headers['allow']).toBe('GET, POST');
    expect((await h.get('/v2.1/agent/info')).status).toBe(400);
  });
});

describe('mTLS', () => {
  test('a client without a certificate, or with one from another CA, is refused at the handshake', async () => {
    const ca = h.client().ca;
    await expect(h.get('/version', { ca })).rejects.toThrow();
    await expect(
      h.get('/version', {
        ca,
        cert: h.pki.stranger.certificatePem,
        key: h.pki.stranger.privateKeyPem,
      }),
    ).rejects.toThrow();
  });
});

describe('quotes', () => {
  test('identity quote verifies with the registered AK and binds the NK to PCR 16', async () => {
    const r = await h.get('/v2.6/quotes/identity?nonce=1234567890ABCDEFHIJ');
    expect(r.status).toBe(200);
    const q = results(r);
    expect(Object.keys(q)).toEqual(['quote', 'hash_alg', 'enc_alg', 'sign_alg', 'pubkey']);
    expect(q).toMatchObject({ hash_alg: 'sha256', enc_alg: 'rsa2048', sign_alg: 'rsassa' });
    const pub = results(await h.get('/v2.6/keys/pubkey'))['pubkey'];
    expect(q['pubkey']).toBe(pub);
    const verdict = verifyQuote(q['quote'] as string, {
      ak: prepareQuoteKey(akTpm),
      nonce: '1234567890ABCDEFHIJ',
      hashAlg: 'sha256',
    });
    if (!verdict.ok) throw new Error(JSON.stringify(verdict));
    expect([...verdict.value.pcrs.keys()]).toEqual([16]);
    expect(checkDataPcr(verdict.value, q['pubkey'] as string)).toBeUndefined();
    // API 2.4 spells the encryption algorithm without its size.
    expect(results(await h.get('/v2.4/quotes/identity?nonce=abc'))['enc_alg']).toBe('rsa');
  });

  test('integrity quote: the IMA list replays to the quoted PCR 10, entries slice, UEFI log with PCR 0', async () => {
    await appendImaMeasurements({
      tpm: h.tpm,
      file: h.imaLog,
      measurements: [
        { path: 'boot_aggregate' },
        { path: '/usr/bin/bash' },
        { path: '/usr/lib/libc.so.6' },
      ],
    });
    const r = await h.get(
      '/v2.6/quotes/integrity?nonce=abcdefghij0123456789&mask=0x401&partial=0&ima_ml_entry=0',
    );
    expect(r.status).toBe(200);
    const q = results(r);
    expect(Object.keys(q)).toEqual([
      'quote',
      'hash_alg',
      'enc_alg',
      'sign_alg',
      'pubkey',
      'ima_measurement_list',
      'mb_measurement_list',
      'ima_measurement_list_entry',
    ]);
    const verdict = verifyQuote(q['quote'] as string, {
      ak: prepareQuoteKey(akTpm),
      nonce: 'abcdefghij0123456789',
      hashAlg: 'sha256',
    });
    if (!verdict.ok) throw new Error(JSON.stringify(verdict));
    expect([...verdict.value.pcrs.keys()]).toEqual([0, 10, 16]);
    const replay = replayMeasurementList(q['ima_measurement_list'] as string, ['sha256']);
    expect(replay.errors).toEqual([]);
    expect(replay.entries).toBe(3);
    expect(replay.pcr10.sha256).toBe(verdict.value.pcrs.get(10));
    expect(q['mb_measurement_list']).toBe(fs.readFileSync(UEFI_LOG).toString('base64'));
    expect(q['ima_measurement_list_entry']).toBe(0);

    const partial = results(
      await h.get('/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1&ima_ml_entry=2'),
    );
    expect(Object.keys(partial)).toEqual([
      'quote',
      'hash_alg',
      'enc_alg',
      'sign_alg',
      'ima_measurement_list',
      'ima_measurement_list_entry',
    ]);
    expect(partial['ima_measurement_list']).toMatch(
      /^10 [0-9a-f]{40} ima-ng sha256:[0-9a-f]{64} \/usr\/lib\/libc\.so\.6\n$/,
    );
    expect(partial['ima_measurement_list_entry']).toBe(2);
    const beyond = results(
      await h.get('/v2.6/quotes/integrity?nonce=abc&mask=0x400&partial=1&ima_ml_entry=99'),
    );
    expect(beyond['ima_measurement_list_entry']).toBe(0);
    expect(beyond['ima_measurement_list']).toBe(fs.readFileSync(h.imaLog, 'utf8'));
  });

  test('between requests the agent holds no TPM connection and leaves nothing loaded', async () => {
    await Promise.all([
      h.get('/v2.6/quotes/identity?nonce=one'),
      h.get('/v2.6/quotes/integrity?nonce=two&mask=0x400&partial=1'),
    ]);
    // swtpm serves one connection at a time: this succeeds only if the agent let go of it.
    expect(await listLoadedHandles(h.tpm)).toEqual([]);
  });
});

describe('hostile input gets a clear 4xx envelope', () => {
  const long = 'a'.repeat(65);
  test.each([
    ['/v2.6/quotes/identity?nonce=abc%24', 'nonce should be strictly alphanumeric: abc$'],
    [`/v2.6/quotes/identity?nonce=${long}`, 'Nonce is too long (max size: 64): 65'],
    ['/v2.6/quotes/identity', 'Query deserialize error: missing field `nonce`'],
    ['/v2.6/quotes/identity?nonce=a&nonce=b', 'Query parameter nonce must be given once'],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0xZZ&partial=0',
      'mask should be a hex encoded 32-bit integer: 0xZZ',
    ],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0x-1&partial=0',
      'mask should be strictly alphanumeric: 0x-1',
    ],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0x1000000&partial=0',
      'only pcrs 0-23 can be included in integrity quote, but mask included pcr 24',
    ],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0x1&partial=2',
      "uri must contain key 'partial' and value '0' or '1'",
    ],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0x1',
      "uri must contain key 'partial' and value '0' or '1'",
    ],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0x1&partial=1&ima_ml_entry=-1',
      'ima_ml_entry should be a non-negative decimal integer: -1',
    ],
    [
      '/v2.6/quotes/integrity?nonce=abc&mask=0x1&partial=1&ima_ml_entry=1e3',
      'ima_ml_entry should be a non-negative decimal integer: 1e3',
    ],
    ['/v2.6/keys/verify', 'Query deserialize error: missing field `challenge`'],
    ['/v2.6/keys/verify?challenge=', 'No challenge provided.'],
    ['/v2.6/keys/verify?challenge=ab%21', 'Parameters should be strictly alphanumeric: ab!'],
    ['/v2.6/keys/verify?challenge=abc', 'Bootstrap key not yet available.'],
  ])('GET %s', async (url, status) => {
    const r = await h.get(url);
    expect(r.json).toEqual({ code: 400, status, results: {} });
  });

  test('bad key halves, tags and payloads', async () => {
    const pub = results(await h.get('/v2.6/keys/pubkey'))['pubkey'] as string;
    const enc = (n: number): string =>
      Buffer.from(rsaOaepEncrypt(pub, new Uint8Array(n))).toString('base64');
    const tag = 'a'.repeat(96);
    const cases: [unknown, RegExp][] = [
      [{}, /^Json deserialize error: encrypted_key/],
      [{ encrypted_key: 5, auth_tag: tag }, /^Json deserialize error: encrypted_key/],
      [
        { encrypted_key: 'not base64!', auth_tag: tag },
        /^Invalid base64 encoding in encrypted_key/,
      ],
      [
        { encrypted_key: Buffer.alloc(256).toString('base64'), auth_tag: tag },
        /^Failed to decrypt encrypted_key/,
      ],
      [{ encrypted_key: enc(20), auth_tag: tag }, /^Invalid decrypted key: key length 20/],
      [{ encrypted_key: enc(32), auth_tag: 'zz'.repeat(48) }, /^Invalid hex encoding in auth_tag/],
      [{ encrypted_key: enc(32), auth_tag: 'ab' }, /^auth_tag must be 48 bytes/],
      [
        { encrypted_key: enc(32), auth_tag: tag, payload: '@@@' },
        /^Invalid base64 encoding in payload/,
      ],
      [
        { encrypted_key: enc(32), auth_tag: tag, payload: 'AAAA' },
        /^Invalid payload: shorter than IV/,
      ],
    ];
    for (const [body, pattern] of cases) {
      const r = await h.post('/v2.6/keys/ukey', body);
      expect(r.status).toBe(400);
      expect((r.json as { status: string }).status).toMatch(pattern);
    }
    const v = await h.post('/v2.6/keys/vkey', { encrypted_key: enc(7) });
    expect((v.json as { status: string }).status).toMatch(/^Decrypted key is invalid/);
    expect((await h.post('/v2.6/keys/vkey', '{"encrypted_key":', undefined)).json).toEqual({
      code: 400,
      status: 'Malformed JSON in request body',
      results: {},
    });
    expect((await h.post('/v2.6/keys/vkey', '{}', undefined, undefined)).status).toBe(400);
    expect((await h.post('/v2.6/keys/vkey', 'x'.repeat(3 << 20))).status).toBe(413);
    expect((await h.post('/v2.6/notifications/revocation', { msg: 'x' })).status).toBe(400);
  });
});

/** Sends a payload the way tenant (U) and verifier (V) do; returns K. */
async function deliver(members: readonly ZipMember[]): Promise<Uint8Array> {
  const k = new Uint8Array(randomBytes(32));
  const v = new Uint8Array(randomBytes(32));
  const u = xorBytes(k, v);
  const pub = results(await h.get('/v2.6/keys/pubkey'))['pubkey'] as string;
  const enc = (x: Uint8Array): string => Buffer.from(rsaOaepEncrypt(pub, x)).toString('base64');
  const ukey = await h.post('/v2.6/keys/ukey', {
    encrypted_key: enc(u),
    auth_tag: ukeyAuthTag(k, h.agent.agentUuid),
    payload: encryptPayload(k, makeZip(members)),
  });
  expect(ukey.json).toEqual({ code: 200, status: 'Success', results: {} });
  expect((await h.post('/v2.6/keys/vkey', { encrypted_key: enc(v) })).status).toBe(200);
  await h.agent.idle();
  return k;
}

function revocation(msg: string, signer = h.pki.revocation.privateKeyPem) {
  return h.post('/v2.6/notifications/revocation', {
    msg,
    signature: signRevocationMessage(signer, msg),
  });
}

describe('secrets: payload through U and V, then signed revocations', () => {
  const unzipped = (): string => path.join(h.dir, 'secure', 'unzipped');
  const revoked = (): string => path.join(h.dir, 'revoked.json');
  const message = JSON.stringify({
    type: 'revocation',
    agent_id: 'other-agent',
    event_time: 'Thu Jan  1 00:00:00 2026',
  });

  test('a revocation before any payload is accepted but does nothing (no certificate yet)', async () => {
    expect((await revocation(message)).status).toBe(200);
    await h.agent.idle();
    expect(fs.existsSync(revoked())).toBe(false);
  });

  test('U + V unlock the payload: files in secure/unzipped, autorun.sh ran, /keys/verify answers', async () => {
    const k = await deliver([
      { name: 'autorun.sh', data: '#!/bin/sh\necho ran >> autorun.out\n', mode: 0o100644 },
      { name: 'RevocationNotifier-cert.crt', data: h.pki.revocation.certificatePem },
      { name: 'action_list', data: 'local_action\n' },
      { name: 'local_action', data: '#!/bin/sh\ncat "$1" > revoked.json\n', mode: 0o100755 },
      { name: 'conf/app.ini', data: 'x=1\n' },
    ]);
    expect(fs.readFileSync(path.join(unzipped(), 'autorun.out'), 'utf8')).toBe('ran\n');
    expect(new Uint8Array(fs.readFileSync(path.join(unzipped(), 'derived_tci_key')))).toEqual(k);
    expect(fs.readFileSync(path.join(unzipped(), 'conf/app.ini'), 'utf8')).toBe('x=1\n');
    expect(fs.statSync(path.join(unzipped(), 'local_action')).mode & 0o777).toBe(0o700);
    const r = await h.get('/v2.6/keys/verify?challenge=ABCDEFGHIJ0123456789');
    expect(results(r)).toEqual({ hmac: keysVerifyHmac(k, 'ABCDEFGHIJ0123456789') });
  });

  test('a revocation with a bad signature is refused and changes nothing', async () => {
    const forged = await h.post('/v2.6/notifications/revocation', {
      msg: message,
      signature: signRevocationMessage(h.pki.client.privateKeyPem, message),
    });
    expect(forged.json).toEqual({
      code: 400,
      status: 'Invalid revocation message signature',
      results: {},
    });
    const tampered = await h.post('/v2.6/notifications/revocation', {
      msg: message.replace('other-agent', 'another'),
      signature: signRevocationMessage(h.pki.revocation.privateKeyPem, message),
    });
    expect(tampered.status).toBe(400);
    expect(
      (await h.post('/v2.6/notifications/revocation', { msg: message, signature: '!!' })).status,
    ).toBe(400);
    await h.agent.idle();
    expect(fs.existsSync(revoked())).toBe(false);
  });

  test('a correctly signed revocation runs the payload action with the message', async () => {
    expect((await revocation(message)).json).toEqual({ code: 200, status: 'Success', results: {} });
    await h.agent.idle();
    expect(JSON.parse(fs.readFileSync(revoked(), 'utf8'))).toEqual(JSON.parse(message));
    fs.rmSync(revoked());
  });

  test('a hostile zip (path traversal, link) is refused before anything is touched', async () => {
    const before = fs.readdirSync(unzipped()).sort();
    await deliver([
      { name: 'autorun.sh', data: '#!/bin/sh\necho again >> autorun.out\n' },
      { name: '../escape.txt', data: 'out' },
    ]);
    await deliver([
      { name: 'autorun.sh', data: '#!/bin/sh\necho again >> autorun.out\n' },
      { name: 'link', data: '/etc/shadow', mode: 0o120777 },
    ]);
    expect(fs.existsSync(path.join(h.dir, 'secure', 'escape.txt'))).toBe(false);
    expect(fs.readdirSync(unzipped()).sort()).toEqual(before);
    expect(fs.readFileSync(path.join(unzipped(), 'autorun.out'), 'utf8')).toBe('ran\n');
    expect(h.logs.filter((l) => l.includes('Refusing payload zip'))).toHaveLength(2);
  });
});

describe('restart', () => {
  test('keeps the UUID and the AK; the registrar accepts the re-registration', async () => {
    const id = h.agent.agentUuid;
    const before = results(await h.registrarGet(`/v2.6/agents/${id}`));
    await h.restartAgent();
    expect(h.agent.agentUuid).toBe(id);
    const after = results(await h.registrarGet(`/v2.6/agents/${id}`));
    expect(after['aik_tpm']).toBe(before['aik_tpm']);
    expect(after['regcount']).toBe((before['regcount'] as number) + 1);
    expect(h.logs.some((l) => l.includes('Loaded old AK key from'))).toBe(true);
    const r = await h.get('/v2.6/quotes/identity?nonce=afterrestart');
    const verdict = verifyQuote(results(r)['quote'] as string, {
      ak: prepareQuoteKey(akTpm),
      nonce: 'afterrestart',
      hashAlg: 'sha256',
    });
    expect(verdict.ok).toBe(true);
  });
});
