import { X509Certificate, verify } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesEqual, toHex } from '@keylime/core';
import {
  AK_EXPECTED_ATTRIBUTES,
  TpmAlg,
  decodeCredentialBlob,
  decodeTpm2bPublic,
  formatQuoteString,
  makeCredentialBlob,
  prepareQuoteKey,
  verifyQuote,
  decodeTpmtSignature,
  ecdsaSignatureToP1363,
  encodeTpmtPublic,
  ekCertificateMatches,
  objectName,
  tpmPublicToKeyObject,
  tpmPublicToPem,
  tpmaObjectToWord,
} from '@keylime/tpm';
import type { AkKey } from './ak';
import { createAk, loadAk, loadAkIn, parseAk, serializeAk } from './ak';
import { listHandles, listLoadedHandles } from './capabilities';
import { policyAuth } from './command';
import {
  contextLoad,
  contextSave,
  create,
  createPrimary,
  evictControl,
  readPublic,
} from './commands/object';
import { policySecret, startAuthSession } from './commands/session';
import { TpmRh, TpmSe } from './constants';
import { activateCredential } from './credential';
import type { EkKey } from './ek';
import { createEk, readEkCertificate } from './ek';
import { quote } from './quote';
import { TpmResponseError } from './response-code';
import { akTemplate, ekTemplate } from './templates';
import type { SwtpmInstance } from './testing/swtpm';
import { startSwtpm, tpm2 } from './testing/swtpm';
import { Tpm } from './tpm';

/** Verifies a quote signature over the raw attest bytes with Node crypto. */
function verifyWithNode(ak: AkKey, attest: Uint8Array, signature: Uint8Array): boolean {
  const sig = decodeTpmtSignature(signature);
  const key = tpmPublicToKeyObject(ak.publicArea);
  if (sig.sigAlg === TpmAlg.Ecdsa) {
    return verify(
      'sha256',
      attest,
      { key, dsaEncoding: 'ieee-p1363' },
      ecdsaSignatureToP1363(sig, 32),
    );
  }
  return verify('sha256', attest, key, sig.sig);
}

describe('EK, AK, quote and credential activation on swtpm', () => {
  let sw: SwtpmInstance;
  let tpm: Tpm;
  let ekRsa: EkKey;
  let ekEcc: EkKey;
  let akRsa: AkKey;
  let akEcc: AkKey;
  const file = (name: string): string => join(sw.dir, name);

  beforeAll(async () => {
    sw = await startSwtpm();
    tpm = Tpm.open(sw.tcti, { timeoutMs: 20_000 });
    ekRsa = await createEk(tpm, 'rsa2048');
    ekEcc = await createEk(tpm, 'ecc384');
    akRsa = await createAk(tpm, { ek: ekRsa });
    akEcc = await createAk(tpm, { ek: ekEcc, alg: 'ecc256' });
  }, 30_000);

  afterAll(async () => {
    await tpm?.transport.close();
    await sw?.stop();
  });

  afterEach(async () => {
    // Hygiene after every test, failures included: no transient objects, no sessions.
    expect(await listLoadedHandles(tpm)).toEqual([]);
  });

  it.each([
    ['rsa2048', 'rsa'],
    ['ecc256', 'ecc'],
    ['ecc384', 'ecc384'],
  ] as const)('creates the same %s EK as tpm2_createek -G %s', async (alg, toolAlg) => {
    const ek = await createEk(tpm, alg);
    await tpm2(sw, 'createek', ['-G', toolAlg, '-c', file('ek.ctx'), '-u', file('ek.pub')]);
    await tpm2(sw, 'flushcontext', ['-t']);
    expect(toHex(ek.public)).toBe(toHex(await readFile(file('ek.pub'))));
    expect(toHex(ek.name)).toBe(toHex(objectName(decodeTpm2bPublic(ek.public))));
  });

  it('matches the persistent EK swtpm_setup made, read through its handle', async () => {
    const persistent = await createEk(tpm, 'rsa2048', { persistentHandle: 0x81010001 });
    expect(toHex(persistent.name)).toBe(toHex(ekRsa.name));
    expect(persistent.persistentHandle).toBe(0x81010001);
  });

  it.each(['rsa2048', 'ecc384'] as const)(
    'reads the %s EK certificate, whose key is our EK',
    async (alg) => {
      const der = await readEkCertificate(tpm, alg);
      expect(der).toBeDefined();
      const cert = new X509Certificate(der!);
      const ek = alg === 'rsa2048' ? ekRsa : ekEcc;
      expect(ekCertificateMatches(cert, ek.publicArea)).toBe(true);
      expect(ekCertificateMatches(cert, (alg === 'rsa2048' ? ekEcc : ekRsa).publicArea)).toBe(
        false,
      );
      const index = alg === 'rsa2048' ? '0x01c00002' : '0x01c00016';
      await tpm2(sw, 'nvread', [index, '-C', 'o', '-o', file('cert.bin')]);
      expect(toHex(der!)).toBe(toHex(await readFile(file('cert.bin'))));
    },
  );

  it('has no certificate for the low-range ECC EK on swtpm 0.7', async () => {
    expect(await readEkCertificate(tpm, 'ecc256')).toBeUndefined();
  });

  it('creates restricted signing AKs with the attributes Keylime expects', () => {
    for (const ak of [akRsa, akEcc]) {
      expect(tpmaObjectToWord(ak.publicArea.objectAttributes)).toBe(AK_EXPECTED_ATTRIBUTES);
      expect(toHex(ak.name)).toBe(toHex(objectName(decodeTpm2bPublic(ak.public))));
    }
    expect(akRsa.publicArea.parameters.scheme).toEqual({
      scheme: TpmAlg.RsaSsa,
      hashAlg: TpmAlg.Sha256,
    });
    expect(akEcc.publicArea.parameters.scheme).toEqual({
      scheme: TpmAlg.Ecdsa,
      hashAlg: TpmAlg.Sha256,
    });
  });

  it.each([
    ['RSA AK under the RSA EK', () => ({ ek: ekRsa, ak: akRsa })],
    ['ECDSA AK under the P-384 EK', () => ({ ek: ekEcc, ak: akEcc })],
  ])('makes quotes over two banks that tpm2_checkquote accepts (%s)', async (_label, ref) => {
    const { ek, ak } = ref();
    const nonce = new TextEncoder().encode('1234567890abcdefABCDEF');
    const pcrs = [
      { hashAlg: TpmAlg.Sha1, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
      { hashAlg: TpmAlg.Sha256, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 10, 16, 23] },
    ];
    const q = await quote(tpm, { ek, ak, nonce, pcrs });
    const pem = tpmPublicToPem(ak.publicArea);
    await writeFile(file('ak.pem'), pem);
    await writeFile(file('attest.bin'), q.attest);
    await writeFile(file('sig.bin'), q.signature);
    await writeFile(file('pcrs.bin'), q.pcrBlob);
    const out = await tpm2(sw, 'checkquote', [
      '-u',
      file('ak.pem'),
      '-m',
      file('attest.bin'),
      '-s',
      file('sig.bin'),
      '-f',
      file('pcrs.bin'),
      '-g',
      'sha256',
      '-q',
      toHex(nonce),
    ]);
    expect(out).toMatch(/pcrs:/);
    expect(verifyWithNode(ak, q.attest, q.signature)).toBe(true);
    expect(q.pcrValues.banks.map((b) => b.values.length)).toEqual([11, 11]);
  });

  it('activates a credential made by tpm2_makecredential, for the RSA and the P-384 EK', async () => {
    for (const [ek, ak] of [
      [ekRsa, akRsa],
      [ekEcc, akEcc],
    ] as const) {
      const secret = new TextEncoder().encode('A'.repeat(32));
      await writeFile(file('secret.bin'), secret);
      await writeFile(file('ek.pub'), ek.public);
      await tpm2(sw, 'makecredential', [
        '-T',
        'none',
        '-u',
        file('ek.pub'),
        '-s',
        file('secret.bin'),
        '-n',
        toHex(ak.name),
        '-o',
        file('cred.bin'),
      ]);
      const challenge = decodeCredentialBlob(await readFile(file('cred.bin')));
      const recovered = await activateCredential(tpm, { ek, ak, ...challenge });
      expect(Buffer.from(recovered).toString()).toBe('A'.repeat(32));
    }
  });

  it('fails cleanly when the credential was made for another AK', async () => {
    await writeFile(file('secret.bin'), 'B'.repeat(32));
    await writeFile(file('ek.pub'), ekRsa.public);
    await tpm2(sw, 'makecredential', [
      '-T',
      'none',
      '-u',
      file('ek.pub'),
      '-s',
      file('secret.bin'),
      '-n',
      toHex(akEcc.name),
      '-o',
      file('cred.bin'),
    ]);
    const challenge = decodeCredentialBlob(await readFile(file('cred.bin')));
    const e = await activateCredential(tpm, { ek: ekRsa, ak: akRsa, ...challenge }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(TpmResponseError);
    expect((e as TpmResponseError).command).toBe('TPM2_ActivateCredential');
  });

  it('names TPM_RC_POLICY_FAIL when the P-384 EK policy is not complete, and still flushes', async () => {
    const e = await tpm
      .run(async (op) => {
        const { handle } = await op.execute(createPrimary(TpmRh.Endorsement, ekTemplate('ecc384')));
        op.track(handle);
        const session = await op.execute(startAuthSession(TpmSe.Policy, TpmAlg.Sha384));
        op.track(session.handle);
        await op.execute(policySecret(TpmRh.Endorsement, session.handle)); // PolicyOR missing
        await op.execute(
          create(handle, policyAuth(session.handle), encodeTpmtPublic(akTemplate('rsa2048'))),
        );
      })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ rcName: 'TPM_RC_POLICY_FAIL', session: 1, command: 'TPM2_Create' });
  });

  it('rejects an AK used with an EK it was not made under', async () => {
    const e = await quote(tpm, {
      ek: ekEcc,
      ak: akRsa,
      nonce: new Uint8Array(8),
      pcrs: [{ hashAlg: TpmAlg.Sha256, pcrs: [0] }],
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TpmResponseError);
  });

  it.each([
    ['RSA', () => ({ ek: ekRsa, ak: akRsa })],
    ['ECDSA', () => ({ ek: ekEcc, ak: akEcc })],
  ])(
    'makes %s quotes that @keylime/tpm verifyQuote accepts as a Keylime quote string',
    async (_l, ref) => {
      const { ek, ak } = ref();
      const nonce = 'aNonceOf20Characters';
      const q = await quote(tpm, {
        ek,
        ak,
        nonce: new TextEncoder().encode(nonce),
        pcrs: [{ hashAlg: TpmAlg.Sha256, pcrs: [0, 7, 10, 16] }],
      });
      const verdict = verifyQuote(formatQuoteString(q), {
        ak: prepareQuoteKey(ak.public),
        nonce,
        hashAlg: 'sha256',
      });
      expect(verdict.ok).toBe(true);
      if (verdict.ok) {
        expect([...verdict.value.pcrs.keys()]).toEqual([0, 7, 10, 16]);
        expect(verdict.value.pcrs.get(16)).toBe(toHex(q.pcrValues.banks[0]!.values[3]!.digest));
      }
      const tampered = verifyQuote(formatQuoteString(q), {
        ak: prepareQuoteKey(ak.public),
        nonce: 'other',
        hashAlg: 'sha256',
      });
      expect(tampered.ok).toBe(false);
    },
  );

  it('activates the registrar challenge from @keylime/tpm makeCredentialBlob', async () => {
    for (const [ek, ak] of [
      [ekRsa, akRsa],
      [ekEcc, akEcc],
    ] as const) {
      const credential = new TextEncoder().encode('0123456789abcdefghijklmnopqrstuv');
      const blob = makeCredentialBlob(
        decodeTpm2bPublic(ek.public),
        decodeTpm2bPublic(ak.public),
        credential,
      );
      const recovered = await activateCredential(tpm, { ek, ak, ...decodeCredentialBlob(blob) });
      expect(toHex(recovered)).toBe(toHex(credential));
    }
  });

  it('quotes from the saved AK context on later requests: no EK re-creation', async () => {
    const ref = { ek: ekRsa, ak: akRsa };
    const pcrs = [{ hashAlg: TpmAlg.Sha256, pcrs: [16] }];
    await quote(tpm, { ...ref, nonce: new Uint8Array([1]), pcrs });
    const codes: number[] = [];
    const send = tpm.transport.send.bind(tpm.transport);
    const spy = jest.spyOn(tpm.transport, 'send').mockImplementation((cmd: Uint8Array) => {
      codes.push(Buffer.from(cmd).readUInt32BE(6));
      return send(cmd);
    });
    try {
      await quote(tpm, { ...ref, nonce: new Uint8Array([2]), pcrs });
    } finally {
      spy.mockRestore();
    }
    // ContextLoad, PCR_Read, Quote, FlushContext.
    expect(codes).toEqual([0x161, 0x17e, 0x158, 0x165]);
  });

  it('saves and reloads an AK context, and makes it persistent and evicts it again', async () => {
    const persistent = 0x81000123;
    await tpm.run(async (op) => {
      const handle = await loadAkIn(op, { ek: ekRsa, ak: akRsa }, false);
      const saved = await op.execute(contextSave(handle));
      await op.flush(handle);
      const again = op.track(await op.execute(contextLoad(saved)));
      expect(toHex((await op.execute(readPublic(again))).name)).toBe(toHex(akRsa.name));
      await op.execute(evictControl(again, persistent));
    });
    const { name } = await tpm.run((op) => op.execute(readPublic(persistent)));
    expect(toHex(name)).toBe(toHex(akRsa.name));
    await tpm.run((op) => op.execute(evictControl(persistent, persistent)));
    expect(await listHandles(tpm, 0x81000000)).not.toContain(persistent);
  });

  it('keeps a stored AK usable across a TPM reset', async () => {
    const restored = parseAk(serializeAk(akRsa));
    expect(
      bytesEqual(restored.public, akRsa.public) && bytesEqual(restored.private, akRsa.private),
    ).toBe(true);
    await sw.restart();
    // The saved context from before the reset is refused; quote falls back to loading under the EK.
    const q = await quote(tpm, {
      ek: ekRsa,
      ak: restored,
      nonce: new Uint8Array([1]),
      pcrs: [{ hashAlg: TpmAlg.Sha256, pcrs: [16] }],
    });
    expect(verifyWithNode(restored, q.attest, q.signature)).toBe(true);
    expect(toHex(await loadAk(tpm, { ek: ekRsa, ak: restored }))).toBe(toHex(akRsa.name));
  });
});
