/**
 * The production cryptography of secure aggregation: libsodium for X25519, XChaCha20-Poly1305 and Ed25519,
 * node:crypto for HKDF-SHA256, SHA-256 and the AES-256-CTR mask PRG. The pure state machines in
 * shared/src/core/secagg receive it as a SecAggCrypto.
 */
import type { SecAggCrypto } from '../core/secagg/context.js';
import { clientIdFromPublicKey } from '../protocol/identity.js';
import { sha256 } from './hash.js';
import { deriveKey } from './kdf.js';
import type { MaskCipher } from './mask-prg.js';
import { applyMasks } from './mask-prg.js';
import { keyAgreementKeyPairFromSecret, open, randomBytes, scalarmult, seal, sign, verify } from './sodium.js';

export interface SecAggCryptoOptions {
  /** Randomness for keys, self-mask seeds and Shamir coefficients; default libsodium's CSPRNG. Simulations may seed it. */
  randomBytes?: (length: number) => Uint8Array;
  cipher?: MaskCipher;
}

/** Call after cryptoReady(). */
export function createSecAggCrypto(options: SecAggCryptoOptions = {}): SecAggCrypto {
  const cipher = options.cipher ?? 'aes-256-ctr';
  return {
    randomBytes: options.randomBytes ?? randomBytes,
    agreementKeyPair: (secretKey) => keyAgreementKeyPairFromSecret(secretKey),
    agree: (secretKey, publicKey) => scalarmult(secretKey, publicKey),
    deriveKey: (secret, label, context) => deriveKey(secret, label, context),
    seal: (key, plaintext, associatedData) => seal(key, plaintext, associatedData),
    open: (key, sealed, associatedData) => open(key, sealed, associatedData),
    sign: (message, secretKey) => sign(message, secretKey),
    verify: (signature, message, publicKey) => verify(signature, message, publicKey),
    sha256: (data) => sha256(data),
    clientIdOf: (publicKey) => clientIdFromPublicKey(publicKey),
    applyMasks: (out, terms) => applyMasks(out, terms, cipher),
  };
}

/** Deterministic randomness from a seed (simulations and tests only: never for a real deployment). */
export function seededRandomBytes(seed: Uint8Array): (length: number) => Uint8Array {
  let counter = 0;
  return (length) => {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const block = sha256(new Uint8Array([...seed, counter & 0xff, (counter >>> 8) & 0xff, (counter >>> 16) & 0xff, (counter >>> 24) & 0xff]));
      counter++;
      const take = Math.min(block.length, length - filled);
      out.set(block.subarray(0, take), filled);
      filled += take;
    }
    return out;
  };
}
