import { describe, expect, it } from 'vitest';
import { createSeededRng, uniformInt } from '../core/rng/index.js';
import { concatBytes, constantTimeEqual, createSha256, sha256, sha256Hex } from './hash.js';

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('sha256', () => {
  // FIPS 180-2 Appendix B.1 and B.2, and the well-known digest of the empty string.
  it('matches FIPS 180-2 for "abc", the 448-bit message, and ""', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('gives the same digest for a string and its UTF-8 bytes, as raw bytes or hex', () => {
    const bytes = new TextEncoder().encode('abc');
    expect(toHex(sha256(bytes))).toBe(sha256Hex('abc'));
    expect(sha256('abc')).toBeInstanceOf(Uint8Array);
    expect(sha256('abc').length).toBe(32);
  });

  it('gives the one-shot digest when fed incrementally in any chunking (seeds 1..50)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = createSeededRng(seed);
      const data = Uint8Array.from({ length: uniformInt(rng, 5000) }, () => uniformInt(rng, 256));
      const hash = createSha256();
      let offset = 0;
      while (offset < data.length) {
        const size = 1 + uniformInt(rng, 700);
        hash.update(data.subarray(offset, offset + size));
        offset += size;
      }
      expect(hash.digestHex()).toBe(sha256Hex(data));
    }
    const empty = createSha256();
    expect(empty.digestHex()).toBe(sha256Hex(''));
  });
});

describe('constantTimeEqual', () => {
  it('is true for equal bytes and false for any difference, including length', () => {
    const a = new Uint8Array([1, 2, 3, 4]);
    expect(constantTimeEqual(a, new Uint8Array([1, 2, 3, 4]))).toBe(true);
    expect(constantTimeEqual(a, new Uint8Array([1, 2, 3, 5]))).toBe(false);
    expect(constantTimeEqual(a, new Uint8Array([1, 2, 3]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});

describe('concatBytes', () => {
  it('joins bytes and UTF-8 strings in order', () => {
    expect([...concatBytes('ab', new Uint8Array([0]), 'é', new Uint8Array(0))]).toEqual([0x61, 0x62, 0x00, 0xc3, 0xa9]);
    expect(concatBytes().length).toBe(0);
  });
});
