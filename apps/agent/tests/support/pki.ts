/**
 * @module support/pki: a Keylime CA made by @keylime/crypto for the tests — the registrar's
 * server certificate, a tenant/verifier client certificate, a foreign client (other CA) and the
 * RevocationNotifier certificate whose key signs revocation messages.
 */
import { createKeylimeCa, issueCertificate } from '@keylime/crypto';
import type { IssuedCertificate } from '@keylime/crypto';

export interface TestPki {
  readonly caCert: string;
  readonly server: IssuedCertificate;
  readonly client: IssuedCertificate;
  readonly stranger: IssuedCertificate;
  readonly revocation: IssuedCertificate;
}

export async function createTestPki(): Promise<TestPki> {
  let ca = await createKeylimeCa({ caName: 'Keylime Test CA', keyBits: 2048 });
  const caCert = ca.certificatePem;
  const issue = async (commonName: string): Promise<IssuedCertificate> => {
    const r = await issueCertificate(ca, {
      commonName,
      subjectAltNames: { dns: ['localhost', commonName], ip: ['127.0.0.1'] },
    });
    ca = r.ca;
    return r.certificate;
  };
  const server = await issue('server');
  const client = await issue('client');
  const revocation = await issue('RevocationNotifier');
  const other = await createKeylimeCa({ caName: 'Stranger CA', keyBits: 2048 });
  const stranger = (await issueCertificate(other, { commonName: 'client' })).certificate;
  return { caCert, server, client, stranger, revocation };
}
