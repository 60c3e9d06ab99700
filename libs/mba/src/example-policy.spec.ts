import { parseEventLog } from './event-log';
import { createMeasuredBootRefState } from './create-refstate';
import { examplePolicy } from './example-policy';
import { readExampleRefState } from './example-refstate';
import type { ExampleRefStateJson } from './example-refstate';
import type { JsonObject } from './json';
import { normaliseEventLog } from './normalise';
import type { MbLogJson } from './normalise';
import { replayEventLog } from './replay';
import { LOGS, fixture, fixtureText, mbLog } from '../tests/fixtures';

function json(bytes: Uint8Array): MbLogJson {
  const log = parseEventLog(bytes);
  return normaliseEventLog(log, replayEventLog(log));
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

describe('example policy', () => {
  const sbLog = json(fixture(LOGS.secureboot));
  const sbRef = createMeasuredBootRefState(sbLog).refstate;

  it('generates the refstate of spec §11.7 for the Secure Boot log', () => {
    expect(sbRef.has_secureboot).toBe(true);
    expect(sbRef.scrtm_and_bios).toEqual([
      {
        scrtm: { sha256: '0x65976c0bfab22fdf2edbb6cc4fdaaf4581a1e36b9c8542d5e5a774c41748f34a' },
        platform_firmware: [
          { sha256: '0x45286fb3c219760d56ea458a60c5acb14515201e39286e2312dd434d794190f2' },
          { sha256: '0xc33886ef45fa828128a5256b8d42e8785948bf345612a5888146369ca76cdc0f' },
        ],
      },
    ]);
    expect([sbRef.pk.length, sbRef.kek.length, sbRef.db.length, sbRef.dbx.length, sbRef.vendor_db?.length]).toEqual([1, 3, 4, 371, 1]);
    expect(sbRef.mokdig).toEqual([{ sha256: '0xc9531063a008ed66ab48b0b1dcd2b9aca25ff47cde33f3cb054ce06965f79449' }]);
    expect(sbRef.mokxdig).toEqual([{ sha256: '0x8d8a3aae50d5d25838c95c034aadce7b548c9a952eb7925e366eda537c59c3b0' }]);
    const k = sbRef.kernels[0]!;
    expect(k).toMatchObject({
      shim_authcode_sha256: '0x27b12463e599b3147635f272e3722960e443def60fef088eba600697017529f2',
      grub_authcode_sha256: '0x0abc88ee4d2915c3c5c010a331be980766d6445419c22fe236867b92d254f01f',
      kernel_authcode_sha256: '0x219b8b53c54951cd07a580622e384391bbd9e113448a12ad319903fcafb81e79',
      initrd_plain_sha256: '0x2142e3702f4aa7a2a3b218e1d924a66686895bb0b501cca8ce79ef21ab1db0e6',
    });
    expect(k.kernel_cmdline.startsWith('\\(hd0,gpt2\\)/vmlinuz\\-5\\.14\\.0\\-503\\.11\\.1\\.el9_5\\.x86_64\\ root=')).toBe(true);
  });

  it('accepts the log it was generated from (spec §11.7), also for the issue #1153 log', () => {
    expect(examplePolicy.evaluate(sbRef, sbLog)).toBeUndefined();
    const mb = json(mbLog());
    expect(examplePolicy.evaluate(createMeasuredBootRefState(mb).refstate, mb)).toBeUndefined();
  });

  it('generates for a Secure-Boot-off log only with -i; the refstate then trips upstream\'s dbx rule', () => {
    const rk = json(fixture(LOGS.rustKeylime));
    expect(() => createMeasuredBootRefState(rk)).toThrow('SecureBoot disabled, but -i flag was not set');
    const ref = createMeasuredBootRefState(rk, { withoutSecureBoot: true }).refstate;
    expect(ref.has_secureboot).toBe(false);
    expect(ref.kernels[0]!.vmlinuz_plain_sha256).toMatch(/^0x[0-9a-f]{64}$/);
    // Upstream's KeySuperset wants exactly one dbx signature list; this firmware logs five.
    expect(examplePolicy.evaluate(ref, rk)).toMatchObject({ rule: 'variable:dbx', reason: expect.stringContaining('5 signature lists') as unknown });
    // And, like upstream, the example policy has no rule for this laptop's PCR 0 EV_POST_CODE events.
    expect(examplePolicy.evaluate({ ...ref, dbx: [] }, rk)).toMatchObject({ rule: 'dispatch', event: { PCRIndex: 0, EventType: 'EV_POST_CODE' } });
  });

  it('skips firmware-internal FvVol/FvFile applications when picking shim and grub', () => {
    // With efivar text device paths (as upstream renders them) the boot menu app is skipped, leaving shim and grub.
    const ref = createMeasuredBootRefState(json(fixture(LOGS.noSecureboot)), { withoutSecureBoot: true }).refstate;
    expect(ref.kernels[0]).toMatchObject({ shim_authcode_sha256: expect.stringMatching(/^0x/) as unknown, grub_authcode_sha256: expect.stringMatching(/^0x/) as unknown });
    expect(ref.scrtm_and_bios[0]!.platform_firmware).toHaveLength(6);
  });

  it('refuses a changed kernel digest with the kernels rule', () => {
    const ref = clone(sbRef) as unknown as { kernels: { kernel_authcode_sha256: string }[] };
    ref.kernels[0]!.kernel_authcode_sha256 = `0x${'00'.repeat(32)}`;
    expect(examplePolicy.evaluate(ref, sbLog)).toMatchObject({ rule: 'kernels', reason: expect.stringContaining('bsas[2]') as unknown });
  });

  it('refuses a db key missing from the refstate, naming the event and the rule', () => {
    const ref = clone(sbRef) as unknown as { db: unknown[] };
    ref.db.pop();
    const r = examplePolicy.evaluate(ref, sbLog);
    expect(r).toMatchObject({ rule: 'variable:db', event: { PCRIndex: 7, EventType: 'EV_EFI_VARIABLE_DRIVER_CONFIG' } });
  });

  it('refuses a tampered event: a second S-CRTM version, an unexpected event, a bad separator', () => {
    const twice = clone(sbLog) as unknown as { events: JsonObject[] };
    twice.events.splice(2, 0, clone(twice.events[1]!));
    expect(examplePolicy.evaluate(sbRef, twice as unknown as MbLogJson)).toMatchObject({ rule: 'scrtm_and_bios' });

    const odd = clone(sbLog) as unknown as { events: JsonObject[] };
    odd.events[1]!['PCRIndex'] = 3;
    expect(examplePolicy.evaluate(sbRef, odd as unknown as MbLogJson)).toMatchObject({
      rule: 'dispatch',
      event: { EventNum: 1, PCRIndex: 3, EventType: 'EV_S_CRTM_VERSION' },
    });

    const sep = clone(sbLog) as unknown as { events: JsonObject[] };
    const i = sep.events.findIndex((e) => e['EventType'] === 'EV_SEPARATOR');
    sep.events[i]!['Event'] = '00000001';
    expect(examplePolicy.evaluate(sbRef, sep as unknown as MbLogJson)).toMatchObject({ rule: 'separator' });

    const cmd = clone(sbLog) as unknown as { events: JsonObject[] };
    const c = cmd.events.find((e) => String((e['Event'] as { String?: string } | undefined)?.String).startsWith('kernel_cmdline: '))!;
    (c['Event'] as { String: string }).String += ' init=/bin/sh';
    expect(examplePolicy.evaluate(sbRef, cmd as unknown as MbLogJson)).toMatchObject({ rule: 'kernels', reason: expect.stringContaining('kernel_cmdlines[0] does not match') as unknown });
  });

  it('fails a StartupLocality log on the second PCR 0 EV_NO_ACTION (upstream quirk, spec §5.6)', () => {
    const log = json(fixture(LOGS.noSecureboot));
    const ref = { ...clone(sbRef), has_secureboot: false, kernels: [] };
    expect(examplePolicy.evaluate(ref, log)).toMatchObject({ rule: 'once', event: { EventNum: 1, EventType: 'EV_NO_ACTION' } });
  });

  it('validates refstates: upstream sample accepted, broken ones refused with a path', () => {
    const sample = JSON.parse(fixtureText('example_reference_state.json')) as ExampleRefStateJson;
    expect(() => examplePolicy.validateRefstate(sample)).not.toThrow();
    expect(readExampleRefState(sample).dbx.length).toBeGreaterThan(0);
    expect(() => examplePolicy.validateRefstate({ ...sample, mokdig: undefined })).toThrow('refstate lacks mokdig');
    expect(() => examplePolicy.validateRefstate({ ...sample, kernels: [{ ...sample.kernels[0], initrd_plain_sha256: '0xABC' }] })).toThrow(
      'kernels[0].initrd_plain_sha256',
    );
    expect(() => examplePolicy.validateRefstate([])).toThrow(expect.objectContaining({ code: 'KL_MBA_INVALID_REFSTATE' }));
  });
});
