/**
 * @module tls13/key-schedule.spec: known-answer tests for the TLS 1.3 key schedule.
 *
 * Vectors: RFC 8448 §3 "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256, x25519), copied from
 * the RFC text as quoted in erlang/otp lib/ssl/test/tls_1_3_record_SUITE.erl ('1_RTT_handshake')
 * and cross-checked value by value against bcgit/bc-java
 * tls/src/test/java/org/bouncycastle/tls/crypto/test/TlsCryptoTest.java (testHKDF). The early,
 * handshake and master secrets and the server handshake key/IV also appear in golang/go
 * src/crypto/tls/key_schedule_test.go; the four traffic key/IV pairs in aws/s2n-tls
 * tests/unit/s2n_tls13_key_schedule_rfc8448_test.c. HKDF: RFC 5869 appendix A.1 (also in
 * tianocore/edk2 CryptoPkg/Test/UnitTest/Library/BaseCryptLib/HkdfTests.c).
 */
import { createHash, hkdfSync } from 'node:crypto';
import {
  cipherSuite,
  deriveSecret,
  emptyHash,
  finishedVerifyData,
  handshakeSecret,
  hkdfExpand,
  hkdfExpandLabel,
  hkdfExtract,
  masterSecret,
  nextTrafficSecret,
  trafficKey,
  type CipherSuite,
  type TlsHash,
} from './key-schedule';

/** Bytes from hex as the RFC prints it (spaces and line breaks allowed). */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

// ---- RFC 8448 §3 handshake messages (handshake headers included, as hashed in the transcript) ----

const CLIENT_HELLO = hex(`
  01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18 a2
  ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00 09 00 00 06 73 65
  72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03
  01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e 43 5a 7d ba
  fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04
  03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d
  00 02 01 01 00 1c 00 02 40 01`);

const SERVER_HELLO = hex(`
  02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34 da c1
  55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76 11 20 95 fe 66 76
  2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04`);

const ENCRYPTED_EXTENSIONS = hex(`
  08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04 00
  1c 00 02 40 01 00 00 00 00`);

const CERTIFICATE = hex(`
  0b 00 01 b9 00 00 01 b5 00 01 b0 30 82 01 ac 30 82 01 15 a0 03 02 01 02 02 01 02 30 0d 06 09
  2a 86 48 86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a 06 03 55 04 03 13 03 72 73 61 30 1e 17 0d
  31 36 30 37 33 30 30 31 32 33 35 39 5a 17 0d 32 36 30 37 33 30 30 31 32 33 35 39 5a 30 0e 31
  0c 30 0a 06 03 55 04 03 13 03 72 73 61 30 81 9f 30 0d 06 09 2a 86 48 86 f7 0d 01 01 01 05 00
  03 81 8d 00 30 81 89 02 81 81 00 b4 bb 49 8f 82 79 30 3d 98 08 36 39 9b 36 c6 98 8c 0c 68 de
  55 e1 bd b8 26 d3 90 1a 24 61 ea fd 2d e4 9a 91 d0 15 ab bc 9a 95 13 7a ce 6c 1a f1 9e aa 6a
  f9 8c 7c ed 43 12 09 98 e1 87 a8 0e e0 cc b0 52 4b 1b 01 8c 3e 0b 63 26 4d 44 9a 6d 38 e2 2a
  5f da 43 08 46 74 80 30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6 d1 d0 3e 2b d1 93 ef f0 ab 9a
  80 02 c4 74 28 a6 d3 5a 8d 88 d7 9f 7f 1e 3f 02 03 01 00 01 a3 1a 30 18 30 09 06 03 55 1d 13
  04 02 30 00 30 0b 06 03 55 1d 0f 04 04 03 02 05 a0 30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05
  00 03 81 81 00 85 aa d2 a0 e5 b9 27 6b 90 8c 65 f7 3a 72 67 17 06 18 a5 4c 5f 8a 7b 33 7d 2d
  f7 a5 94 36 54 17 f2 ea e8 f8 a5 8c 8f 81 72 f9 31 9c f3 6b 7f d6 c5 5b 80 f2 1a 03 01 51 56
  72 60 96 fd 33 5e 5e 67 f2 db f1 02 70 2e 60 8c ca e6 be c1 fc 63 a4 2a 99 be 5c 3e b7 10 7c
  3c 54 e9 b9 eb 2b d5 20 3b 1c 3b 84 e0 a8 b2 f7 59 40 9b a3 ea c9 d9 1d 40 2d cc 0c c8 f8 96
  12 29 ac 91 87 b4 2b 4d e1 00 00`);

const CERTIFICATE_VERIFY = hex(`
  0f 00 00 84 08 04 00 80 5a 74 7c 5d 88 fa 9b d2 e5 5a b0 85 a6 10 15 b7 21 1f 82 4c d4 84 14
  5a b3 ff 52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3 3a 5c 14 1a 07 86 53 fa 6b ef 78 0c 5e a2
  48 ee aa a7 85 c4 f3 94 ca b6 d3 0b be 8d 48 59 ee 51 1f 60 29 57 b1 54 11 ac 02 76 71 45 9e
  46 44 5c 9e a5 8c 18 1e 81 8e 95 b8 c3 fb 0b f3 27 84 09 d3 be 15 2a 3d a5 04 3e 06 3d da 65
  cd f5 ae a2 0d 53 df ac d4 2f 74 f3`);

const SERVER_FINISHED = hex(`
  14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee 54
  54 b7 8f 07 18`);

// ---- RFC 8448 §3 key schedule values ----

/** {server} extract secret "early": secret. */
const EARLY_SECRET = '33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a';
/** {server} derive secret for handshake "tls13 derived": expanded. */
const DERIVED_FOR_HANDSHAKE = '6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba';
/** {server} extract secret "handshake": IKM (the x25519 shared secret) and secret. */
const ECDHE_SHARED = hex('8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d');
const HANDSHAKE_SECRET = '1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac';
/** {server} derive secret for master "tls13 derived": expanded. */
const DERIVED_FOR_MASTER = '43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4';
/** {server} extract secret "master": secret. */
const MASTER_SECRET = '18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919';
/** hash (ClientHello..ServerHello) in derive secret "tls13 c/s hs traffic". */
const HASH_CH_SH = '860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8';
/** hash (ClientHello..server Finished) in derive secret "tls13 c/s ap traffic". */
const HASH_CH_SF = '9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13';
/**
 * Transcript-Hash(ClientHello..CertificateVerify), the context of the server Finished. RFC 8448
 * does not print it; bc-java's testHKDF asserts it. Here it is recomputed from the messages and
 * the RFC's server verify_data is the real check.
 */
const HASH_CH_CV = 'edb7725fa7a3473b031ec8ef65a2485493900138a2b91291407d7951a06110ed';
const C_HS_TRAFFIC = 'b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21';
const S_HS_TRAFFIC = 'b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38';
const C_AP_TRAFFIC = '9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5';
const S_AP_TRAFFIC = 'a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643';
/** {server} calculate finished "tls13 finished": finished (verify_data). */
const SERVER_VERIFY_DATA = '9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718';
/** {client} calculate finished "tls13 finished": finished (verify_data). */
const CLIENT_VERIFY_DATA = 'a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61';

/** "derive write/read traffic keys": PRK, key expanded, iv expanded. */
const TRAFFIC_KEYS: readonly (readonly [name: string, secret: string, key: string, iv: string])[] =
  [
    [
      'server handshake',
      S_HS_TRAFFIC,
      '3fce516009c21727d0f2e4e86ee403bc',
      '5d313eb2671276ee13000b30',
    ],
    [
      'client handshake',
      C_HS_TRAFFIC,
      'dbfaa693d1762c5b666af5d950258d01',
      '5bd3c71b836e0b76bb73265f',
    ],
    [
      'server application',
      S_AP_TRAFFIC,
      '9f02283b6c9c07efc26bb9f2ac92e356',
      'cf782b88dd83549aadf1e984',
    ],
    [
      'client application',
      C_AP_TRAFFIC,
      '17422dda596ed5d9acd890e3c63f5051',
      '5b78923dee08579033e523d9',
    ],
  ];

const AES_128_GCM_SHA256 = ((): CipherSuite => {
  const suite = cipherSuite(0x1301);
  if (suite === undefined) throw new Error('TLS_AES_128_GCM_SHA256 (0x1301) is not offered');
  return suite;
})();

const hashChSh = sha256(CLIENT_HELLO, SERVER_HELLO);
const hashChCv = sha256(
  CLIENT_HELLO,
  SERVER_HELLO,
  ENCRYPTED_EXTENSIONS,
  CERTIFICATE,
  CERTIFICATE_VERIFY,
);
const hashChSf = sha256(
  CLIENT_HELLO,
  SERVER_HELLO,
  ENCRYPTED_EXTENSIONS,
  CERTIFICATE,
  CERTIFICATE_VERIFY,
  SERVER_FINISHED,
);

describe('RFC 8448 §3 messages', () => {
  it('have the lengths the RFC prints', () => {
    expect(
      [
        CLIENT_HELLO,
        SERVER_HELLO,
        ENCRYPTED_EXTENSIONS,
        CERTIFICATE,
        CERTIFICATE_VERIFY,
        SERVER_FINISHED,
      ].map((m) => m.length),
    ).toEqual([196, 90, 40, 445, 136, 36]);
  });

  it('hash to the transcript hashes the RFC prints', () => {
    expect(toHex(hashChSh)).toBe(HASH_CH_SH);
    expect(toHex(hashChSf)).toBe(HASH_CH_SF);
    expect(toHex(hashChCv)).toBe(HASH_CH_CV);
  });
});

describe('TLS 1.3 key schedule against RFC 8448 §3 (TLS_AES_128_GCM_SHA256)', () => {
  it('selects suite 0x1301 as AES-128-GCM over SHA-256', () => {
    expect(AES_128_GCM_SHA256).toMatchObject({
      name: 'TLS_AES_128_GCM_SHA256',
      hash: 'sha256',
      aead: 'aes-128-gcm',
      keyBytes: 16,
    });
  });

  it('hkdfExtract of zeros gives the early secret', () => {
    const zeros = Buffer.alloc(32);
    expect(toHex(hkdfExtract('sha256', zeros, zeros))).toBe(EARLY_SECRET);
  });

  it('derives the handshake secret step by step and through handshakeSecret()', () => {
    const derived = deriveSecret('sha256', hex(EARLY_SECRET), 'derived', emptyHash('sha256'));
    expect(toHex(derived)).toBe(DERIVED_FOR_HANDSHAKE);
    expect(toHex(hkdfExtract('sha256', derived, ECDHE_SHARED))).toBe(HANDSHAKE_SECRET);
    expect(toHex(handshakeSecret('sha256', ECDHE_SHARED))).toBe(HANDSHAKE_SECRET);
  });

  it('derives the master secret step by step and through masterSecret()', () => {
    const derived = deriveSecret('sha256', hex(HANDSHAKE_SECRET), 'derived', emptyHash('sha256'));
    expect(toHex(derived)).toBe(DERIVED_FOR_MASTER);
    expect(toHex(hkdfExtract('sha256', derived, Buffer.alloc(32)))).toBe(MASTER_SECRET);
    expect(toHex(masterSecret('sha256', hex(HANDSHAKE_SECRET)))).toBe(MASTER_SECRET);
  });

  it('deriveSecret gives the handshake traffic secrets over Hash(ClientHello..ServerHello)', () => {
    const hs = handshakeSecret('sha256', ECDHE_SHARED);
    expect(toHex(deriveSecret('sha256', hs, 'c hs traffic', hashChSh))).toBe(C_HS_TRAFFIC);
    expect(toHex(deriveSecret('sha256', hs, 's hs traffic', hashChSh))).toBe(S_HS_TRAFFIC);
  });

  it('deriveSecret gives the application traffic secrets over Hash(..server Finished)', () => {
    const ms = masterSecret('sha256', handshakeSecret('sha256', ECDHE_SHARED));
    expect(toHex(deriveSecret('sha256', ms, 'c ap traffic', hashChSf))).toBe(C_AP_TRAFFIC);
    expect(toHex(deriveSecret('sha256', ms, 's ap traffic', hashChSf))).toBe(S_AP_TRAFFIC);
  });

  it.each(TRAFFIC_KEYS)('trafficKey gives the %s key and IV', (_name, secret, key, iv) => {
    const k = trafficKey(AES_128_GCM_SHA256, hex(secret));
    expect(toHex(k.key)).toBe(key);
    expect(toHex(k.iv)).toBe(iv);
  });

  it('finishedVerifyData gives the server Finished over Hash(..CertificateVerify)', () => {
    expect(toHex(finishedVerifyData('sha256', hex(S_HS_TRAFFIC), hashChCv))).toBe(
      SERVER_VERIFY_DATA,
    );
    // The server Finished message is its header and this verify_data.
    expect(toHex(SERVER_FINISHED.subarray(4))).toBe(SERVER_VERIFY_DATA);
  });

  it('finishedVerifyData gives the client Finished over Hash(..server Finished)', () => {
    expect(toHex(finishedVerifyData('sha256', hex(C_HS_TRAFFIC), hashChSf))).toBe(
      CLIENT_VERIFY_DATA,
    );
  });

  it('hkdfExpandLabel lays out HkdfLabel as the RFC prints its "info" octets', () => {
    const s = hex(S_HS_TRAFFIC);
    const empty = Buffer.alloc(0);
    // key info (13 octets), iv info (12 octets), finished info (18 octets) from RFC 8448 §3.
    expect(hkdfExpandLabel('sha256', s, 'key', empty, 16)).toEqual(
      hkdfExpand('sha256', s, hex('00 10 09 74 6c 73 31 33 20 6b 65 79 00'), 16),
    );
    expect(hkdfExpandLabel('sha256', s, 'iv', empty, 12)).toEqual(
      hkdfExpand('sha256', s, hex('00 0c 08 74 6c 73 31 33 20 69 76 00'), 12),
    );
    expect(hkdfExpandLabel('sha256', s, 'finished', empty, 32)).toEqual(
      hkdfExpand('sha256', s, hex('00 20 0e 74 6c 73 31 33 20 66 69 6e 69 73 68 65 64 00'), 32),
    );
    // derive secret "tls13 c hs traffic": info (54 octets) carries the transcript hash.
    const hs = hex(HANDSHAKE_SECRET);
    const cHsInfo = Buffer.concat([
      hex('00 20 12 74 6c 73 31 33 20 63 20 68 73 20 74 72 61 66 66 69 63 20'),
      hashChSh,
    ]);
    expect(cHsInfo.length).toBe(54);
    expect(toHex(hkdfExpand('sha256', hs, cHsInfo, 32))).toBe(C_HS_TRAFFIC);
  });

  it('hkdfExpandLabel rejects a label or context longer than 255 bytes', () => {
    const s = hex(S_HS_TRAFFIC);
    expect(() => hkdfExpandLabel('sha256', s, 'x'.repeat(250), Buffer.alloc(0), 32)).toThrow(
      RangeError,
    );
    expect(() => hkdfExpandLabel('sha256', s, 'key', Buffer.alloc(256), 32)).toThrow(RangeError);
  });
});

describe('nextTrafficSecret (RFC 8446 §7.2; RFC 8448 has no KeyUpdate)', () => {
  it.each<[TlsHash, number]>([
    ['sha256', 32],
    ['sha384', 48],
  ])('is HKDF-Expand-Label(secret, "traffic upd", "", Hash.length) for %s', (hash, len) => {
    const secret = hash === 'sha256' ? hex(C_AP_TRAFFIC) : Buffer.alloc(48, 0x5a);
    const next = nextTrafficSecret(hash, secret);
    expect(next.length).toBe(len);
    expect(next).toEqual(hkdfExpandLabel(hash, secret, 'traffic upd', Buffer.alloc(0), len));
    // The same, with HkdfLabel built by hand: uint16 length, "tls13 traffic upd", empty context.
    const label = Buffer.from('tls13 traffic upd', 'latin1');
    const info = Buffer.concat([Buffer.of(0, len, label.length), label, Buffer.of(0)]);
    expect(next).toEqual(hkdfExpand(hash, secret, info, len));
    // A new secret, and chaining moves on again.
    expect(next.equals(secret)).toBe(false);
    expect(nextTrafficSecret(hash, next).equals(next)).toBe(false);
  });
});

describe('HKDF against RFC 5869 and node:crypto', () => {
  it('matches RFC 5869 test case 1 (A.1)', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = hex('000102030405060708090a0b0c');
    const info = hex('f0f1f2f3f4f5f6f7f8f9');
    const prk = hkdfExtract('sha256', salt, ikm);
    expect(toHex(prk)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(toHex(hkdfExpand('sha256', prk, info, 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
  });

  const ikm = ECDHE_SHARED;
  const salt = Buffer.from('keylime-ts key schedule salt');
  const info = Buffer.from('keylime-ts key schedule info');
  it.each<[TlsHash, number]>([
    ['sha256', 1],
    ['sha256', 12],
    ['sha256', 31],
    ['sha256', 32],
    ['sha256', 33],
    ['sha256', 80],
    ['sha256', 255 * 32],
    ['sha384', 1],
    ['sha384', 48],
    ['sha384', 49],
    ['sha384', 100],
    ['sha384', 255 * 48],
  ])('extract+expand equals hkdfSync for %s, %i bytes', (hash, len) => {
    const ours = hkdfExpand(hash, hkdfExtract(hash, salt, ikm), info, len);
    expect(ours.length).toBe(len);
    expect(ours).toEqual(Buffer.from(hkdfSync(hash, ikm, salt, info, len)));
  });

  it('a shorter output is a prefix of a longer one', () => {
    const prk = hkdfExtract('sha384', salt, ikm);
    expect(hkdfExpand('sha384', prk, info, 100).subarray(0, 49)).toEqual(
      hkdfExpand('sha384', prk, info, 49),
    );
  });

  it.each<[TlsHash, number]>([
    ['sha256', 0],
    ['sha256', -1],
    ['sha256', 1.5],
    ['sha256', 255 * 32 + 1],
    ['sha384', 0],
    ['sha384', 255 * 48 + 1],
  ])('hkdfExpand(%s) rejects length %d', (hash, len) => {
    const prk = Buffer.alloc(hash === 'sha256' ? 32 : 48, 1);
    expect(() => hkdfExpand(hash, prk, Buffer.alloc(0), len)).toThrow(RangeError);
  });
});
