import { createCipheriv } from 'node:crypto';
import type * as NodeCrypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSeededRng } from '../core/rng/index.js';
import type { MaskAdder, MaskCipher, MaskTerm } from './mask-prg.js';
import { applyMasks, defaultMaskAdder, generateKeystreamOnly, keystreamWords } from './mask-prg.js';
import { expectCohortError } from '../../../test/helpers/errors.js';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

const CIPHERS: readonly MaskCipher[] = ['aes-256-ctr', 'chacha20'];
const ADDERS: readonly MaskAdder[] = ['wasm-simd', 'js'];
/** applyMasks works in 8192-word chunks: lengths around and across chunk boundaries. */
const LENGTHS = [1, 2, 3, 4, 5, 15, 16, 17, 8191, 8192, 8193, 3 * 8192 + 7, 40_001];

function randomKey(rng: { nextUint32(): number }): Uint8Array {
  const key = new Uint8Array(32);
  for (let i = 0; i < 32; i++) key[i] = rng.nextUint32() & 0xff;
  return key;
}

function randomWords(seed: number, length: number): Uint32Array {
  const rng = createSeededRng(seed);
  return Uint32Array.from({ length }, () => rng.nextUint32());
}

/** Independent reference: one unchunked node cipher call over zeros, words read with DataView, Number arithmetic. */
function referenceWords(key: Uint8Array, length: number, cipher: MaskCipher): number[] {
  const bytes = createCipheriv(cipher, key, new Uint8Array(16)).update(new Uint8Array(length * 4));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length }, (_, i) => view.getUint32(4 * i, true));
}

function referenceApply(initial: Uint32Array, terms: readonly MaskTerm[], cipher: MaskCipher): Uint32Array {
  const acc = Array.from(initial);
  for (const term of terms) {
    const words = referenceWords(term.key, initial.length, cipher);
    for (let i = 0; i < acc.length; i++) acc[i] = (((acc[i]! + term.sign * words[i]!) % 2 ** 32) + 2 ** 32) % 2 ** 32;
  }
  return Uint32Array.from(acc);
}

/** Word-for-word equality via one native byte comparison (deep-equal on large typed arrays is slow). */
function expectSameWords(actual: Uint32Array, expected: Uint32Array, what = ''): void {
  const same = actual.length === expected.length && Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)) === 0;
  if (!same) expect(Array.from(actual), what).toEqual(Array.from(expected)); // readable diff on failure
}

const expectInvalidArgument = (fn: () => unknown, message: RegExp): void => expectCohortError(fn, 'INVALID_ARGUMENT', message);

describe('stream ciphers behind the mask PRG (known answers)', () => {
  const sunscreen = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

  it("node's chacha20 is RFC 8439 ChaCha20 with IV = 32-bit little-endian counter || 96-bit nonce (§2.4.2)", () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const iv = hex('01000000' + '000000000000004a00000000'); // initial counter 1, nonce 00:00:00:00:00:00:00:4a:00:00:00:00
    const ciphertext = createCipheriv('chacha20', key, iv).update(new TextEncoder().encode(sunscreen));
    expect(toHex(ciphertext)).toBe(
      '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b' +
        'f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8' +
        '07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736' +
        '5af90bbf74a35be6b40b8eedf2785e42874d',
    );
  });

  it('keystreamWords(chacha20) starts at block counter 0 with a zero nonce (RFC 8439 A.1 test vectors #1 and #2)', () => {
    const words = keystreamWords(new Uint8Array(32), 32, 'chacha20');
    expect(toHex(new Uint8Array(words.buffer))).toBe(
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586' +
        '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f',
    );
    // Word 0 is the first four keystream bytes read little-endian.
    expect(words[0]).toBe(0xade0b876);
  });

  it("node's aes-256-ctr matches NIST SP 800-38A F.5.5 CTR-AES256.Encrypt (all four blocks)", () => {
    const key = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const counter = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const plaintext = hex('6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710');
    expect(toHex(createCipheriv('aes-256-ctr', key, counter).update(plaintext))).toBe(
      '601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6',
    );
  });

  it('keystreamWords(aes-256-ctr) starts at counter block 0: its first block is AES-256 of zeros under the key', () => {
    // AES-256 with the all-zero key on the all-zero block (FIPS 197 style known answer).
    expect(toHex(new Uint8Array(keystreamWords(new Uint8Array(32), 4).buffer))).toBe('dc95c078a2408989ad48a21492842087');
    // With the NIST key, block i is AES_k(i) as a 128-bit big-endian counter.
    const key = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
    const words = keystreamWords(key, 12);
    for (let block = 0; block < 3; block++) {
      const counterBlock = new Uint8Array(16);
      counterBlock[15] = block;
      const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(counterBlock);
      expect(toHex(new Uint8Array(words.buffer, 16 * block, 16))).toBe(toHex(ecb));
    }
  });
});

describe('keystreamWords', () => {
  it('equals one unchunked cipher call over zeros, across chunk boundaries, for both ciphers', () => {
    const rng = createSeededRng(1);
    for (const cipher of CIPHERS) {
      for (const length of [0, ...LENGTHS]) {
        const key = randomKey(rng);
        expectSameWords(keystreamWords(key, length, cipher), Uint32Array.from(referenceWords(key, length, cipher)), `${cipher} length ${length}`);
      }
    }
  });

  it('gives different streams for different keys, and the two ciphers differ', () => {
    const key = randomKey(createSeededRng(2));
    const flipped = key.slice();
    flipped[31]! ^= 1;
    const streams = [keystreamWords(key, 64), keystreamWords(flipped, 64), keystreamWords(key, 64, 'chacha20'), keystreamWords(flipped, 64, 'chacha20')];
    expect(new Set(streams.map((s) => toHex(new Uint8Array(s.buffer)))).size).toBe(4);
    expect(keystreamWords(key, 64)).toEqual(streams[0]);
  });
});

describe('applyMasks', () => {
  it('defaults to the WebAssembly SIMD adder on Node', () => {
    expect(defaultMaskAdder()).toBe('wasm-simd');
  });

  for (const adder of ADDERS) {
    describe(`with the ${adder} adder`, () => {
      it('equals a naive reference for random keys, signs, odd lengths and both ciphers', () => {
        const rng = createSeededRng(adder === 'js' ? 3 : 4);
        for (const cipher of CIPHERS) {
          for (const length of LENGTHS) {
            const count = 1 + (rng.nextUint32() % 11); // 1..11 terms: every grouping of plus and minus keys
            const terms: MaskTerm[] = Array.from({ length: count }, () => ({ key: randomKey(rng), sign: rng.nextFloat() < 0.5 ? 1 : -1 }));
            const initial = randomWords(length, length);
            const out = initial.slice();
            applyMasks(out, terms, cipher, adder);
            expectSameWords(out, referenceApply(initial, terms, cipher), `${cipher}, length ${length}, signs ${terms.map((t) => t.sign).join(',')}`);
          }
        }
      });

      it('cancels exactly: +key then -key restores the vector, in one call or two', () => {
        const rng = createSeededRng(5);
        for (const cipher of CIPHERS) {
          const initial = randomWords(6, 20_003);
          const keys = Array.from({ length: 6 }, () => randomKey(rng));
          const out = initial.slice();
          applyMasks(out, [...keys.map((key) => ({ key, sign: 1 as const })), ...keys.map((key) => ({ key, sign: -1 as const }))], cipher, adder);
          expectSameWords(out, initial);
          applyMasks(out, [{ key: keys[0]!, sign: 1 }, { key: keys[1]!, sign: -1 }], cipher, adder);
          expect(out.some((w, i) => w !== initial[i])).toBe(true);
          applyMasks(out, [{ key: keys[1]!, sign: 1 }, { key: keys[0]!, sign: -1 }], cipher, adder);
          expectSameWords(out, initial);
        }
      });

      it('adds exactly the keystreamWords of each key', () => {
        const key = randomKey(createSeededRng(7));
        for (const cipher of CIPHERS) {
          const out = new Uint32Array(10_000);
          applyMasks(out, [{ key, sign: 1 }], cipher, adder);
          expectSameWords(out, keystreamWords(key, 10_000, cipher));
          applyMasks(out, [{ key, sign: 1 }], cipher, adder);
          expectSameWords(out, keystreamWords(key, 10_000, cipher).map((w) => (2 * w) % 2 ** 32));
        }
      });

      it('masks a view in place without touching the words around it', () => {
        const backing = randomWords(8, 9000);
        const before = backing.slice();
        const view = backing.subarray(3, 8999);
        const key = randomKey(createSeededRng(9));
        applyMasks(view, [{ key, sign: -1 }], 'aes-256-ctr', adder);
        expect([backing[0], backing[1], backing[2], backing[8999]]).toEqual([before[0], before[1], before[2], before[8999]]);
        expectSameWords(view, referenceApply(before.subarray(3, 8999), [{ key, sign: -1 }], 'aes-256-ctr'));
      });

      it('does nothing for d = 0 or no terms', () => {
        const empty = new Uint32Array(0);
        applyMasks(empty, [{ key: new Uint8Array(32), sign: 1 }], 'aes-256-ctr', adder);
        const out = randomWords(10, 100);
        const copy = out.slice();
        applyMasks(out, [], 'chacha20', adder);
        expect(out).toEqual(copy);
      });
    });
  }

  it('handles tens of millions of words: +a +b -a leaves exactly the keystream of b', () => {
    const rng = createSeededRng(11);
    const a = randomKey(rng);
    const b = randomKey(rng);
    const d = 20_000_003;
    const out = new Uint32Array(d);
    applyMasks(out, [{ key: a, sign: 1 }, { key: b, sign: 1 }, { key: a, sign: -1 }]);
    expectSameWords(out, keystreamWords(b, d));
  });

  it('rejects keys that are not 32 bytes, bad signs, ciphers and adders', () => {
    const out = new Uint32Array(4);
    expectInvalidArgument(() => applyMasks(out, [{ key: new Uint8Array(31), sign: 1 }]), /mask key 0 must be 32 bytes, got 31 bytes/);
    expectInvalidArgument(() => applyMasks(out, [{ key: new Uint8Array(32), sign: 1 }, { key: new Uint8Array(33), sign: -1 }]), /mask key 1 must be 32 bytes, got 33/);
    expectInvalidArgument(() => applyMasks(out, [{ key: 'k'.repeat(32) as unknown as Uint8Array, sign: 1 }]), /mask key 0 must be 32 bytes, got string/);
    expectInvalidArgument(() => applyMasks(out, [{ key: new Uint8Array(32), sign: 0 as 1 }]), /mask term 0 sign must be 1 or -1, got 0/);
    expectInvalidArgument(() => applyMasks(out, [], 'aes-128-ctr' as MaskCipher), /mask cipher must be 'aes-256-ctr' or 'chacha20'/);
    expectInvalidArgument(() => applyMasks(out, [], 'aes-256-ctr', 'gpu' as MaskAdder), /mask adder must be 'wasm-simd' or 'js'/);
    // Validation happens even when there is nothing to mask.
    expectInvalidArgument(() => applyMasks(new Uint32Array(0), [{ key: new Uint8Array(1), sign: 1 }]), /mask key 0/);
    expectInvalidArgument(() => keystreamWords(new Uint8Array(32), -1), /keystream length must be a non-negative integer, got -1/);
    expectInvalidArgument(() => keystreamWords(new Uint8Array(16), 4), /mask key must be 32 bytes, got 16/);
    expectInvalidArgument(() => generateKeystreamOnly([new Uint8Array(32), new Uint8Array(8)], 4), /mask key 1 must be 32 bytes/);
    expectInvalidArgument(() => generateKeystreamOnly([], 1.5), /keystream length/);
  });
});

describe('generateKeystreamOnly', () => {
  it('runs for several keys, odd lengths and zero words without touching anything', () => {
    const rng = createSeededRng(12);
    const keys = Array.from({ length: 3 }, () => randomKey(rng));
    const copies = keys.map((k) => k.slice());
    for (const cipher of CIPHERS) for (const words of [0, 1, 8193, 50_000]) generateKeystreamOnly(keys, words, cipher);
    expect(keys).toEqual(copies);
  });
});

describe('applyMasks with keystream chunks at unaligned offsets', () => {
  afterEach(() => {
    vi.doUnmock('node:crypto');
    vi.resetModules();
  });

  it('copies misaligned keystream chunks before viewing them as words (js adder), and the wasm adder is unaffected', async () => {
    vi.resetModules();
    vi.doMock('node:crypto', async (importOriginal) => {
      const actual = await importOriginal<typeof NodeCrypto>();
      const createCipherivShifted = (...args: Parameters<typeof actual.createCipheriv>) => {
        const inner = actual.createCipheriv(...args);
        return {
          update(data: Uint8Array): Buffer {
            const bytes = inner.update(data);
            const shifted = Buffer.alloc(bytes.length + 1).subarray(1); // byteOffset 1
            bytes.copy(shifted);
            return shifted;
          },
        };
      };
      return { ...actual, default: actual, createCipheriv: createCipherivShifted };
    });
    const shifted = await import('./mask-prg.js');
    const rng = createSeededRng(13);
    const terms: MaskTerm[] = Array.from({ length: 6 }, (_, t) => ({ key: randomKey(rng), sign: t % 3 === 0 ? -1 : 1 }));
    for (const adder of ADDERS) {
      for (const length of [5, 8193]) {
        const initial = randomWords(14, length);
        const out = initial.slice();
        shifted.applyMasks(out, terms, 'chacha20', adder);
        expectSameWords(out, referenceApply(initial, terms, 'chacha20'), `${adder} length ${length}`);
      }
    }
  });
});
