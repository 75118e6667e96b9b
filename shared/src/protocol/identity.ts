/** Client ids are derived from the enrolled identity key, so an id names exactly one key and is reproducible. */
import { sha256Hex } from '../crypto/hash.js';

/** "c-" + the first 20 hex characters (80 bits) of SHA-256(identity public key). */
export function clientIdFromPublicKey(identityPublicKey: Uint8Array): string {
  return `c-${sha256Hex(identityPublicKey).slice(0, 20)}`;
}
