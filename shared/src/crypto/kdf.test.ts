import { describe, expect, it } from 'vitest';
import { HKDF_MAX_INFO_BYTES, HKDF_SHA256_MAX_LENGTH, deriveKey, encodeKdfInfo, hkdfSha256 } from './kdf.js';
import { expectCohortError } from '../../../test/helpers/errors.js';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

const expectInvalidArgument = (fn: () => unknown, message: RegExp): void => expectCohortError(fn, 'INVALID_ARGUMENT', message);

describe('hkdfSha256', () => {
  const ikm = new Uint8Array(22).fill(0x0b);

  it('matches RFC 5869 Appendix A.1 (basic test case with SHA-256)', () => {
    const okm = hkdfSha256(ikm, hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('matches RFC 5869 Appendix A.3 (zero-length salt and info)', () => {
    const okm = hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), 42);
    expect(toHex(okm)).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });

  it('returns a plain Uint8Array whose shorter outputs are prefixes of longer ones', () => {
    const long = hkdfSha256(ikm, new Uint8Array(0), utf8('x'), 100);
    const short = hkdfSha256(ikm, new Uint8Array(0), utf8('x'), 7);
    expect(short).toBeInstanceOf(Uint8Array);
    expect(toHex(long).startsWith(toHex(short))).toBe(true);
    expect(hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), HKDF_SHA256_MAX_LENGTH).length).toBe(8160);
  });

  it('rejects bad lengths and oversized info with CohortError', () => {
    for (const length of [0, -1, 1.5, HKDF_SHA256_MAX_LENGTH + 1]) {
      expectInvalidArgument(() => hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), length), /output length must be an integer in \[1, 8160\]/);
    }
    expectInvalidArgument(() => hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(HKDF_MAX_INFO_BYTES + 1), 32), /info must be at most 1024 bytes, got 1025/);
    expectInvalidArgument(() => hkdfSha256('key' as unknown as Uint8Array, new Uint8Array(0), new Uint8Array(0), 32), /input key material must be a Uint8Array/);
  });
});

describe('deriveKey', () => {
  const secret = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');

  it('encodes info as cohort/<label>/v1 then tagged, length-prefixed items', () => {
    const info = encodeKdfInfo('pairwise-mask', ['fed-1', 7, hex('010203'), 'hé']);
    expect(toHex(info)).toBe(
      toHex(utf8('cohort/pairwise-mask/v1')) +
        '73' + '00000005' + toHex(utf8('fed-1')) +
        '6e' + '00000008' + '0000000000000007' +
        '62' + '00000003' + '010203' +
        '73' + '00000003' + '68c3a9',
    );
    expect(toHex(encodeKdfInfo('x', [2 ** 53 - 1]))).toBe(toHex(utf8('cohort/x/v1')) + '6e00000008001fffffffffffff');
    expect(toHex(encodeKdfInfo('x', []))).toBe(toHex(utf8('cohort/x/v1')));
  });

  it('is HKDF-SHA-256 with an empty salt over that info (cross-checked with an independent HMAC implementation)', () => {
    const key = deriveKey(secret, 'pairwise-mask', ['fed-1', 7, hex('010203'), 'hé']);
    expect(key.length).toBe(32);
    expect(key).toEqual(hkdfSha256(secret, new Uint8Array(0), encodeKdfInfo('pairwise-mask', ['fed-1', 7, hex('010203'), 'hé']), 32));
    // Computed with Python's hmac/hashlib from the encoding above.
    expect(toHex(key)).toBe('e82603cba3a7cc880e42d76b77f2bf8112e6f237017d83820c4dbf1139569166');
  });

  it('separates labels and contexts: no two different contexts collide', () => {
    const keys = [
      deriveKey(secret, 'k', ['a', 'bc']),
      deriveKey(secret, 'k', ['ab', 'c']),
      deriveKey(secret, 'k', ['abc']),
      deriveKey(secret, 'k', ['abc', '']),
      deriveKey(secret, 'k', []),
      deriveKey(secret, 'k', [5]),
      deriveKey(secret, 'k', [hex('0000000000000005')]),
      deriveKey(secret, 'k', ['\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0005']),
      deriveKey(secret, 'k', [1, 2]),
      deriveKey(secret, 'k', [2, 1]),
      deriveKey(secret, 'k2', ['a', 'bc']),
      deriveKey(secret.slice().reverse(), 'k', ['a', 'bc']),
    ];
    expect(new Set(keys.map(toHex)).size).toBe(keys.length);
    expect(deriveKey(secret, 'k', ['a', 'bc'])).toEqual(keys[0]);
  });

  it('rejects bad labels, context items and short secrets', () => {
    for (const label of ['', 'a/b', 'a b', 'é']) {
      expectInvalidArgument(() => deriveKey(secret, label, []), /KDF label must be non-empty \[A-Za-z0-9._-\]/);
    }
    for (const item of [-1, 1.5, 2 ** 53, Number.NaN]) {
      expectInvalidArgument(() => deriveKey(secret, 'k', ['ok', item]), /KDF context item 1 must be a string, bytes or a non-negative safe integer/);
    }
    expectInvalidArgument(() => deriveKey(new Uint8Array(15), 'k', []), /KDF secret must be at least 16 bytes, got 15/);
  });
});
