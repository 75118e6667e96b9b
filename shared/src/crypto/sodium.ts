/**
 * The one libsodium façade. `cryptoReady()` is awaited once at start-up (and in the test setup); every other
 * function here is synchronous and throws on bad lengths. A failed verification returns false / null, never throws:
 * the protocol layer turns that into a typed error naming the peer.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { CohortError } from '../core/errors.js';

let ready: Promise<void> | undefined;

/** Initialises libsodium once; safe to call many times. */
export function cryptoReady(): Promise<void> {
  ready ??= sodium.ready;
  return ready;
}

function lib(): typeof sodium {
  // `sodium.ready` resolving sets up the functions; calling before that is a programming error.
  if (typeof sodium.crypto_sign_detached !== 'function') {
    throw new CohortError('INTERNAL', 'libsodium used before cryptoReady() resolved');
  }
  return sodium;
}

export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SECRET_KEY_BYTES = 64;
export const ED25519_SIGNATURE_BYTES = 64;

export interface SigningKeyPair {
  /** Ed25519 public key, 32 bytes. */
  readonly publicKey: Uint8Array;
  /** Ed25519 secret key (libsodium form: seed || public key), 64 bytes. */
  readonly secretKey: Uint8Array;
}

/** Fresh Ed25519 identity key pair from OS randomness. */
export function generateSigningKeyPair(): SigningKeyPair {
  const kp = lib().crypto_sign_keypair();
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/** Ed25519 key pair from a 32-byte seed (deterministic; for tests and simulations). */
export function signingKeyPairFromSeed(seed: Uint8Array): SigningKeyPair {
  if (seed.length !== 32) throw new CohortError('INVALID_ARGUMENT', `Ed25519 seed must be 32 bytes, got ${seed.length}`);
  const kp = lib().crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

/** Detached Ed25519 signature (64 bytes). */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  if (secretKey.length !== ED25519_SECRET_KEY_BYTES) {
    throw new CohortError('INVALID_ARGUMENT', `Ed25519 secret key must be ${ED25519_SECRET_KEY_BYTES} bytes, got ${secretKey.length}`);
  }
  return lib().crypto_sign_detached(message, secretKey);
}

/** Verifies a detached Ed25519 signature; false on any mismatch or malformed input. */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES || publicKey.length !== ED25519_PUBLIC_KEY_BYTES) return false;
  try {
    return lib().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

function requireLength(what: string, bytes: Uint8Array, expected: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== expected) {
    const actual = bytes instanceof Uint8Array ? `${bytes.length}` : typeof bytes;
    throw new CohortError('INVALID_ARGUMENT', `${what} must be ${expected} bytes, got ${actual}`);
  }
}

/** Largest single randomBytes request (1 GiB): anything bigger is a bug, not a key or a nonce. */
const MAX_RANDOM_BYTES = 2 ** 30;

/**
 * `length` bytes from the OS CSPRNG, for keys, nonces and seeds. Node's generator (OpenSSL's, seeded from the OS)
 * rather than libsodium's: the WebAssembly build reaches the OS through a JS callback per call, ~150-230 µs for 32
 * bytes here against ~10 µs, and secure aggregation draws thousands of nonces and keys per round.
 */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_RANDOM_BYTES) {
    throw new CohortError('INVALID_ARGUMENT', `randomBytes length must be an integer in [0, ${MAX_RANDOM_BYTES}], got ${length}`);
  }
  return new Uint8Array(nodeRandomBytes(length));
}

// X25519 key agreement (RFC 7748): the pairwise-mask and share-encryption keys of secure aggregation.

/** X25519 public key length, bytes. */
export const X25519_PUBLIC_KEY_BYTES = 32;
/** X25519 secret scalar length, bytes. */
export const X25519_SECRET_KEY_BYTES = 32;
/** Raw X25519 shared secret length, bytes (KDF input, not a key). */
export const X25519_SHARED_SECRET_BYTES = 32;

/** An X25519 key pair for one secure-aggregation round (never the Ed25519 identity key). */
export interface KeyAgreementKeyPair {
  /** X25519 public key (u-coordinate, little-endian), 32 bytes. */
  readonly publicKey: Uint8Array;
  /** X25519 secret scalar, 32 bytes (clamped by X25519 itself, so any 32 bytes are a valid key). */
  readonly secretKey: Uint8Array;
}

/** Fresh X25519 key pair from OS randomness. */
export function generateKeyAgreementKeyPair(): KeyAgreementKeyPair {
  return keyAgreementKeyPairFromSecret(randomBytes(X25519_SECRET_KEY_BYTES));
}

/** X25519 key pair for a given 32-byte secret scalar (deterministic; for tests, simulations and key recovery). */
export function keyAgreementKeyPairFromSecret(secretKey: Uint8Array): KeyAgreementKeyPair {
  requireLength('X25519 secret key', secretKey, X25519_SECRET_KEY_BYTES);
  return { publicKey: lib().crypto_scalarmult_base(secretKey), secretKey: secretKey.slice() };
}

/**
 * Raw X25519 shared secret (32 bytes) of our secret key and a peer's public key. Returns null when the peer key is a
 * low-order point (the result would be all zeros, i.e. known to anyone): a misbehaving peer, reported by the caller.
 * The output is not uniformly random: always pass it through a KDF bound to the protocol context before use.
 */
export function scalarmult(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null {
  requireLength('X25519 secret key', secretKey, X25519_SECRET_KEY_BYTES);
  requireLength('X25519 public key', publicKey, X25519_PUBLIC_KEY_BYTES);
  const sodium = lib();
  try {
    return sodium.crypto_scalarmult(secretKey, publicKey);
  } catch {
    // libsodium refuses (throws "weak public key") exactly when the result is all zeros.
    return null;
  }
}

// XChaCha20-Poly1305 (IETF construction): encryption of Shamir shares between clients. The 24-byte nonce is random
// per message, which XChaCha's nonce size makes safe without any counter state.

/** XChaCha20-Poly1305 key length, bytes. */
export const AEAD_KEY_BYTES = 32;
/** XChaCha20-Poly1305 nonce length, bytes (prepended to every sealed message). */
export const AEAD_NONCE_BYTES = 24;
/** Poly1305 tag length, bytes (appended to every sealed message). */
export const AEAD_TAG_BYTES = 16;

/**
 * Encrypts and authenticates `plaintext` (and authenticates `associatedData`, e.g. round and both client ids).
 * Returns nonce (24 bytes) || ciphertext || tag (16 bytes): plaintext length + 40 bytes.
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array): Uint8Array {
  requireLength('AEAD key', key, AEAD_KEY_BYTES);
  const nonce = randomBytes(AEAD_NONCE_BYTES);
  const body = lib().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, associatedData ?? null, null, nonce, key);
  const out = new Uint8Array(AEAD_NONCE_BYTES + body.length);
  out.set(nonce, 0);
  out.set(body, AEAD_NONCE_BYTES);
  return out;
}

/**
 * Opens the output of `seal`. Returns the plaintext, or null when the message is too short, was tampered with, or
 * was sealed under another key or associated data. Only a key of the wrong length throws.
 */
export function open(key: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array): Uint8Array | null {
  requireLength('AEAD key', key, AEAD_KEY_BYTES);
  if (!(sealed instanceof Uint8Array) || sealed.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) return null;
  try {
    return lib().crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      sealed.subarray(AEAD_NONCE_BYTES),
      associatedData ?? null,
      sealed.subarray(0, AEAD_NONCE_BYTES),
      key,
    );
  } catch {
    return null;
  }
}
