/**
 * @module validate-entry: policy checks for one parsed entry, per template (spec verifier.md
 * §4.6; upstream `_validate_ima_ng`, `_validate_ima_sig`, `_validate_ima_buf`).
 */
import type { RawImaEntry } from './entry';
import { ImaEventId, makeEvent } from './failure';
import type { AttestationEvent } from './failure';
import { loadImaPublicKey } from './keys/keyring';
import type { ImaKeyring, ImaPublicKey } from './keys/keyring';
import { learnKey } from './keys/keyrings';
import type { LearnedKeyrings } from './keys/keyrings';
import { verifyImaSignature } from './keys/signature';
import { digestListHas } from './policy/compile';
import type { CompiledRuntimePolicy, DigestList } from './policy/compile';
import { errorMessage } from '@keylime/core';

type Kind = 'digests' | 'keyrings' | 'ima-buf';

/** Mutable per-evaluation validator; `learned` grows as `ima-buf` keys are accepted. */
export class EntryValidator {
  learned: LearnedKeyrings;

  constructor(
    private readonly policy: CompiledRuntimePolicy | undefined,
    /** Policy `boot_aggregate` list merged with aggregates computed from a UEFI log. */
    private readonly bootAggregate: DigestList | undefined,
    /** undefined = no keyrings at all (upstream `ima_keyrings=None`): no signature checks, no learning. */
    private readonly tenantKeyring: ImaKeyring | undefined,
    private readonly useKeyrings: boolean,
    learned: LearnedKeyrings,
  ) {
    this.learned = learned;
  }

  validate(entry: RawImaEntry): AttestationEvent | undefined {
    switch (entry.template) {
      case 'ima':
      case 'ima-ng':
        return this.checkDigest(entry.digestHex, entry.name, 'digests');
      case 'ima-sig':
        return this.checkSig(entry);
      case 'ima-buf':
        return this.checkBuf(entry);
    }
  }

  private excluded(name: string): boolean {
    const re = this.policy?.exclude;
    return re !== undefined && re.test(name);
  }

  private lookup(name: string, kind: Kind): DigestList | undefined {
    const p = this.policy as CompiledRuntimePolicy;
    if (kind === 'digests') return name === 'boot_aggregate' ? this.bootAggregate : p.digests.get(name);
    return kind === 'keyrings' ? p.keyrings.get(name) : p.imaBuf.get(name);
  }

  private checkDigest(hex: string, name: string, kind: Kind): AttestationEvent | undefined {
    if (this.policy === undefined || this.excluded(name)) return undefined;
    const list = this.lookup(name, kind);
    if (list === undefined) return makeEvent(ImaEventId.NotInAllowlist, `File not found in allowlist: ${name}`);
    if (digestListHas(list, hex)) return undefined;
    return makeEvent(ImaEventId.RuntimePolicyHash, {
      message: 'Hash not found in runtime policy',
      got: hex,
      expected: list.list,
    });
  }

  private keyringSearchOrder(): ImaKeyring[] {
    const out: ImaKeyring[] = [];
    if (this.tenantKeyring !== undefined) out.push(this.tenantKeyring);
    for (const ring of this.learned.values()) out.push(ring);
    return out;
  }

  private checkSig(entry: RawImaEntry): AttestationEvent | undefined {
    if (this.useKeyrings && entry.signature !== undefined) {
      if (this.excluded(entry.name)) return undefined;
      const digest = Buffer.from(entry.digestHex, 'hex');
      if (verifyImaSignature(this.keyringSearchOrder(), entry.signature, digest, entry.digestAlg)) return undefined;
    }
    // A signature that does not verify falls back to the digest rule (hence ima-ng event ids).
    if (this.policy !== undefined) return this.checkDigest(entry.digestHex, entry.name, 'digests');
    if (!this.useKeyrings) return undefined;
    return makeEvent(ImaEventId.InvalidSignature, `signature for file ${entry.name} could not be validated`);
  }

  private checkBuf(entry: RawImaEntry): AttestationEvent | undefined {
    let key: ImaPublicKey | undefined;
    try {
      key = loadImaPublicKey(entry.buffer ?? Buffer.alloc(0));
    } catch (e) {
      return makeEvent(ImaEventId.InvalidKey, `key from ${entry.name} does not have a supported key: ${errorMessage(e)}`);
    }
    if (key === undefined) return this.checkDigest(entry.digestHex, entry.name, 'ima-buf');
    const p = this.policy;
    const ignored = p !== undefined && (p.ignoreAllKeyrings || p.ignoredKeyrings.has(entry.name));
    if (ignored) return undefined;
    const event = this.checkDigest(entry.digestHex, entry.name, 'keyrings');
    // Learn the key only once it is accepted, so later ima-sig entries can use it (§11.6).
    if (event === undefined && this.useKeyrings) this.learned = learnKey(this.learned, entry.name, key);
    return event;
  }
}
