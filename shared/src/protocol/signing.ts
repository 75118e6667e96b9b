/**
 * The exact bytes each side signs. Every payload starts with a distinct domain tag ending in NUL, so a signature
 * made for one purpose can never be replayed for another.
 */
import { concatBytes, sha256 } from '../crypto/hash.js';

const NUL = new Uint8Array([0]);

function u32be(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, false);
  return out;
}

/** Enrollment proof of possession: "cohort/enroll/v1\0" || sha256(token) || identity public key. */
export function enrollmentProofPayload(token: string, identityPublicKey: Uint8Array): Uint8Array {
  return concatBytes('cohort/enroll/v1', NUL, sha256(token), identityPublicKey);
}

/** Session challenge answer: "cohort/session/v1\0" || client id || "\0" || nonce. */
export function sessionChallengePayload(clientId: string, nonce: Uint8Array): Uint8Array {
  return concatBytes('cohort/session/v1', NUL, clientId, NUL, nonce);
}

/** Model signature: "cohort/model/v1\0" || federation id || "\0" || u32be(version) || sha256 hex. */
export function modelSignaturePayload(federationId: string, version: number, sha256Hex: string): Uint8Array {
  return concatBytes('cohort/model/v1', NUL, federationId, NUL, u32be(version), sha256Hex);
}
