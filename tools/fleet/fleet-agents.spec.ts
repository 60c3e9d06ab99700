/**
 * @module tools/fleet/fleet-agents.spec: the fleet simulator's hand-built wire format — TPMS_ATTEST
 * and TPMT_SIGNATURE byte-identical to @keylime/tpm's encoders, the query parser against
 * URLSearchParams — and the agent API over real mTLS through its small HTTP/1.1 server (quotes that
 * verify and replay, key order, 400s, pipelining, Connection: close, untrusted client certificates).
 */
import { createPublicKey, publicEncrypt, constants, randomBytes } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { replayMeasurementList } from '@keylime/ima';
import {
  TpmAlg,
  TpmSt,
  encodeTpmsAttest,
  encodeTpmtSignature,
  pcrSelection,
  prepareQuoteKey,
  verifyQuote,
} from '@keylime/tpm';
import {
  FleetShard,
  encodeEcdsaSignature,
  encodeQuoteAttest,
  parseQuoteQuery,
} from './fleet-agents';
import type { FleetAgentInfo } from './fleet-agents';
import { createFleetIdentity } from './simulated-agent';
import type { FleetIdentity } from './simulated-agent';

test('TPMS_ATTEST and TPMT_SIGNATURE match the library encoders byte for byte', () => {
  for (const [nonce, clock, pcrs] of [
    ['abc', 101_000, [10, 16]],
    ['N'.repeat(64), 2 ** 40 + 12_345, [0, 1, 7, 10, 16, 23]],
    ['x', 0xffff_ffff + 1, [16]],
  ] as const) {
    const signer = Buffer.concat([Buffer.from([0, 0x0b]), randomBytes(32)]);
    const digest = randomBytes(32);
    const sel = pcrSelection(TpmAlg.Sha256, pcrs);
    const tpml = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0x0b, 3]), Buffer.from(sel.pcrSelect)]);
    const expected = encodeTpmsAttest({
      type: TpmSt.AttestQuote,
      qualifiedSigner: signer,
      extraData: Buffer.from(nonce, 'utf8'),
      clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: 1 },
      firmwareVersion: 0x2019102300163636n,
      attested: { pcrSelect: [sel], pcrDigest: digest },
    });
    expect(encodeQuoteAttest(signer, nonce, clock, tpml, digest).equals(expected)).toBe(true);
  }
  const p1363 = randomBytes(64);
  const sig = encodeTpmtSignature({
    sigAlg: TpmAlg.Ecdsa,
    hash: TpmAlg.Sha256,
    signatureR: p1363.subarray(0, 32),
    signatureS: p1363.subarray(32),
  });
  expect(encodeEcdsaSignature(p1363).equals(Buffer.from(sig))).toBe(true);
});

test('the query parser agrees with URLSearchParams and refuses broken escapes', () => {
  for (const q of [
    'nonce=abc123&mask=0x400&partial=1&ima_ml_entry=7',
    'partial=0&nonce=Zz9&nonce=second&x=1&&mask=',
    'nonce=a%62c&mask=0x%34%30%30&partial=%31',
    'nonce=a+b&ima_ml_entry',
    '',
  ]) {
    const u = new URLSearchParams(q);
    expect(parseQuoteQuery(q)).toEqual({
      nonce: u.get('nonce') ?? undefined,
      mask: u.get('mask') ?? undefined,
      partial: u.get('partial') ?? undefined,
      imaMlEntry: u.get('ima_ml_entry') ?? undefined,
    });
  }
  expect(parseQuoteQuery('nonce=%zz&partial=1')).toBeUndefined();
});

describe('over mTLS', () => {
  let identity: FleetIdentity;
  let stranger: FleetIdentity;
  let shard: FleetShard;
  let agents: FleetAgentInfo[];
  let client: https.Agent;

  beforeAll(async () => {
    identity = await createFleetIdentity('spec');
    stranger = await createFleetIdentity('stranger');
    // The identity's self-signed certificate is both the client certificate and its CA.
    shard = new FleetShard({
      shard: 0,
      count: 2,
      idPrefix: 'spec',
      clientCaPem: identity.tlsCertPem,
      identity,
      imaGrowth: 3,
      quoteIntervalMs: 2000,
      basePort: 0,
    });
    agents = await shard.listen();
    client = new https.Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: identity.tlsCertPem,
      cert: identity.tlsCertPem,
      key: identity.tlsKeyPem,
      checkServerIdentity: () => undefined,
    });
  }, 30_000);

  afterAll(async () => {
    client.destroy();
    await shard.close();
  });

  function call(
    a: FleetAgentInfo,
    path: string,
    method = 'GET',
    body?: string,
  ): Promise<{ status: number; headers: Record<string, unknown>; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: a.ip, port: a.port, path, method, agent: client },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              json: JSON.parse(text) as Record<string, unknown>,
            }),
          );
        },
      );
      req.on('error', reject);
      if (body !== undefined) {
        req.setHeader('Content-Type', 'application/json');
        req.setHeader('Content-Length', Buffer.byteLength(body));
        req.write(body);
      }
      req.end();
    });
  }

  test('/version, quotes that verify and replay, the envelope and its key order', async () => {
    const a = agents[0] as FleetAgentInfo;
    const v = await call(a, '/version');
    expect(v.status).toBe(200);
    expect(v.headers['content-type']).toBe('application/json');
    expect(v.headers['connection']).toBe('keep-alive');
    expect(v.json['results']).toEqual({
      supported_version: '2.6',
      supported_versions: ['2.1', '2.2', '2.3', '2.4', '2.5', '2.6'],
    });
    const ak = prepareQuoteKey(new Uint8Array(Buffer.from(a.akTpm, 'base64')));
    let log = '';
    for (const [partial, entry, nonce] of [
      [0, 0, 'first1'],
      [1, 4, 'second2'],
      [1, 99, 'third3'],
    ] as const) {
      const r = await call(
        a,
        `/v2.6/quotes/integrity?nonce=${nonce}&mask=0x400&partial=${partial}&ima_ml_entry=${entry}`,
      );
      expect(r.status).toBe(200);
      expect(Object.keys(r.json)).toEqual(['code', 'status', 'results']);
      const res = r.json['results'] as Record<string, unknown>;
      expect(Object.keys(res)).toEqual([
        'quote',
        'hash_alg',
        'enc_alg',
        'sign_alg',
        ...(partial ? [] : ['pubkey']),
        'ima_measurement_list',
        'ima_measurement_list_entry',
      ]);
      expect(res['enc_alg']).toBe('ecc256');
      if (!partial) expect(res['pubkey']).toBe(identity.nkPublicPem);
      const verdict = verifyQuote(String(res['quote']), { ak, nonce, hashAlg: 'sha256' });
      if (!verdict.ok) throw new Error(JSON.stringify(verdict));
      // Past the end of the log the whole log comes back from entry 0.
      const from = res['ima_measurement_list_entry'] as number;
      expect(from).toBe(entry === 99 ? 0 : entry);
      log =
        from === 0
          ? String(res['ima_measurement_list'])
          : log + String(res['ima_measurement_list']);
      expect(verdict.value.pcrs.get(10)).toBe(replayMeasurementList(log, ['sha256']).pcr10.sha256);
      expect([...verdict.value.pcrs.keys()]).toEqual([10, 16]);
    }
    const old = await call(a, '/v2.4/quotes/integrity?nonce=abc&mask=0x0&partial=1&ima_ml_entry=0');
    expect((old.json['results'] as Record<string, unknown>)['enc_alg']).toBe('ecc');
  });

  test('agents quoted since a reset are counted once each, from zero after the reset', async () => {
    const [a, b] = agents as [FleetAgentInfo, FleetAgentInfo];
    const q = (x: FleetAgentInfo, nonce: string): ReturnType<typeof call> =>
      call(x, `/v2.6/quotes/integrity?nonce=${nonce}&mask=0x400&partial=1&ima_ml_entry=0`);
    shard.stats(true);
    expect(shard.stats(false).agentsQuotedSinceReset).toBe(0);
    expect((await q(a, 'reset1')).status).toBe(200);
    expect((await q(a, 'reset2')).status).toBe(200);
    expect(shard.stats(false).agentsQuotedSinceReset).toBe(1);
    expect((await q(b, 'reset3')).status).toBe(200);
    const st = shard.stats(true);
    expect(st.agentsQuotedSinceReset).toBe(2);
    expect(st.agentsQuoted).toBe(2);
    expect(shard.stats(false).agentsQuotedSinceReset).toBe(0);
  });

  test('bad parameters, unknown versions and paths answer as before', async () => {
    const a = agents[1] as FleetAgentInfo;
    const before = shard.stats(false).errors;
    const bad = await call(a, '/v2.6/quotes/integrity?nonce=a-b&mask=0x400&partial=1');
    expect([bad.status, bad.json['status']]).toEqual([400, 'Invalid request parameters']);
    const noPartial = await call(a, '/v2.6/quotes/integrity?nonce=ab&mask=0x400');
    expect(noPartial.status).toBe(400);
    expect(shard.stats(false).errors).toBe(before + 2);
    const version = await call(a, '/v1.0/quotes/integrity?nonce=ab&partial=1');
    expect([version.status, version.json['status']]).toEqual([
      400,
      'API version not supported: v1.0',
    ]);
    expect((await call(a, '/v2.6/nothing')).status).toBe(404);
    const info = await call(a, '/v2.6/agent/info');
    expect((info.json['results'] as Record<string, unknown>)['agent_uuid']).toBe(a.id);
    const pub = await call(a, '/v2.6/keys/pubkey');
    expect(pub.json['results']).toEqual({ pubkey: identity.nkPublicPem });
  });

  test('POST /keys/vkey decrypts with the NK; a broken body is a 400 Bad Request', async () => {
    const a = agents[1] as FleetAgentInfo;
    const encrypted = publicEncrypt(
      {
        key: createPublicKey(identity.nkPublicPem),
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha1',
      },
      randomBytes(32),
    ).toString('base64');
    const before = shard.stats(false).vkeys;
    const ok = await call(
      a,
      '/v2.6/keys/vkey',
      'POST',
      JSON.stringify({ encrypted_key: encrypted }),
    );
    expect([ok.status, ok.json]).toEqual([200, { code: 200, status: 'Success', results: null }]);
    expect(shard.stats(false).vkeys).toBe(before + 1);
    const broken = await call(a, '/v2.6/keys/vkey', 'POST', '{"encrypted_key":');
    expect([broken.status, broken.json['status']]).toEqual([400, 'Bad Request']);
  });

  /** Raw TLS: what arrives for `payload` written in one piece, until the server closes or `until`. */
  function raw(
    a: FleetAgentInfo,
    who: FleetIdentity,
    payload: string,
    until: (text: string) => boolean,
  ): Promise<{ text: string; closed: boolean; error?: string }> {
    return new Promise((resolve) => {
      let text = '';
      const s = tls.connect({
        host: a.ip,
        port: a.port,
        ca: identity.tlsCertPem,
        cert: who.tlsCertPem,
        key: who.tlsKeyPem,
        checkServerIdentity: () => undefined,
      });
      const timer = setTimeout(() => {
        s.destroy();
        resolve({ text, closed: false });
      }, 5000);
      s.on('secureConnect', () => s.write(payload));
      s.setEncoding('utf8');
      s.on('data', (c: string) => {
        text += c;
        if (until(text)) {
          clearTimeout(timer);
          s.destroy();
          resolve({ text, closed: false });
        }
      });
      s.on('error', (e) => {
        clearTimeout(timer);
        resolve({ text, closed: true, error: e.message });
      });
      s.on('end', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
    });
  }

  test('pipelined requests are answered in order; Connection: close closes', async () => {
    const a = agents[1] as FleetAgentInfo;
    const get = (path: string, extra = ''): string =>
      `GET ${path} HTTP/1.1\r\nHost: agent\r\n${extra}\r\n`;
    const two = await raw(
      a,
      identity,
      get('/version') + get('/v2.6/keys/pubkey'),
      (t) => (t.match(/HTTP\/1\.1 200 OK/g) ?? []).length === 2 && t.endsWith('}}'),
    );
    expect(two.text.indexOf('supported_version')).toBeLessThan(two.text.indexOf('"pubkey"'));
    const closing = await raw(a, identity, get('/version', 'Connection: close\r\n'), () => false);
    expect(closing.closed).toBe(true);
    expect(closing.text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n/);
    const garbage = await raw(a, identity, 'NOT HTTP\r\n\r\n', () => false);
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage.closed).toBe(true);
  });

  test('a client certificate outside the CA is refused during the handshake', async () => {
    const before = shard.stats(false);
    const r = await raw(
      agents[0] as FleetAgentInfo,
      stranger,
      'GET /version HTTP/1.1\r\n\r\n',
      () => true,
    );
    expect(r.text).toBe('');
    expect(r.closed).toBe(true);
    const after = shard.stats(false);
    expect(after.handshakes).toBe(before.handshakes);
  });
});
