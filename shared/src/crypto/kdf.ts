/**
 * HKDF-SHA-256 (RFC 5869) over node:crypto, and `deriveKey`, the one way protocol keys are derived from raw secrets
 * (X25519 shared secrets, reconstructed seeds): every key is bound to a label and an unambiguous context encoding.
 */
import { hkdfSync } from 'node:crypto';
import { CohortError } from '../core/errors.js';

/** SHA-256 output length, bytes; HKDF can expand to at most 255 of these. */
const HASH_BYTES = 32;
/** Most output bytes HKDF-SHA-256 can produce (255 · 32). */
export const HKDF_SHA256_MAX_LENGTH = 255 * HASH_BYTES;
/** Most `info` bytes node:crypto's hkdfSync accepts. */
export const HKDF_MAX_INFO_BYTES = 1024;
/** Length of every `deriveKey` output, bytes. */
export const DERIVED_KEY_BYTES = 32;
/** Shortest secret `deriveKey` accepts, bytes: anything shorter is a bug, not a key. */
const MIN_SECRET_BYTES = 16;

function requireBytes(what: string, value: Uint8Array): void {
  if (!(value instanceof Uint8Array)) throw new CohortError('INVALID_ARGUMENT', `${what} must be a Uint8Array, got ${typeof value}`);
}

/** HKDF-SHA-256 (RFC 5869): extract with `salt` (empty = 32 zero bytes), expand with `info` to `length` bytes (1..8160). */
export function hkdfSha256(inputKeyMaterial: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  requireBytes('HKDF input key material', inputKeyMaterial);
  requireBytes('HKDF salt', salt);
  requireBytes('HKDF info', info);
  if (!Number.isSafeInteger(length) || length < 1 || length > HKDF_SHA256_MAX_LENGTH) {
    throw new CohortError('INVALID_ARGUMENT', `HKDF-SHA-256 output length must be an integer in [1, ${HKDF_SHA256_MAX_LENGTH}], got ${length}`);
  }
  if (info.length > HKDF_MAX_INFO_BYTES) {
    throw new CohortError('INVALID_ARGUMENT', `HKDF info must be at most ${HKDF_MAX_INFO_BYTES} bytes, got ${info.length}`);
  }
  return new Uint8Array(hkdfSync('sha256', inputKeyMaterial, salt, info, length));
}

/** One item of a `deriveKey` context: a string (UTF-8), raw bytes, or a non-negative safe integer (8-byte big-endian). */
export type KdfContextItem = string | Uint8Array | number;

const LABEL_PATTERN = /^[A-Za-z0-9._-]+$/;
const TAG_BYTES = 0x62; // 'b'
const TAG_STRING = 0x73; // 's'
const TAG_NUMBER = 0x6e; // 'n'

/**
 * The `info` string of `deriveKey`: "cohort/" + label + "/v1", then per context item a type tag byte ('s' string,
 * 'b' bytes, 'n' number), a 4-byte big-endian length and the item (strings UTF-8, numbers 8-byte big-endian unsigned).
 * Length prefixes stop ["a","bc"] colliding with ["ab","c"]; tags stop the number 5 colliding with its 8 bytes.
 */
export function encodeKdfInfo(label: string, context: readonly KdfContextItem[]): Uint8Array {
  if (typeof label !== 'string' || !LABEL_PATTERN.test(label)) {
    throw new CohortError('INVALID_ARGUMENT', `KDF label must be non-empty [A-Za-z0-9._-], got ${JSON.stringify(label)}`);
  }
  const encoder = new TextEncoder();
  const parts: { tag: number; bytes: Uint8Array }[] = context.map((item, i) => {
    if (typeof item === 'string') return { tag: TAG_STRING, bytes: encoder.encode(item) };
    if (item instanceof Uint8Array) return { tag: TAG_BYTES, bytes: item };
    if (typeof item === 'number' && Number.isSafeInteger(item) && item >= 0) {
      const bytes = new Uint8Array(8);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, Math.floor(item / 2 ** 32), false);
      view.setUint32(4, item >>> 0, false);
      return { tag: TAG_NUMBER, bytes };
    }
    throw new CohortError('INVALID_ARGUMENT', `KDF context item ${i} must be a string, bytes or a non-negative safe integer, got ${String(item)}`);
  });
  const prefix = encoder.encode(`cohort/${label}/v1`);
  const out = new Uint8Array(prefix.length + parts.reduce((n, p) => n + 5 + p.bytes.length, 0));
  const view = new DataView(out.buffer);
  out.set(prefix, 0);
  let offset = prefix.length;
  for (const { tag, bytes } of parts) {
    out[offset] = tag;
    view.setUint32(offset + 1, bytes.length, false);
    out.set(bytes, offset + 5);
    offset += 5 + bytes.length;
  }
  return out;
}

/**
 * A 32-byte key for one purpose: HKDF-SHA-256(secret, salt = empty, info = encodeKdfInfo(label, context)). The label
 * names the purpose (e.g. "pairwise-mask"), the context binds it (federation, round, both client ids...).
 */
export function deriveKey(secret: Uint8Array, label: string, context: readonly KdfContextItem[]): Uint8Array {
  requireBytes('KDF secret', secret);
  if (secret.length < MIN_SECRET_BYTES) {
    throw new CohortError('INVALID_ARGUMENT', `KDF secret must be at least ${MIN_SECRET_BYTES} bytes, got ${secret.length}`);
  }
  return hkdfSha256(secret, new Uint8Array(0), encodeKdfInfo(label, context), DERIVED_KEY_BYTES);
}
