// The audit hash chain's encoding: canonical JSON and the documented hash input, checked against a hand-built vector.
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import { GENESIS_HASH, auditEntryHash, canonicalJson } from '../../coordinator/src/store/index.js';

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('writes the same text for a value and its JSON round trip (undefined keys dropped, -0 as 0)', () => {
    const value = { keep: 1, drop: undefined, zero: -0, nested: { s: 'é"\n' } };
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(canonicalJson(value));
  });

  it('orders keys by UTF-16 code units, as RFC 8785 does', () => {
    expect(canonicalJson({ b: 0, B: 0, a: 0, 'é': 0, '10': 0, '9': 0 })).toBe('{"10":0,"9":0,"B":0,"a":0,"b":0,"é":0}');
  });
});

describe('auditEntryHash', () => {
  it('is SHA-256 hex of prevHash followed by the canonical JSON of seq, at, actor, action, subject and details', () => {
    const entry = { seq: 1, at: 1_700_000_000_000, actor: 'operator', action: 'client.revoked', subject: 'c1', details: { reason: 'lost', from: 'active' }, prevHash: GENESIS_HASH };
    const expected = sha256Hex(
      `${'0'.repeat(64)}{"action":"client.revoked","actor":"operator","at":1700000000000,"details":{"from":"active","reason":"lost"},"seq":1,"subject":"c1"}`,
    );
    expect(auditEntryHash(entry)).toBe(expected);
  });

  it('changes when any covered field or the previous hash changes', () => {
    const base = { seq: 2, at: 5, actor: 'a', action: 'x', subject: 's', details: { n: 1 }, prevHash: 'a'.repeat(64) };
    const hash = auditEntryHash(base);
    const variants = [{ seq: 3 }, { at: 6 }, { actor: 'b' }, { action: 'y' }, { subject: 't' }, { details: { n: 2 } }, { prevHash: 'b'.repeat(64) }];
    for (const change of variants) expect(auditEntryHash({ ...base, ...change })).not.toBe(hash);
  });
});
