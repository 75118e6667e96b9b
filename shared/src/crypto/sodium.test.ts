// libsodium is initialised by test/helpers/setup.ts (cryptoReady), as at start-up.
import sodiumLib from 'libsodium-wrappers-sumo';
import { describe, expect, it } from 'vitest';
import { isCohortError } from '../core/errors.js';
import {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  generateKeyAgreementKeyPair,
  generateSigningKeyPair,
  keyAgreementKeyPairFromSecret,
  open,
  randomBytes,
  scalarmult,
  seal,
  sign,
  signingKeyPairFromSeed,
  verify,
} from './sodium.js';

const hex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function expectInvalidArgument(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isCohortError(caught, 'INVALID_ARGUMENT'), `expected INVALID_ARGUMENT, got ${String(caught)}`).toBe(true);
  expect((caught as Error).message).toMatch(message);
}

describe('Ed25519 signatures', () => {
  // RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
  const vectors = [
    {
      name: 'TEST 1',
      seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      message: '',
      signature:
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    },
    {
      name: 'TEST 2',
      seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      message: '72',
      signature:
        '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    },
  ];

  for (const v of vectors) {
    it(`matches RFC 8032 §7.1 ${v.name}: key from seed, signature, verification`, () => {
      const pair = signingKeyPairFromSeed(hex(v.seed));
      expect(toHex(pair.publicKey)).toBe(v.publicKey);
      // libsodium's secret key is seed || public key.
      expect(toHex(pair.secretKey)).toBe(v.seed + v.publicKey);
      const signature = sign(hex(v.message), pair.secretKey);
      expect(toHex(signature)).toBe(v.signature);
      expect(verify(signature, hex(v.message), pair.publicKey)).toBe(true);
    });
  }

  it('round-trips with a fresh key pair', () => {
    const pair = generateSigningKeyPair();
    const message = utf8('cohort/model/v1\0fed-1');
    expect(verify(sign(message, pair.secretKey), message, pair.publicKey)).toBe(true);
  });

  it('returns false for a wrong key, a tampered message or a tampered signature', () => {
    const alice = generateSigningKeyPair();
    const mallory = generateSigningKeyPair();
    const message = utf8('round 7 survivors: a, b, c');
    const signature = sign(message, alice.secretKey);
    expect(verify(signature, message, mallory.publicKey)).toBe(false);
    const tampered = message.slice();
    tampered[0]! ^= 1;
    expect(verify(signature, tampered, alice.publicKey)).toBe(false);
    const badSignature = signature.slice();
    badSignature[10]! ^= 0x80;
    expect(verify(badSignature, message, alice.publicKey)).toBe(false);
  });

  it('returns false (never throws) for malformed signatures or public keys from peers', () => {
    const pair = generateSigningKeyPair();
    const message = utf8('m');
    const signature = sign(message, pair.secretKey);
    expect(verify(signature.subarray(0, 63), message, pair.publicKey)).toBe(false);
    expect(verify(signature, message, pair.publicKey.subarray(0, 31))).toBe(false);
    expect(verify(new Uint8Array(64), message, new Uint8Array(32))).toBe(false);
  });

  it('throws CohortError on a seed or secret key of the wrong length', () => {
    expectInvalidArgument(() => signingKeyPairFromSeed(new Uint8Array(31)), /Ed25519 seed must be 32 bytes, got 31/);
    expectInvalidArgument(() => sign(utf8('m'), new Uint8Array(32)), /Ed25519 secret key must be 64 bytes, got 32/);
  });
});

describe('X25519 key agreement', () => {
  // RFC 7748 §6.1.
  const alice = { secret: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', public: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a' };
  const bob = { secret: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', public: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f' };
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it('matches RFC 7748 §6.1: public keys and the shared secret, in both directions', () => {
    const a = keyAgreementKeyPairFromSecret(hex(alice.secret));
    const b = keyAgreementKeyPairFromSecret(hex(bob.secret));
    expect(toHex(a.publicKey)).toBe(alice.public);
    expect(toHex(b.publicKey)).toBe(bob.public);
    expect(toHex(scalarmult(a.secretKey, b.publicKey)!)).toBe(shared);
    expect(toHex(scalarmult(b.secretKey, a.publicKey)!)).toBe(shared);
  });

  it('agrees on a secret between fresh key pairs, and differs between different pairs', () => {
    const a = generateKeyAgreementKeyPair();
    const b = generateKeyAgreementKeyPair();
    const c = generateKeyAgreementKeyPair();
    const ab = scalarmult(a.secretKey, b.publicKey)!;
    expect(ab).toEqual(scalarmult(b.secretKey, a.publicKey));
    expect(ab).not.toEqual(scalarmult(a.secretKey, c.publicKey));
  });

  it('returns null for a low-order peer key instead of an all-zero secret', () => {
    const a = generateKeyAgreementKeyPair();
    expect(scalarmult(a.secretKey, new Uint8Array(32))).toBeNull();
    const one = new Uint8Array(32);
    one[0] = 1; // u = 1 is a point of order 4
    expect(scalarmult(a.secretKey, one)).toBeNull();
  });

  it('throws CohortError on keys of the wrong length', () => {
    const a = generateKeyAgreementKeyPair();
    expectInvalidArgument(() => scalarmult(a.secretKey, new Uint8Array(31)), /X25519 public key must be 32 bytes, got 31/);
    expectInvalidArgument(() => scalarmult(new Uint8Array(33), a.publicKey), /X25519 secret key must be 32 bytes, got 33/);
    expectInvalidArgument(() => keyAgreementKeyPairFromSecret(new Uint8Array(16)), /secret key must be 32 bytes/);
  });

  it('does not alias the caller’s secret', () => {
    const secret = hex(alice.secret);
    const pair = keyAgreementKeyPairFromSecret(secret);
    secret.fill(0);
    expect(toHex(pair.secretKey)).toBe(alice.secret);
  });
});

describe('XChaCha20-Poly1305 AEAD', () => {
  // draft-irtf-cfrg-xchacha-03 §A.3.1, in seal's layout: nonce || ciphertext || tag.
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = '404142434445464748494a4b4c4d4e4f5051525354555657';
  const aad = hex('50515253c0c1c2c3c4c5c6c7');
  const plaintext = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
  const ciphertext =
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e';
  const tag = 'c0875924c1c7987947deafd8780acf49';

  it('opens the draft-irtf-cfrg-xchacha §A.3.1 test vector', () => {
    const opened = open(key, hex(nonce + ciphertext + tag), aad);
    expect(opened).not.toBeNull();
    expect(new TextDecoder().decode(opened!)).toBe(plaintext);
  });

  it('round-trips with a fresh random nonce per message', () => {
    const k = randomBytes(AEAD_KEY_BYTES);
    const message = utf8('share of client 17 for client 4');
    const context = utf8('fed-1/round-3/17->4');
    const a = seal(k, message, context);
    const b = seal(k, message, context);
    expect(a.length).toBe(message.length + AEAD_NONCE_BYTES + AEAD_TAG_BYTES);
    expect(toHex(a.subarray(0, AEAD_NONCE_BYTES))).not.toBe(toHex(b.subarray(0, AEAD_NONCE_BYTES)));
    expect(open(k, a, context)).toEqual(message);
    expect(open(k, b, context)).toEqual(message);
    expect(open(k, seal(k, new Uint8Array(0)))).toEqual(new Uint8Array(0));
  });

  it('returns null for a wrong key, wrong associated data, any flipped bit, or a short message', () => {
    const k = randomBytes(AEAD_KEY_BYTES);
    const sealed = seal(k, utf8('secret'), utf8('ad'));
    expect(open(randomBytes(AEAD_KEY_BYTES), sealed, utf8('ad'))).toBeNull();
    expect(open(k, sealed, utf8('AD'))).toBeNull();
    expect(open(k, sealed)).toBeNull();
    for (let i = 0; i < sealed.length; i++) {
      const flipped = sealed.slice();
      flipped[i]! ^= 1;
      expect(open(k, flipped, utf8('ad')), `bit flip at byte ${i}`).toBeNull();
    }
    expect(open(k, sealed.subarray(0, AEAD_NONCE_BYTES + AEAD_TAG_BYTES - 1), utf8('ad'))).toBeNull();
    expect(open(k, new Uint8Array(0))).toBeNull();
  });

  it('throws CohortError on a key of the wrong length', () => {
    expectInvalidArgument(() => seal(new Uint8Array(16), utf8('x')), /AEAD key must be 32 bytes, got 16/);
    expectInvalidArgument(() => open(new Uint8Array(31), new Uint8Array(64)), /AEAD key must be 32 bytes, got 31/);
  });
});

describe('randomBytes', () => {
  it('returns the requested number of bytes, different each call', () => {
    expect(randomBytes(0).length).toBe(0);
    const a = randomBytes(32);
    expect(a.length).toBe(32);
    expect(toHex(a)).not.toBe(toHex(randomBytes(32)));
  });

  it('throws CohortError on a negative or fractional length', () => {
    expectInvalidArgument(() => randomBytes(-1), /randomBytes length/);
    expectInvalidArgument(() => randomBytes(1.5), /randomBytes length/);
  });
});

describe('known-answer tests: RFC 7748 X25519 and RFC 8439 ChaCha20-Poly1305', () => {
  it('matches the two RFC 7748 §5.2 scalar multiplication vectors through scalarmult', () => {
    // The second u-coordinate has its top bit set: X25519 must mask it (RFC 7748 §5), which libsodium does.
    const vectors = [
      {
        scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
        u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
        output: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
      },
      {
        scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
        u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
        output: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
      },
    ];
    for (const v of vectors) expect(toHex(scalarmult(hex(v.scalar), hex(v.u))!)).toBe(v.output);
  });

  it('matches the RFC 7748 §5.2 iterated test after 1 and 1,000 iterations', () => {
    // k = u = 9; each round: k, u = X25519(k, u), k.
    let k: Uint8Array = new Uint8Array(32);
    k[0] = 9;
    let u: Uint8Array = k.slice();
    const after = new Map<number, string>();
    for (let i = 1; i <= 1000; i++) {
      const next = scalarmult(k, u)!;
      u = k;
      k = next;
      if (i === 1 || i === 1000) after.set(i, toHex(k));
    }
    expect(after.get(1)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    expect(after.get(1000)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  it('matches the RFC 8439 §2.8.2 ChaCha20-Poly1305 AEAD example (sunscreen), and opens it again', () => {
    const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = hex('070000004041424344454647');
    const aad = hex('50515253c0c1c2c3c4c5c6c7');
    const plaintext = utf8("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
    const ciphertext =
      'd31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36' +
      '92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116';
    const tag = '1ae10b594f09e26a7e902ecbd0600691';
    const sealed = sodiumLib.crypto_aead_chacha20poly1305_ietf_encrypt(plaintext, aad, null, nonce, key);
    expect(toHex(sealed)).toBe(ciphertext + tag);
    expect(sodiumLib.crypto_aead_chacha20poly1305_ietf_decrypt(null, hex(ciphertext + tag), aad, nonce, key)).toEqual(plaintext);
    const tampered = hex(ciphertext + tag);
    tampered[0]! ^= 1;
    expect(() => sodiumLib.crypto_aead_chacha20poly1305_ietf_decrypt(null, tampered, aad, nonce, key)).toThrow();
  });
});
