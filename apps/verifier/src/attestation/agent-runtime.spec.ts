/**
 * @module agent-runtime.spec: what the loop keeps per agent. Agents enrolled alike share their
 * parsed, frozen enrolment (algorithm lists, tpm_policy, empty IMA state) instead of a copy each.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { EK_LOW_TEMPLATE, TpmAlg, encodeTpm2bPublic, tpmPublicFromKeyObject } from '@keylime/tpm';
import type { AgentRow } from '../store/schema';
import { runtimeFromRow } from './agent-runtime';

const akTpm = Buffer.from(
  encodeTpm2bPublic(
    tpmPublicFromKeyObject(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, {
      ...EK_LOW_TEMPLATE,
      symmetric: { algorithm: TpmAlg.Null },
      scheme: { scheme: TpmAlg.Ecdsa, hashAlg: TpmAlg.Sha256 },
    }),
  ),
).toString('base64');

/** A `verifiermain` row as the tenant's POST leaves it (JSON columns as text, read fresh per row). */
function row(agentId: string, over: Partial<AgentRow> = {}): AgentRow {
  return {
    agentId,
    v: Buffer.alloc(32, 7).toString('base64'),
    ip: '127.0.0.1',
    port: 9002,
    verifierId: 'default',
    verifierIp: '127.0.0.1',
    verifierPort: 8881,
    operationalState: 3,
    publicKey: null,
    tpmPolicy: JSON.stringify(JSON.stringify({ mask: '0x400' })),
    metaData: '{}',
    imaPolicyId: null,
    mbPolicyId: null,
    imaSignVerificationKeys: '',
    revocationKey: '',
    acceptTpmHashAlgs: JSON.stringify(['sha512', 'sha384', 'sha256']),
    acceptTpmEncryptionAlgs: JSON.stringify(['ecc', 'rsa']),
    acceptTpmSigningAlgs: JSON.stringify(['ecschnorr', 'rsassa', 'ecdsa']),
    hashAlg: null,
    encAlg: null,
    signAlg: null,
    boottime: null,
    imaPcrs: null,
    pcr10: null,
    nextImaMlEntry: null,
    severityLevel: null,
    lastEventId: null,
    learnedImaKeyrings: null,
    supportedVersion: '2.6',
    akTpm,
    mtlsCert: null,
    attestationCount: 0,
    lastReceivedQuote: null,
    lastSuccessfulAttestation: null,
    tpmClockinfo: null,
    acceptAttestations: true,
    consecutiveAttestationFailures: null,
    ...over,
  };
}

describe('runtimeFromRow', () => {
  it('shares the frozen algorithm lists of agents enrolled with the same lists', () => {
    const a = runtimeFromRow(row('a'), '2.6');
    const b = runtimeFromRow(row('b'), '2.6');
    expect(a.acceptHashAlgs).toEqual(['sha512', 'sha384', 'sha256']);
    expect(a.acceptEncAlgs).toEqual(['ecc', 'rsa']);
    expect(a.acceptSignAlgs).toEqual(['ecschnorr', 'rsassa', 'ecdsa']);
    expect(b.acceptHashAlgs).toBe(a.acceptHashAlgs);
    expect(b.acceptEncAlgs).toBe(a.acceptEncAlgs);
    expect(b.acceptSignAlgs).toBe(a.acceptSignAlgs);
    for (const list of [a.acceptHashAlgs, a.acceptEncAlgs, a.acceptSignAlgs])
      expect(Object.isFrozen(list)).toBe(true);
    const c = runtimeFromRow(row('c', { acceptTpmHashAlgs: '["sha256"]' }), '2.6');
    expect(c.acceptHashAlgs).toEqual(['sha256']);
    expect(c.acceptEncAlgs).toBe(a.acceptEncAlgs);
  });

  it('shares one parsed, frozen tpm_policy (and its text) between agents enrolled with the same text', () => {
    const a = runtimeFromRow(row('a'), '2.6');
    const b = runtimeFromRow(row('b'), '2.6');
    expect(a.tpmPolicyText).toBe('{"mask":"0x400"}');
    expect(a.tpmPolicy).toEqual({ mask: '0x400', maskBits: 0x400, pcrs: new Map() });
    expect(b.tpmPolicy).toBe(a.tpmPolicy);
    expect(Object.isFrozen(a.tpmPolicy)).toBe(true);
    const withPcr = JSON.stringify(JSON.stringify({ mask: '0x8400', '15': ['AB'] }));
    const c = runtimeFromRow(row('c', { tpmPolicy: withPcr }), '2.6');
    expect(c.tpmPolicy).not.toBe(a.tpmPolicy);
    expect(c.tpmPolicy.pcrs.get(15)).toEqual(['ab']);
    expect(Object.isFrozen(c.tpmPolicy.pcrs.get(15))).toBe(true);
    expect(runtimeFromRow(row('d', { tpmPolicy: withPcr }), '2.6').tpmPolicy).toBe(c.tpmPolicy);
    // Another text without PCR values still shares the empty PCR map.
    const other = runtimeFromRow(row('e', { tpmPolicy: '{"mask": "0x1"}' }), '2.6');
    expect(other.tpmPolicy).not.toBe(a.tpmPolicy);
    expect(other.tpmPolicy.pcrs).toBe(a.tpmPolicy.pcrs);
    expect(() => runtimeFromRow(row('f', { tpmPolicy: '{"mask": 1}' }), '2.6')).toThrow(/mask/);
  });

  it('keeps the AK as a verification key only, and one shared empty IMA keyring map', () => {
    const a = runtimeFromRow(row('a'), '2.6');
    const b = runtimeFromRow(row('b'), '2.6');
    expect(Object.keys(a.ak).sort()).toEqual(['coordinateSize', 'keyObject', 'type']);
    expect(a.ak.type).toBe(TpmAlg.Ecc);
    expect(b.imaState.learnedKeyrings).toBe(a.imaState.learnedKeyrings);
    // Resumed with saved IMA state and no learned keys: still the shared map.
    const saved = { nextImaMlEntry: 5, pcr10: Buffer.alloc(32, 1), hashAlg: 'sha256' };
    const c = runtimeFromRow(row('c', { ...saved, learnedImaKeyrings: '{}' }), '2.6');
    expect(c.imaState.nextEntry).toBe(5);
    expect(c.imaState.learnedKeyrings).toBe(a.imaState.learnedKeyrings);
  });

  it('keeps the enrolled mtls_cert as its SHA-256 pin only', () => {
    const der = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff));
    const b64 = der.toString('base64');
    const pem = `-----BEGIN CERTIFICATE-----\n${b64.slice(0, 64)}\n${b64.slice(64)}\n-----END CERTIFICATE-----\n`;
    const rt = runtimeFromRow(row('pinned', { mtlsCert: pem }), '2.6');
    expect(rt.mtlsPin).toBe(createHash('sha256').update(der).digest('base64'));
    expect(Object.values(rt).some((v) => typeof v === 'string' && v.includes('CERTIFICATE'))).toBe(
      false,
    );
    // Plain HTTP, and TLS where only a configured CA can vouch (no usable certificate text).
    expect(runtimeFromRow(row('plain', { mtlsCert: null }), '2.6').mtlsPin).toBeNull();
    expect(runtimeFromRow(row('off', { mtlsCert: 'disabled' }), '2.6').mtlsPin).toBeNull();
    expect(runtimeFromRow(row('ca', { mtlsCert: 'not a certificate' }), '2.6').mtlsPin).toBe('');
  });
});
