import { hasErrorCode, toHex, fromHex } from '@keylime/core';
import { marshalCommand, passwordAuth, unmarshalResponse } from './command';
import { getRandom } from './commands/basic';
import { flushContext } from './commands/object';
import { pcrReset } from './commands/pcr';
import { TpmDeviceErrorCode } from './errors';
import { TpmResponseError } from './response-code';

// Expected bytes follow Part 3 (command layouts) and were checked against swtpm in pcrs.spec.ts.
describe('command framing', () => {
  it('marshals a command without sessions', () => {
    expect(toHex(marshalCommand(getRandom(8)))).toBe('80010000000c0000017b0008');
    expect(toHex(marshalCommand(flushContext(0x80000001)))).toBe('80010000000e0000016580000001');
  });

  it('marshals a command with the password session', () => {
    // tag ST_SESSIONS, size 27, PCR_Reset, handle 16, authSize 9, TPM_RS_PW, empty nonce, attrs 0, empty hmac
    expect(toHex(marshalCommand(pcrReset(16)))).toBe(
      '80020000001b0000013d00000010000000094000000900000000' + '00',
    );
    expect(toHex(passwordAuth().hmac)).toBe('');
  });

  it('decodes a response and rejects trailing or missing bytes', () => {
    const ok = fromHex('80010000001600000000000801020304050607080000');
    expect(() => unmarshalResponse(getRandom(8), ok)).toThrow(/trailing/);
    const exact = fromHex('8001000000140000000000080102030405060708');
    expect(toHex(unmarshalResponse(getRandom(8), exact.subarray(0, 20)))).toBe('0102030405060708');
    const short = fromHex('800100000010000000000008010203');
    const e = (() => {
      try {
        unmarshalResponse(getRandom(8), short);
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(hasErrorCode(e, TpmDeviceErrorCode.BadResponse)).toBe(true);
    expect((e as Error).message).toMatch(/^TPM2_GetRandom: malformed response/);
  });

  it('turns a non-zero response code into a TpmResponseError', () => {
    const rc = fromHex('80010000000a00000922');
    expect(() => unmarshalResponse(getRandom(8), rc)).toThrow(TpmResponseError);
    expect(() => unmarshalResponse(getRandom(8), rc)).toThrow(/TPM_RC_RETRY/);
  });

  it('checks the size field and the session tag', () => {
    expect(() => unmarshalResponse(getRandom(8), fromHex('80010000000b00000000'))).toThrow(
      /size field 11/,
    );
    const sessions = fromHex('80020000000c000000000000');
    expect(() => unmarshalResponse(getRandom(8), sessions)).toThrow(/tag 0x8002/);
  });
});
