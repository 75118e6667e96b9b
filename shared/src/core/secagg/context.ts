/**
 * What both sides of a secure sum agree on: the protocol instance (federation, round, bucket), the exact bytes that
 * are signed, encrypted-with and hashed, and the crypto the pure state machines are given (libsodium and node:crypto
 * live in shared/src/crypto/secagg-crypto.ts; the state machines here never import them).
 */
import { concatBytes } from '../bytes.js';
import { CohortError } from '../errors.js';

/** One secure sum: a bucket of a round of a federation. Every derived key, signature and AEAD binds all three. */
export interface SecAggContext {
  readonly federationId: string;
  readonly roundId: string;
  /** Bucket index (0 when the round is one secure sum). */
  readonly bucket: number;
}

/** One term of a mask: out += sign · PRG(key) word-wise mod 2^32. */
export interface MaskTerm {
  /** 256-bit PRG key, already derived and domain-separated. */
  readonly key: Uint8Array;
  readonly sign: 1 | -1;
}

/** An X25519 key pair, 32-byte keys. */
export interface AgreementKeyPair {
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

/** The cryptography the protocol state machines are handed (production: libsodium + node:crypto). */
export interface SecAggCrypto {
  /** Uniformly random bytes (keys, self-mask seeds, Shamir coefficients). */
  randomBytes(length: number): Uint8Array;
  /** X25519 key pair from a 32-byte secret. */
  agreementKeyPair(secretKey: Uint8Array): AgreementKeyPair;
  /** Raw X25519 shared secret; null for a low-order public key. Always passed through deriveKey before use. */
  agree(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  /** 32-byte key from a secret, bound to a label and an unambiguous context (HKDF-SHA256). */
  deriveKey(secret: Uint8Array, label: string, context: readonly (string | number)[]): Uint8Array;
  /** XChaCha20-Poly1305: nonce || ciphertext || tag. */
  seal(key: Uint8Array, plaintext: Uint8Array, associatedData: Uint8Array): Uint8Array;
  /** null when authentication fails. */
  open(key: Uint8Array, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array | null;
  /** Ed25519 with the client's enrolled identity key. */
  sign(message: Uint8Array, identitySecretKey: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, identityPublicKey: Uint8Array): boolean;
  sha256(data: Uint8Array): Uint8Array;
  /** The client id an identity key names ("c-" + 20 hex of its SHA-256). */
  clientIdOf(identityPublicKey: Uint8Array): string;
  /** out += Σ sign · PRG(key), mod 2^32. */
  applyMasks(out: Uint32Array, terms: readonly MaskTerm[]): void;
}

/** Length of every X25519 key and Ed25519 public key, bytes. */
export const KEY_BYTES = 32;
/** Length of a self-mask seed, bytes (never shorter: the PRG is keyed with all 256 bits). */
export const SEED_BYTES = 32;
/** Ed25519 signature length, bytes. */
export const SIGNATURE_BYTES = 64;

const encoder = new TextEncoder();
const NUL = new Uint8Array([0]);

function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

function contextBytes(context: SecAggContext): Uint8Array {
  return concatBytes(context.federationId, NUL, context.roundId, NUL, u32be(context.bucket));
}

/** What a client signs when it advertises its round keys. */
export function advertisedKeysPayload(context: SecAggContext, clientId: string, cipherPublicKey: Uint8Array, maskPublicKey: Uint8Array, selfMaskCommitment: Uint8Array): Uint8Array {
  return concatBytes('cohort/secagg/keys/v1', NUL, contextBytes(context), NUL, clientId, NUL, cipherPublicKey, maskPublicKey, selfMaskCommitment);
}

/** What a client signs in the consistency check: the survivor set it was told, sorted. */
export function survivorsPayload(context: SecAggContext, survivorIds: readonly string[]): Uint8Array {
  const parts: (Uint8Array | string)[] = ['cohort/secagg/survivors/v1', NUL, contextBytes(context), NUL, u32be(survivorIds.length)];
  for (const id of survivorIds) parts.push(id, NUL);
  return concatBytes(...parts);
}

/** Associated data of an encrypted share: direction matters, so a share cannot be reflected back to its sender. */
export function shareAssociatedData(context: SecAggContext, fromId: string, toId: string): Uint8Array {
  return concatBytes('cohort/secagg/share/v1', NUL, contextBytes(context), NUL, fromId, NUL, toId);
}

/** Commitment to a self-mask seed, published (signed) with the advertised keys so its reconstruction can be checked. */
export function selfMaskCommitment(crypto: SecAggCrypto, context: SecAggContext, clientId: string, seed: Uint8Array): Uint8Array {
  return crypto.sha256(concatBytes('cohort/secagg/self-mask-commitment/v1', NUL, contextBytes(context), NUL, clientId, NUL, seed));
}

/** Commitment to the bucket permutation seed, sent before keys are advertised and checked when the seed is revealed. */
export function permutationCommitment(crypto: SecAggCrypto, federationId: string, roundId: string, seed: Uint8Array): Uint8Array {
  return crypto.sha256(concatBytes('cohort/secagg/buckets/v1', NUL, federationId, NUL, roundId, NUL, seed));
}

/** The PRG key of the pairwise mask between two clients (symmetric in the pair). */
export function pairMaskKey(crypto: SecAggCrypto, context: SecAggContext, sharedSecret: Uint8Array, a: string, b: string): Uint8Array {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return crypto.deriveKey(sharedSecret, 'secagg.pair-mask', [context.federationId, context.roundId, context.bucket, lo, hi]);
}

/** The AEAD key for shares between two clients (symmetric; the associated data fixes the direction). */
export function shareKey(crypto: SecAggCrypto, context: SecAggContext, sharedSecret: Uint8Array, a: string, b: string): Uint8Array {
  const [lo, hi] = a < b ? [a, b] : [b, a];
  return crypto.deriveKey(sharedSecret, 'secagg.share', [context.federationId, context.roundId, context.bucket, lo, hi]);
}

/** The PRG key of a client's self mask. */
export function selfMaskKey(crypto: SecAggCrypto, context: SecAggContext, clientId: string, seed: Uint8Array): Uint8Array {
  return crypto.deriveKey(seed, 'secagg.self-mask', [context.federationId, context.roundId, context.bucket, clientId]);
}

/** Sign of the pairwise mask in `owner`'s masked input: the lexicographically smaller id adds, the larger subtracts. */
export function pairSign(owner: string, other: string): 1 | -1 {
  return owner < other ? 1 : -1;
}

/** Plaintext of an encrypted share: from id, to id, the self-mask-seed share, the mask-key share (encoded shares). */
export function encodeSharePlaintext(fromId: string, toId: string, seedShare: Uint8Array, keyShare: Uint8Array): Uint8Array {
  const from = encoder.encode(fromId);
  const to = encoder.encode(toId);
  return concatBytes(u32be(from.length), from, u32be(to.length), to, u32be(seedShare.length), seedShare, u32be(keyShare.length), keyShare);
}

export function decodeSharePlaintext(bytes: Uint8Array): { fromId: string; toId: string; seedShare: Uint8Array; keyShare: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: Uint8Array[] = [];
  let offset = 0;
  for (let i = 0; i < 4; i++) {
    if (offset + 4 > bytes.length) throw new CohortError('PROTOCOL_VIOLATION', 'share plaintext is truncated');
    const length = view.getUint32(offset, false);
    offset += 4;
    if (offset + length > bytes.length) throw new CohortError('PROTOCOL_VIOLATION', 'share plaintext is truncated');
    fields.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length) throw new CohortError('PROTOCOL_VIOLATION', 'share plaintext has trailing bytes');
  const decoder = new TextDecoder();
  return { fromId: decoder.decode(fields[0]), toId: decoder.decode(fields[1]), seedShare: fields[2]!, keyShare: fields[3]! };
}

/** True when two byte strings are equal (public values only: keys, commitments; not constant-time). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
