/**
 * The one libsodium façade. `cryptoReady()` is awaited once at start-up (and in the test setup); every other
 * function here is synchronous and throws on bad lengths. A failed verification returns false / null, never throws:
 * the protocol layer turns that into a typed error naming the peer.
 */
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
