/** Shared set-up of the secure-aggregation tests: seeded identities, crypto and inputs. */
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import type { Rng } from '../../shared/src/core/rng/rng.js';
import type { SecAggContext, SecAggCrypto } from '../../shared/src/core/secagg/context.js';
import { createSecAggCrypto, seededRandomBytes } from '../../shared/src/crypto/secagg-crypto.js';
import { signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import { clientIdFromPublicKey } from '../../shared/src/protocol/identity.js';

export type Identity = { publicKey: Uint8Array; secretKey: Uint8Array };

export function seededCrypto(seed: number): SecAggCrypto {
  return createSecAggCrypto({ randomBytes: seededRandomBytes(new TextEncoder().encode(`secagg-test/${seed}`)) });
}

/** n identities from a seed; ids are derived from the keys, as in production. */
export function identities(n: number, seed: number): Map<string, Identity> {
  const random = seededRandomBytes(new TextEncoder().encode(`identities/${seed}`));
  const out = new Map<string, Identity>();
  for (let i = 0; i < n; i++) {
    const keys = signingKeyPairFromSeed(random(32));
    out.set(clientIdFromPublicKey(keys.publicKey), { publicKey: keys.publicKey, secretKey: keys.secretKey });
  }
  return out;
}

export function randomInputs(ids: Iterable<string>, length: number, rng: Rng): Map<string, Uint32Array> {
  const out = new Map<string, Uint32Array>();
  for (const id of ids) {
    const v = new Uint32Array(length);
    for (let i = 0; i < length; i++) v[i] = rng.nextUint32();
    out.set(id, v);
  }
  return out;
}

/** Σ inputs mod 2^32 over the given clients. */
export function modularSum(inputs: ReadonlyMap<string, Uint32Array>, ids: Iterable<string>, length: number): Uint32Array {
  const sum = new Uint32Array(length);
  for (const id of ids) {
    const v = inputs.get(id)!;
    for (let i = 0; i < length; i++) sum[i] = (sum[i]! + v[i]!) >>> 0;
  }
  return sum;
}

export const CONTEXT: SecAggContext = { federationId: 'fed-test', roundId: 'round-test', bucket: 0 };

export { createSeededRng };
