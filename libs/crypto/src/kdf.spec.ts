/** @module kdf.spec: KDFa/KDFe known-answer tests (go-tpm test vectors, TPM reference self-test). */
import { kdfa, kdfe, KDF_MAX_BITS } from './kdf';
import type { HashAlg } from './hash';
import { KeylimeError } from '@keylime/core';

type Row = readonly [
  name: string,
  alg: HashAlg,
  key: string,
  label: string,
  u: string,
  v: string,
  bits: number,
  out: string,
];

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The KeylimeError code `fn` throws, or a marker when it throws something else or nothing. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof KeylimeError ? e.code : 'not a KeylimeError';
  }
  return 'no error';
}

// Selected from google/go-tpm tpm2/test/testvectors/kdfa.json (validated there against the TCG
// reference implementation): shortest/longest bit lengths, odd bit lengths, empty key/context.
const KDFA_VECTORS: readonly Row[] = [
  [
    '23_SHA1_84',
    'sha1',
    '337688663edbe90646f1cf53b8bd8d5f0000',
    'IDENTITY',
    '64ed7ccb42e53935df81444908ddff',
    'ff',
    84,
    '0a53fad8e72962f4b36d09',
  ],
  [
    '25_SHA1_91',
    'sha1',
    '0d975134a69943ff6196330048ded08de80388ff',
    'ATH',
    '529f21ca37a9eaf2b6018c8e5abd67ff',
    'ff7915ff',
    91,
    '071e33fcf4b9729858cc9312',
  ],
  [
    '26_SHA1_980',
    'sha1',
    '0048ed1181513e66d69fb72a6461ee',
    'CFB',
    '',
    '158441b04e23cdf45b8484d6',
    980,
    '0964a7397c516980bb75d66328023b26759208c862f67219435345b81b5c4f3660968f949bc93bc1f1784f21670a5a7db911fc64b4998017c8d5187e7dc719c2d8d8d3be909c1dd82a2c418d4a3e093ae3af4303b6e861cfeaf268c5774038c3d4856e87e88e7bb2d7af530c1e4275ac881f1ee5ab19d98d4c39ea',
  ],
  [
    '08_SHA1_400',
    'sha1',
    'f33e8c7d0efe0f',
    'CFB',
    '002ba8440f2e389a7a086726c47b2bc332a0',
    'fb4746f1b68c0f75174fa7',
    400,
    '6e5d4c0212cb1f908c0aa34c91f74b3bf429eab89f0b532b1cc7f34f240ee100c63e0b4cf5bb0017e178ef8902a5bf18a3fd',
  ],
  [
    '01_SHA1_283',
    'sha1',
    '',
    'IDENTITY',
    '4e462df0430f697bdb85c61a4ec7628943',
    'ff80c59598996ff148c6574472ece01c608a02',
    283,
    '04512482418b546925489d197cadb96768cfe9744a9142f1360de6021a94bc8dda277697',
  ],
  [
    '11_SHA1_481',
    'sha1',
    '06',
    'INTEGRITY',
    '2cfd682f336db06675d5b3982c2575cf1b1100',
    'cd35dda7b8ff605aab8e347eb48dbd',
    481,
    '0119c30b9b9c3705ed0fc7aa5fe6cef9309d1663ff8f4bf32d8e8978b28276eead5e98e884a04e049d4687446cdd5e6683f11a477b1b92e0fd8c95e45e',
  ],
  [
    '28_SHA256_17',
    'sha256',
    'ff5625623188b99180b53e96108e3e01d19c18db598631d56c',
    'STORAGE',
    'ef12916d91f3ed8355f100ef7d3553ff69eb63edd59a0048eeda77',
    '800bce408c34f800',
    17,
    '0051bb',
  ],
  [
    '37_SHA256_54',
    'sha256',
    '8d623f4e95bfb5029d231b265cffe400',
    'ATH',
    '59c425e2a53045feb889dca9f444e4d271f787d4964af8c4c500',
    'de8b18c078218015789b9667472dd0cd579300',
    54,
    '2f65e1381b6e5b',
  ],
  [
    '53_SHA256_976',
    'sha256',
    '3b12a6b38672109f30df6cf587db498d777d',
    'CFB',
    'c162bbbff1366f9cd641d398a8c977ec1ab2c7977208151f9f65e600',
    'ff45f0',
    976,
    'd1a85a656db2de3f27c9d949f0f897861564095fc90b41e34a65dd53402b87b3e0a532d6ad1a8368be00a939813b02a7d728b8949a42225eada4c59260ebfd8e591cce73419b47e2bea8a465f15827bf74b7eaf95a825927883a71496f962544be5a54f542ad3edadc943a29777c408d3797a195c0789a2455df',
  ],
  [
    '30_SHA256_200',
    'sha256',
    '',
    'SECRET',
    'fbf51f160255018bbc8efea4c36ac4fb4cbba34e9eff',
    '3cea0fdc2600',
    200,
    'a26c73dca13a265e09eec4b0abc4ecb2bf8d26db04e8823ee6',
  ],
  [
    '51_SHA256_90',
    'sha256',
    '',
    'INTEGRITY',
    'ff84394f0c76ba386d4239',
    'a8ea61c975214cc4afafc557464d56db34fa00',
    90,
    '01375165ff1f4e7ab263071f',
  ],
  [
    '39_SHA256_585',
    'sha256',
    '0045a75785e18651a6ff622715d0fc735a03fa862ec1e4d15b970d108c409586',
    'STORAGE',
    'ff5a1b187aa54012ebc31a0ac468e0c9',
    'b733e852ff',
    585,
    '00b5b3c718916c66377234f4176abab442b69697edb414f9fc5c7e4e967512875360b4b5b3245ad798ff2fa33645c5856de5983fc7519a60f0d7124e8b8b7472839379d249ee5031b875',
  ],
  [
    '61_SHA384_5',
    'sha384',
    '00836d3bcd',
    'IDENTITY',
    'ff43ce7b0129592593a33f331b7e337356dc0b82b07214bf5b985ed5431a574f325d355169deadff0a0d',
    '1e3f6100',
    5,
    '12',
  ],
  [
    '77_SHA384_90',
    'sha384',
    'f587f8220ee6906003436c9b6560341d1355e1df05434df4ae73b2702d0f246eb9b0ce9fc6b8c900',
    'OBFUSCATE',
    'fff1d82322d358eda8f14f5e5db4d2546f9eae5bcaf1ad0f4080c15b074b65b74a4e145e9fdfdcfee5b4e5076a',
    '00b36efcfee61936e72aa8ad51556f95fc97abdf4f11c0d2146fa967f648cedb',
    90,
    '03a58b7155669b4ff569a57a',
  ],
  [
    '76_SHA384_884',
    'sha384',
    'fffc0654c473b8a69de9c533984e',
    'ATH',
    'ff27121103c8c31a88',
    'd7be00',
    884,
    '09821c859457ae5d0865b0c8cd61d733439f4f8abfcfb728eb64bf632fe3a0362f245a36f3c645cb02f6637ea3e2906b6046fc6d23a965e72b7153ca40a6e8e7c4e53fa632002751cb547e510293faf8b9a9f0fc83609ab970d4d0be854d83470fd4cd8e58ccab8f5c5fc55238e348',
  ],
  [
    '55_SHA384_168',
    'sha384',
    'ff873218c658337b133d95677b350db6fad5f0fcee50ed948dbfa7bcf1eb7cf3da7b65e30d1004be0a29db0b94cb',
    'INTEGRITY',
    'f4ba2ca34d644c764621b3fa4ec217018d38d18b759bbae330484a8ac2d5e8fb626b063555b85fa100',
    '005a66eb842dc34064ac55b3cfd1234692de',
    168,
    '41dcda37d9eb927530e3802cc23a2b2346ffddaeea',
  ],
  [
    '65_SHA384_612',
    'sha384',
    'c6f665ba32dbe4154a127e8be20a3965ef025f2d0d9d6f9f0c71fff55318e2bc7e7dfd969f68fc01ff',
    'SECRET',
    '8463637cc47bbfba85f44675de76be855109261769c29b04a64583821e2a8ec18484e46dc79ba7e817fd9800',
    'fff8535fce4713efb2607f18771ed378619101a987',
    612,
    '07f65617077cdcb466b5a9587dde500b77f07f3b53c9a9936a1d980f1e3a550133b6e8e52c93e3d2469b69df6d030ebf4311b1db511519b851785f1d8a1a95648e0016768186747cf9cfa620c6',
  ],
  [
    '94_SHA512_51',
    'sha512',
    '52dc243976a4a0cfd20d79d88eabc933e2058532833e305a075bce4f741d1558917f48e4b013a51d52aa30884abbbb88fb68bdc39e383d3c388d00',
    'INTEGRITY',
    'ffb144a9ecabc8cffda282d7b46198d3a6bcda153c16e819',
    'ff0d7fc828e25d80d01e8b5c93505bc7fc5a5d',
    51,
    '0672e6e2f0b53e',
  ],
  [
    '78_SHA512_100',
    'sha512',
    '910b14fb4f950dd1df58d743c90d44d931d033727a9b1c7da0ab4459601300',
    'SECRET',
    'ff393b2a88bd25d3787dc383306c403f77caafeb37a1b4007f76cc349f82cf489650eff173d2e6f62eb8723f88d453b4e7d73db1be325f0334b6675901a7',
    'ff4893b669e0b43954e0c5a072cb76135d2d2f6327abbe4f9953053fefed07b67da4b07bdeb807dfe2961f0b2734d2635a5f89de59a1fd',
    100,
    '0c896c0991abd7b379067fb43b',
  ],
  [
    '99_SHA512_778',
    'sha512',
    '86b8ec56056569a17739c8bcff2705534a0a6af608e930ab0c0ef28153ed3e27cb7b57abb68c5a79bd56b2181520c8d60ab02a360d450e85a1ff',
    'OBFUSCATE',
    '003658229c82365d9384742b9722a9e0ab219929841c',
    'da50523f9a44',
    778,
    '03232b50be18a77f128d6af71d3b2e7486ba41bcebb9636b2101ef8117bb969b36e550debd0fa0b537e07025a7e765c7d5bf9f0491130b4778d728ec132fd3a20c727da25d5471c6733c5318aaef3a0c210aa4b140028a5d20f3c4c9a31a95ab945a',
  ],
  [
    '79_SHA512_120',
    'sha512',
    'f6829d524d11a31db8907f44ea5e21442b9edb27b4d46e6f66944357cd29068906a93a3e936a0d7532cc0e00',
    'OBFUSCATE',
    '43c9d69244be6610f663c48dd9f0472e0cebc18c',
    '2f7de74cd72c4bd6a86d4eb225d8b608068bad852378431bd211c0899a6d7c9dbc206fdb0642',
    120,
    'eb4b38b54d3fbbedd164870bd46298',
  ],
  [
    '88_SHA512_379',
    'sha512',
    '2700',
    'SECRET',
    'ff81fa580edd14d0427da3c3880826f8bd8e2c1d4f7e912bbcf065',
    '86e5b2e6dcbc5f86603fa84a5539575d9d7b788138f0a3ae96e133a8ff',
    379,
    '0556fb6fa3280c1233516f47f53ba9bdf2760ec4d197da7a192f5457bc52c9d22fcb839f793f58cecee2cd1b7af0bf45',
  ],
];

// Selected from google/go-tpm tpm2/test/testvectors/kdfe.json.
const KDFE_VECTORS: readonly Row[] = [
  [
    '01_SHA1_25',
    'sha1',
    '00d7ee02e0ef81ba58a52596015b2a72ec17aa52',
    'SECRET',
    '00b3ff860f0968ba67b667887f',
    '001e8fc255871476d7b3e8',
    25,
    '000e99f3',
  ],
  [
    '00_SHA1_103',
    'sha1',
    '4f60ef1e20d3a266e4ed45ff',
    'STORAGE',
    'd309dcef2fb76c',
    '81e625e75002c0596146a68669443ecbf699ff',
    103,
    '78e19b34a31ad8723f5eb1ea1a',
  ],
  [
    '21_SHA1_976',
    'sha1',
    '001fa1b4b2',
    'CFB',
    'ffa2a3c21b67b3b95d798dcdf15958ca9ac528b2',
    '002a',
    976,
    '5504a8a0e649039814fcb040b8f5d231f07f551a0ff157b1757443fb50cbd58cbbe19fb03c10578c9744c35ca90a1279ef8813cc2f2272715ea5298de5107936f576d4b579ed92d46fb9556f39def1b3930a3281bd000874050b923cab7e00a5278dcb22894797b267bde07a23b64e4af70f04ed92deb2417a73',
  ],
  [
    '04_SHA1_320',
    'sha1',
    'fffaefd2dcf59ac10ffee96d388ecc7fa0274b25',
    'INTEGRITY',
    'ff7876ca3325140c1739',
    'ffdaea80b8',
    320,
    '39bde917d4529cfb171ebb49c8aa83777481f50cf0df162c3f12b9c8ab21ddcbed2e8a8b688c8b66',
  ],
  [
    '06_SHA1_371',
    'sha1',
    '004cf91c135d17',
    'IDENTITY',
    '',
    'ff6aef90bd68d17c20dbb43401',
    371,
    '06cc326b3253b22e6164319d0052a671b65adfce5e65b5b874f4294babb43b7e4ee48239f47303917bbc1277531d39',
  ],
  [
    '11_SHA1_569',
    'sha1',
    '',
    'XOR',
    '004c8e',
    '2359baf8a4237c7900',
    569,
    '01277a4eca28f7f8b3ddcbcb53801e5a2e0ec9d5cd8d6b0fcfc7d241b04f1882e96c2698200f2eb0d909a7f5620cc51eb98d4bb690eacf961cffe795d4ff32334eef3b97e0965f2b',
  ],
  [
    '28_SHA256_3',
    'sha256',
    'ace0b616d2536451ca1fe0d9744107b88e5500',
    'IDENTITY',
    'e5aeb5370365c400',
    '2e3345f6e9cca8341eb82e4098fe',
    3,
    '07',
  ],
  [
    '33_SHA256_6',
    'sha256',
    '00',
    'IDENTITY',
    '9829e2f54b5aeb6e73a154b17de184876400',
    '00',
    6,
    '31',
  ],
  [
    '44_SHA256_972',
    'sha256',
    '5cc9e7aef6abfaad17c3513b56ff9fa6bcb0',
    'INTEGRITY',
    'ff0609a803c9e0db44b26a8fae0ef6b507d6181737f649b03bf815d9ad80ab',
    'ffc52b27f5',
    972,
    '02365e000fe61d05e4598569b058268dfbf756e180674d97b9d809649e3ae59bd55f7ef6d44bdbccbaa8ee859991c7f8e134b9dd839ca35b89e8ef0ab58e5513e290dc09118338863d1b7df5386b5297e6034f7a9ab852cd2f2aade951df1197849c6c4360831fae68cdfc77c86e1258e2cc7e7e62222d5b0ea2',
  ],
  [
    '37_SHA256_728',
    'sha256',
    '6cbfdee9e66367b676',
    'STORAGE',
    'c303fe79ff',
    '79e34519a8a32f13d400',
    728,
    'e59560660988b3d66e3a76bcc96110cc199bfa0418dca315f7070619e04fa0b6cdb2912db3786aaa34f2cad7dcee560eed2b4c3f7566e533e4a3bba9c9364397dd2ce45a0b85dde5c83fea27b4fb20bb0125346d24e5d9321f81b2',
  ],
  [
    '31_SHA256_491',
    'sha256',
    'c7f03a7fede39dff',
    'CFB',
    '',
    'ff1302f28891ef4df39bb8a82e9f5aa0226f598bc994a07836af',
    491,
    '002d3433684fadcd03ac89b589a5e02bdb39f77732d6797a7c29949cfa974ef7174a85696f23a488e61cf4597083c06a5941534072a0188e5b51935bad34',
  ],
  [
    '64_SHA384_74',
    'sha384',
    '002e35474db2012f76cc8d512e72ff63bd1e9514e9bcbdf81e63',
    'IDENTITY',
    '2ac00e8489693d00537b153fae5d483fe8b94cb155979639d7183eafa1c59ca92eac1e5e74f7525e90ead427db3ddaff',
    '000e60',
    74,
    '013b6b8f379c88bb736d',
  ],
  [
    '72_SHA384_942',
    'sha384',
    '51e04b6a7543136727ea5c1ca6a083f66b8b3b5372f1a2b9acd532bebf685151b8ff',
    'XOR',
    '4218a13dc8e1d6cd5605971f8a772c86d5ef4171b0254b95ce7d3adee8062f1178a89949a3ff',
    'ffc3dd49c5587226c6c1a56431',
    942,
    '2f2f86c242f8ab76845cac40597b06374c13e72de84efed33b0628d71194a7efa81c0f353e5ad6a8c641f5e3c58a8e6ab5d60420efd26f26795638ad7efe01b1dc241ff91c4541e4769db9792187a754e70b500e90db005d6c0209daa0710d52a725e355615c0f0e1dab0096a90502b17544513b61d6',
  ],
  [
    '58_SHA384_525',
    'sha384',
    '00d8c48b621475edce5bb22651e8b4e64db8db59ff9a786af8',
    'CFB',
    '00049c6ef3567005e4c8ae6c5fb0bc7f569b278df180f3e0822229dd3f403356254d3b630e0782',
    '5eaee8af0cf97af1ec3d0b4c60be3a81fb9434055bad25bcabb4dfb19d',
    525,
    '00f953e4acf62a9a8b85779ee0191592095039e6ab3a8bf5040617723a9532dcee3ce376ee35d5f13d28c9952e8e5f4977ed8db8a7f460002bc8c8829af7072ef927',
  ],
  [
    '78_SHA512_23',
    'sha512',
    '79428b7723b0bb3ddc38f0e65bf605d11c6e397e7f7df9d3734f3c12ab',
    'CFB',
    'ffa0b184444a3cb671f317c27b620aacacb2f08c5dda213c7f95b7',
    '0012f8aacafce5',
    23,
    '3e5484',
  ],
  [
    '95_SHA512_77',
    'sha512',
    'ff9fe87eb575207d060db680bca31f6bb6adf9f2d22811718202b2cee4d267d227832fc6cfc15dc1a0144e9d14b67829b697a2ea0670',
    'STORAGE',
    '1a805be47de8e5aabc848868f37890e123d77d295226ef73afccf03580031cf774eea400',
    '75017781a2438327bb38ce51bc1aa776e8f69f69eaea7894c73355f362846fbdedeeeb679ff1fa78c37a3f9100',
    77,
    '17466ca90a3211d07919',
  ],
  [
    '99_SHA512_920',
    'sha512',
    '00e93caf22d2e2',
    'OBFUSCATE',
    'b16d7151f6004c30030eb5dd81a2de9cbf2efa0ec500',
    '0b7143c068e51d47cff243929ca66f9b4028ff',
    920,
    'cd28a013f098ea4581b1b086c3c9471c26ea196777995ba5151f9a7fe9dfe540c37c84b73702228a79d7e02dd17ba82a3c3cb84ef40a7a07cf1653667cece8b2cdaca722cb62a9123cef20c6b2c067b1c6738e850cfe897c555b8daa2b370d7484640e3add7c7423b4f339f234f43412308158',
  ],
  [
    '76_SHA512_208',
    'sha512',
    '7960bdb22bccdfc53cfa20097492d7cf663b3ee87ffcf92af52691ca5aca039f37c6098f027e75fe8794bf6c73955b40952da1e46a',
    'ATH',
    '00ffbb276c0819b9d19fb8b887b6ae49cf23b9c243dfa99fc4dd5694cdfa2da48702830571d6af1849bceb9a17a228ee9138',
    '58bf246416e50a1d9d24397f278f2c25190ade0446467afd483c8b6f80e5969c199f9b436c71e6d34953d7465600',
    208,
    '8a607ed1dd7d41b4bf571be9fdd8b6f1bbf0be678c94a56cc5c3',
  ],
  [
    '91_SHA512_684',
    'sha512',
    '8b7ab96b1177ea54bf8bc2c7ceba7c21e0e87ddd00',
    'SECRET',
    '002fc984cbd5f2088018ae587f6bf775a6b2a2a097c4dbbff5d56140843ecd0e2e001ccdd26d9c9993e4ca',
    '',
    684,
    '019ae647b6ddee8561d56dd320c0a9b8ee5600b65b6a97617f649d53b73427f365e3747067560a8fddc96f07839a02eb8c4773adb454bfbb2089b730b9d6046b26a88080f5dec7466df6fe30efad4b1f2d7123aa47d4',
  ],
  [
    '85_SHA512_423',
    'sha512',
    '003cf9af0219bbbe2bb0317fc4e43be7722dfc96274d4b',
    'STORAGE',
    '630d2d8cf0e900bb397979ff',
    '72c3ff',
    423,
    '3de1f690eec7785a9c52ad68c47f61f698bfc8534eabf428c3a201ffd05aa9b25544fc7e6d18b6f2baaa05d44f929bd32aa6d2b619',
  ],
];

describe('kdfa', () => {
  it.each(KDFA_VECTORS)('go-tpm vector %s', (_name, alg, key, label, u, v, bits, out) => {
    expect(toHex(kdfa(alg, hex(key), label, hex(u), hex(v), bits))).toBe(out);
  });

  // TPM 2.0 reference code self-test (KdfTestData.h): key, label "KDFSELFTESTLABEL\0", 160 bits.
  const selfKey = hex('271fa08bbdc5060ec3dfa928ff9b73123a12da0c');
  const selfU = hex('ce244f395dca7391');
  const selfV = hex('da504031ddf12e83');
  it.each([
    ['sha1', '55b5a7184aa07423c47dae766c26a2377d7cf851'],
    ['sha256', 'bb0259e1c8ba607e6a2cd704b69a902e9ade84c4'],
    ['sha384', '1dce70c9113eb2dba47bd9cfc72bf46f45b09312'],
    ['sha512', '8be2c1b85b78569b9fa759f5857c56d684810fd3'],
  ] as const)('TPM reference self-test vector %s', (alg, out) => {
    // The reference label already carries its NUL; a string label gets one appended: same bytes.
    const withNul = new Uint8Array([...Buffer.from('KDFSELFTESTLABEL'), 0]);
    expect(toHex(kdfa(alg, selfKey, withNul, selfU, selfV, 160))).toBe(out);
    expect(toHex(kdfa(alg, selfKey, 'KDFSELFTESTLABEL', selfU, selfV, 160))).toBe(out);
  });

  it('masks the unused high bits of the first byte (521 bits, go-tpm legacy test)', () => {
    const out = kdfa('sha1', selfKey, 'KDFSELFTESTLABEL', selfU, selfV, 521);
    expect(out.length).toBe(66);
    expect(toHex(out).slice(0, 16)).toBe('01714e865072c1e4');
    expect(toHex(out).slice(-8)).toBe('a59458fe');
  });

  it('treats an empty label as a lone NUL', () => {
    const a = kdfa('sha256', hex('01'), '', hex(''), hex(''), 256);
    const b = kdfa('sha256', hex('01'), new Uint8Array([0]), hex(''), hex(''), 256);
    expect(toHex(a)).toBe(toHex(b));
  });

  it.each([0, -8, 1.5, KDF_MAX_BITS + 1, Number.NaN])('rejects bit length %p', (bits) => {
    expect(codeOf(() => kdfa('sha256', hex('01'), 'X', hex(''), hex(''), bits))).toBe(
      'KL_CRYPTO_BAD_ARGUMENT',
    );
  });

  it('rejects an unknown hash name', () => {
    expect(codeOf(() => kdfa('md5' as HashAlg, hex('01'), 'X', hex(''), hex(''), 8))).toBe(
      'KL_CRYPTO_UNSUPPORTED_HASH',
    );
  });
});

describe('kdfe', () => {
  it.each(KDFE_VECTORS)('go-tpm vector %s', (_name, alg, z, label, u, v, bits, out) => {
    expect(toHex(kdfe(alg, hex(z), label, hex(u), hex(v), bits))).toBe(out);
  });

  it('rejects a zero bit length', () => {
    expect(codeOf(() => kdfe('sha256', hex('01'), 'X', hex(''), hex(''), 0))).toBe(
      'KL_CRYPTO_BAD_ARGUMENT',
    );
  });
});
