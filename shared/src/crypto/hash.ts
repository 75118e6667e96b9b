/** SHA-256 helpers over node:crypto (hex is the form used on the wire and in the database). */
import { createHash, timingSafeEqual } from 'node:crypto';

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Incremental SHA-256 for chunked transfers. */
export function createSha256(): { update(chunk: Uint8Array): void; digestHex(): string } {
  const hash = createHash('sha256');
  return { update: (chunk) => void hash.update(chunk), digestHex: () => hash.digest('hex') };
}

/** Constant-time equality of two byte strings (false when lengths differ). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export { concatBytes } from '../core/bytes.js';
