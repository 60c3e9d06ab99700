/**
 * Registration and activation where the agent's TPM side is real: swtpm with EK certificates from
 * its own local CA, tpm2_createek / tpm2_createak / tpm2_nvread / tpm2_activatecredential. The
 * same suite runs on SQLite and on a private PostgreSQL, including a restart of the registrar.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPrivatePostgres } from '@keylime/persistence/src/testing';
import type { PrivatePostgres } from '@keylime/persistence/src/testing';
import { request } from './support/http';
import { startTestRegistrar } from './support/registrar';
import type { TestRegistrar } from './support/registrar';
import { activateCredential, createIdentity, startSwtpm } from './support/swtpm';
import type { Swtpm, ToolsIdentity } from './support/swtpm';
import { authTagFor } from './support/soft-tpm';

jest.setTimeout(60_000);

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');
const pem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${(der.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;

let swtpm: Swtpm;
let pg: PrivatePostgres;
let identity: ToolsIdentity;
let otherAk: ToolsIdentity;
let certStore: string;

beforeAll(async () => {
  [swtpm, pg] = await Promise.all([startSwtpm(), startPrivatePostgres()]);
  identity = await createIdentity(swtpm, 'ak');
  otherAk = await createIdentity(swtpm, 'ak2');
  // A CA store holding swtpm's local CA beside upstream's vendor CAs.
  certStore = fs.mkdtempSync(path.join(os.tmpdir(), 'keylime-certstore-'));
  const shipped = path.join(__dirname, '..', 'tpm_cert_store');
  for (const f of fs.readdirSync(shipped))
    fs.copyFileSync(path.join(shipped, f), path.join(certStore, f));
  fs.writeFileSync(path.join(certStore, 'swtpm-localca.pem'), swtpm.issuerCertPem);
});

afterAll(async () => {
  await Promise.all([swtpm?.stop(), pg?.stop()]);
  if (certStore) fs.rmSync(certStore, { recursive: true, force: true });
});

function registrationBody(id: ToolsIdentity, ekcert: string): Record<string, unknown> {
  // Field order and types as the Rust agent sends them (spec §3.2).
  return {
    aik_tpm: b64(id.akPub),
    ek_tpm: b64(id.ekPub),
    ekcert,
    iak_cert: null,
    idevid_cert: null,
    ip: '127.0.0.1',
    mtls_cert: 'disabled',
    port: 9002,
  };
}

describe.each([['sqlite'], ['postgresql']])('with tpm2-tools on swtpm (%s)', (backend) => {
  let reg: TestRegistrar;
  let databaseUrl: string;
  const agentId = `a1b2c3d4-0000-4000-8000-${backend === 'sqlite' ? '000000000001' : '000000000002'}`;

  beforeAll(async () => {
    databaseUrl =
      backend === 'sqlite' ? 'sqlite' : await pg.createDatabase(`reg_${Date.now() % 100000}`);
    reg = await startTestRegistrar({ databaseUrl, extraConfig: { tpm_cert_store: certStore } });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('registers with the EK certificate (PEM), activates with tpm2_activatecredential', async () => {
    const r = await request(reg.http, `/v2.6/agents/${agentId}`, {
      method: 'POST',
      body: registrationBody(identity, pem(identity.ekCertDer)),
    });
    expect(r.status).toBe(200);
    const blob = (r.json as { results: { blob: string } }).results.blob;
    expect(Buffer.from(blob, 'base64').length).toBe(336);

    const credential = await activateCredential(swtpm, identity, blob);
    expect(credential.toString('latin1')).toMatch(/^[A-Za-z0-9]{32}$/);
    const a = await request(reg.http, `/v2.6/agents/${agentId}`, {
      method: 'PUT',
      body: { auth_tag: authTagFor(credential, agentId) },
    });
    expect(a.status).toBe(200);

    const shown = await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin });
    expect(shown.status).toBe(200);
    expect((shown.json as { results: Record<string, unknown> }).results).toMatchObject({
      agent_id: agentId,
      ek_tpm: b64(identity.ekPub),
      ekcert: b64(identity.ekCertDer),
      aik_tpm: b64(identity.akPub),
      mtls_cert: 'disabled',
      regcount: 1,
    });
    expect(
      reg.logs.some((l) => l.endsWith(`INFO - Encrypting AIK with EK for UUID ${agentId}`)),
    ).toBe(true);
  });

  it('refuses re-registration of the same UUID with another AK (403) and keeps the record', async () => {
    const r = await request(reg.http, `/v2.6/agents/${agentId}`, {
      method: 'POST',
      body: registrationBody(otherAk, b64(identity.ekCertDer)),
    });
    expect(r.status).toBe(403);
    expect(r.json).toEqual({
      code: 403,
      status: 'Agent re-registration with different TPM identity is forbidden for security reasons',
      results: {},
    });
    expect((await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin })).status).toBe(
      200,
    );
  });

  it('keeps every record across a restart', async () => {
    const before = await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin });
    await reg.stop();
    reg = await startTestRegistrar({
      databaseUrl,
      workDir: reg.workDir,
      extraConfig: { tpm_cert_store: certStore },
    });
    const after = await request(reg.https, `/v2.6/agents/${agentId}`, { tls: reg.admin });
    expect(after.status).toBe(200);
    expect(after.json).toEqual(before.json);
    if (backend === 'sqlite')
      expect(fs.existsSync(path.join(reg.workDir, 'reg_data.sqlite'))).toBe(true);
  });

  it('deletes the pending registration on a wrong auth_tag without revealing the expected one', async () => {
    const id = `${agentId.slice(0, -1)}9`;
    const r = await request(reg.http, `/v2.6/agents/${id}`, {
      method: 'POST',
      body: registrationBody(otherAk, b64(identity.ekCertDer)),
    });
    expect(r.status).toBe(200);
    const credential = await activateCredential(
      swtpm,
      otherAk,
      (r.json as { results: { blob: string } }).results.blob,
    );
    const good = authTagFor(credential, id);
    const wrong = `${good.slice(0, -1)}${good.endsWith('0') ? '1' : '0'}`;
    const a = await request(reg.http, `/v2.6/agents/${id}`, {
      method: 'PUT',
      body: { auth_tag: wrong },
    });
    expect(a.status).toBe(400);
    expect(a.text).not.toContain(good);
    expect(reg.logs.join('\n')).not.toContain(good);
    const again = await request(reg.http, `/v2.6/agents/${id}`, {
      method: 'PUT',
      body: { auth_tag: good },
    });
    expect(again.status).toBe(404);
  });

  it('refuses an EK certificate that does not chain to the CA store', async () => {
    const strict = await startTestRegistrar({ databaseUrl: 'sqlite' });
    try {
      const r = await request(strict.http, '/v2.6/agents/untrusted-ek', {
        method: 'POST',
        body: registrationBody(identity, b64(identity.ekCertDer)),
      });
      expect(r.status).toBe(400);
      expect((r.json as { status: string }).status).toMatch(
        /^Could not register agent with invalid data: ekcert is not issued by a CA in the TPM certificate store/,
      );
    } finally {
      await strict.stop();
    }
  });
});
