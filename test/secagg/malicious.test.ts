/**
 * A coordinator that lies is caught by the clients, and a client that misbehaves is dropped by the coordinator with
 * a recorded protocol-violation reason while the sum of the others still comes out exact.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { CohortError } from '../../shared/src/core/errors.js';
import { SecAggClient } from '../../shared/src/core/secagg/client.js';
import { advertisedKeysPayload, permutationCommitment } from '../../shared/src/core/secagg/context.js';
import { assignBuckets, neighbourGraph } from '../../shared/src/core/secagg/graph.js';
import type { AdvertisedKeys, ShareKeysRequest, UnmaskRequest } from '../../shared/src/core/secagg/messages.js';
import { SecAggServer } from '../../shared/src/core/secagg/server.js';
import { cryptoReady } from '../../shared/src/crypto/sodium.js';
import { CONTEXT, createSeededRng, identities, modularSum, randomInputs, seededCrypto } from './helpers.js';

beforeAll(async () => {
  await cryptoReady();
});

const N = 7;
const D = 16;

/** n clients (default 7) on the complete graph (k = n − 1, default t = 4), their server, and helpers to run stages honestly. */
function setup(seed = 1, n = N, threshold = 4) {
  const crypto = seededCrypto(seed);
  const ids = identities(n, seed);
  const members = [...ids.keys()].sort();
  const neighbours = neighbourGraph(members, n - 1, createSeededRng(seed));
  const inputs = randomInputs(members, D + 1, createSeededRng(seed + 1000));
  const server = new SecAggServer({ context: CONTEXT, memberIds: members, neighbours, threshold, vectorLength: D + 1, crypto, identityKeyOf: (id) => ids.get(id)?.publicKey ?? null });
  const clients = new Map(members.map((id) => [id, new SecAggClient({ context: CONTEXT, clientId: id, identity: ids.get(id)!, crypto })]));
  const advertise = (): Map<string, ShareKeysRequest> => {
    for (const [id, req] of server.advertiseRequests()) server.receiveAdvertisedKeys(id, clients.get(id)!.advertiseKeys(req));
    const out = server.closeAdvertiseKeys();
    if (!out.ok) throw new Error(out.reason);
    return out.requests;
  };
  const throughMaskedInput = (): void => {
    for (const [id, req] of advertise()) server.receiveSharedKeys(id, clients.get(id)!.shareKeys(req));
    const masked = server.closeShareKeys();
    if (!masked.ok) throw new Error(masked.reason);
    for (const [id, req] of masked.requests) server.receiveMaskedInput(id, clients.get(id)!.maskInput(req, inputs.get(id)!));
  };
  return { crypto, ids, members, neighbours, threshold, inputs, server, clients, advertise, throughMaskedInput };
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CohortError);
    expect((error as CohortError).code).toBe('PROTOCOL_VIOLATION');
    return (error as CohortError).message;
  }
  throw new Error('expected a refusal');
}

describe('a lying coordinator is detected', () => {
  it('substituting a neighbour key: the client refuses before dealing any share', () => {
    const s = setup();
    const requests = s.advertise();
    const [a, b] = s.members as [string, string];
    const forged = s.crypto.agreementKeyPair(new Uint8Array(32).fill(7)).publicKey;
    const tampered = (req: ShareKeysRequest, patch: (k: AdvertisedKeys) => AdvertisedKeys): ShareKeysRequest => ({ ...req, neighbours: req.neighbours.map((k) => (k.clientId === b ? patch(k) : k)) });
    expect(refusal(() => s.clients.get(a)!.shareKeys(tampered(requests.get(a)!, (k) => ({ ...k, cipherPublicKey: forged }))))).toMatch(new RegExp(`keys of ${b} are not signed by its identity key`));
    expect(s.clients.get(a)!.stage).toBe('failed');
    // Re-signing with the coordinator's own identity does not help: the id names the real key.
    const s2 = setup(2);
    const requests2 = s2.advertise();
    const [a2, b2] = s2.members as [string, string];
    const attacker = [...identities(1, 99).values()][0]!;
    const resigned = requests2.get(a2)!.neighbours.map((k) => {
      if (k.clientId !== b2) return k;
      const payload = advertisedKeysPayload(CONTEXT, b2, forged, k.maskPublicKey, k.selfMaskCommitment);
      return { ...k, cipherPublicKey: forged, identityPublicKey: attacker.publicKey, signature: s2.crypto.sign(payload, attacker.secretKey) };
    });
    expect(refusal(() => s2.clients.get(a2)!.shareKeys({ ...requests2.get(a2)!, neighbours: resigned }))).toMatch(new RegExp(`identity key presented for ${b2} is not the one its id names`));
  });

  it('telling clients different survivor sets: nobody reveals, and both shares of the target are never out', () => {
    const s = setup(3);
    s.throughMaskedInput();
    const consistency = s.server.closeMaskedInput();
    expect(consistency.ok).toBe(true);
    const [a, x, ...others] = s.members as [string, string, ...string[]];
    const all = [...s.members];
    const withoutX = all.filter((id) => id !== x);
    // Client a is told everyone survived; the others are told x dropped (so they would reveal x's mask key).
    const sigA = s.clients.get(a)!.consistencyCheck({ survivorIds: all }).signature;
    const sigs = new Map<string, Uint8Array>(others.map((id) => [id, s.clients.get(id)!.consistencyCheck({ survivorIds: withoutX }).signature]));
    s.clients.get(x)!.consistencyCheck({ survivorIds: all });
    // a sees signatures over another set: refuses to reveal x's self-mask share.
    const toA: UnmaskRequest = { survivorIds: all, droppedIds: [], signatures: new Map([[a, sigA], ...sigs]) };
    expect(refusal(() => s.clients.get(a)!.unmask(toA))).toMatch(/does not match the survivor set this client signed/);
    // Shown only its own signature, a still refuses: fewer than t neighbours agree.
    const s3 = setup(3);
    s3.throughMaskedInput();
    s3.server.closeMaskedInput();
    const a3 = s3.members[0]!;
    const own = s3.clients.get(a3)!.consistencyCheck({ survivorIds: [...s3.members] }).signature;
    expect(refusal(() => s3.clients.get(a3)!.unmask({ survivorIds: [...s3.members], droppedIds: [], signatures: new Map([[a3, own]]) }))).toMatch(/only 1 neighbours .* signed the survivor set; the threshold is 4/);
    expect(s3.clients.get(a3)!.revealedSeedOwners.size).toBe(0);
    // Slipping a's signature (over another set) into the others' requests is caught too.
    const first = others[0]!;
    const toFirst: UnmaskRequest = { survivorIds: withoutX, droppedIds: [x], signatures: new Map([...sigs, [a, sigA]]) };
    expect(refusal(() => s.clients.get(first)!.unmask(toFirst))).toMatch(/a consistency signature from .*, who is not a survivor|does not match/);
    // What the coordinator can still collect: key shares of x from the "x dropped" group, never seed shares of x.
    const revealedKeyOfX = others.slice(1).filter((id) => {
      const out = s.clients.get(id)!.unmask({ survivorIds: withoutX, droppedIds: [x], signatures: sigs });
      return out.keyShares.some((r) => r.ownerId === x);
    });
    expect(revealedKeyOfX.length).toBeGreaterThan(0);
    for (const c of s.clients.values()) expect(c.revealedSeedOwners.has(x)).toBe(false);
  });

  it('asking for both shares of one client: refused, and a second unmask request is refused too', () => {
    const s = setup(4);
    s.throughMaskedInput();
    const consistency = s.server.closeMaskedInput();
    if (!consistency.ok) throw new Error(consistency.reason);
    for (const [id, req] of consistency.requests) s.server.receiveConsistencySignature(id, s.clients.get(id)!.consistencyCheck(req));
    const unmask = s.server.closeConsistencyCheck();
    if (!unmask.ok) throw new Error(unmask.reason);
    const [a, x] = s.members as [string, string];
    const honest = unmask.requests.get(a)!;
    expect(refusal(() => s.clients.get(a)!.unmask({ ...honest, droppedIds: [x] }))).toMatch(new RegExp(`client ${x} is listed both as a survivor and as dropped`));
    const b = s.members[2]!;
    s.clients.get(b)!.unmask(unmask.requests.get(b)!);
    expect(refusal(() => s.clients.get(b)!.unmask(unmask.requests.get(b)!))).toMatch(/unmasking request arrived but this client is at stage done/);
  });

  it('a bucket permutation seed that does not match its commitment is refused', () => {
    const crypto = seededCrypto(5);
    const ids = identities(6, 5);
    const members = [...ids.keys()].sort();
    const seed = new Uint8Array(32).fill(1);
    const commitment = permutationCommitment(crypto, CONTEXT.federationId, CONTEXT.roundId, seed);
    const buckets = assignBuckets(members, seed, 2);
    const bucket0 = buckets[0]!;
    const me = bucket0[0]!;
    const client = new SecAggClient({ context: CONTEXT, clientId: me, identity: ids.get(me)!, crypto });
    client.advertiseKeys({ neighbourIds: bucket0.filter((id) => id !== me), threshold: 2, buckets: { commitment, cohortIds: members, count: 2 } });
    expect(refusal(() => client.shareKeys({ neighbours: [], permutationSeed: new Uint8Array(32).fill(2) }))).toMatch(/does not match its commitment/);
    // The right seed but a neighbour from the other bucket is caught as well.
    const other = new SecAggClient({ context: CONTEXT, clientId: me, identity: ids.get(me)!, crypto });
    other.advertiseKeys({ neighbourIds: [bucket0[1]!, buckets[1]![0]!], threshold: 2, buckets: { commitment, cohortIds: members, count: 2 } });
    expect(refusal(() => other.shareKeys({ neighbours: [], permutationSeed: seed }))).toMatch(/is not in this client's bucket 0/);
  });
});

describe('misbehaving clients are dropped with a protocol-violation reason and the sum goes on', () => {
  function finish(s: ReturnType<typeof setup>, expectedSurvivors: string[]): void {
    const consistency = s.server.closeMaskedInput();
    if (!consistency.ok) throw new Error(consistency.reason);
    for (const [id, req] of consistency.requests) s.server.receiveConsistencySignature(id, s.clients.get(id)!.consistencyCheck(req));
    const unmask = s.server.closeConsistencyCheck();
    if (!unmask.ok) throw new Error(unmask.reason);
    for (const [id, req] of unmask.requests) s.server.receiveUnmaskShares(id, s.clients.get(id)!.unmask(req));
    const out = s.server.closeUnmasking();
    if (!out.ok) throw new Error(out.reason);
    expect(out.survivorIds).toEqual(expectedSurvivors);
    expect(Buffer.from(out.sum.buffer).equals(Buffer.from(modularSum(s.inputs, expectedSurvivors, D + 1).buffer))).toBe(true);
  }

  it('a forged key signature, a wrong-length masked input, a replayed stage message, a share that fails authentication', () => {
    const s = setup(6, 10, 5);
    const [bad, short, replayer, victim] = s.members as [string, string, string, string];
    // advertise-keys: one client's signature is broken.
    for (const [id, req] of s.server.advertiseRequests()) {
      const keys = s.clients.get(id)!.advertiseKeys(req);
      if (id === bad) keys.signature = new Uint8Array(64);
      try {
        s.server.receiveAdvertisedKeys(id, keys);
      } catch (error) {
        expect((error as CohortError).code).toBe('PROTOCOL_VIOLATION');
      }
    }
    expect(s.server.takeDrops()).toEqual([{ clientId: bad, stage: 'advertise-keys', reason: `protocol violation at advertise-keys: client ${bad} advertised keys with an invalid signature`, violation: true }]);
    const shareKeys = s.server.closeAdvertiseKeys();
    if (!shareKeys.ok) throw new Error(shareKeys.reason);
    for (const [id, req] of shareKeys.requests) s.server.receiveSharedKeys(id, s.clients.get(id)!.shareKeys(req));
    const masked = s.server.closeShareKeys();
    if (!masked.ok) throw new Error(masked.reason);
    // masked-input: a replay of share-keys, a short vector, and a share tampered in transit.
    expect(() => s.server.receiveSharedKeys(replayer, { shares: [] })).toThrow(/sent shared keys during stage masked-input \(expected in share-keys\): stale or replayed/);
    expect(() => s.server.receiveMaskedInput(short, new Uint32Array(D))).toThrow(new RegExp(`uploaded a masked input of ${D} words; expected ${D + 1}`));
    // A share tampered with in transit: the victim masks with its sender all the same and reports it, and the
    // sender (whose input is not in yet) is dropped as the violator.
    const toVictim = masked.requests.get(victim)!;
    const culprit = toVictim.shares.find((share) => ![bad, short, replayer].includes(share.fromId))!.fromId;
    const flipped = { ...toVictim, shares: toVictim.shares.map((share) => (share.fromId === culprit ? { ...share, ciphertext: share.ciphertext.map((b, i) => (i === 30 ? b ^ 1 : b)) } : share)) };
    s.server.receiveMaskedInput(victim, s.clients.get(victim)!.maskInput(flipped, s.inputs.get(victim)!));
    expect(s.clients.get(victim)!.rejectedShareSenders).toEqual([culprit]);
    s.server.receiveRejectedShares(victim, [culprit]);
    for (const [id, req] of masked.requests) {
      if (![replayer, short, victim, culprit].includes(id)) s.server.receiveMaskedInput(id, s.clients.get(id)!.maskInput(req, s.inputs.get(id)!));
    }
    const drops = s.server.takeDrops();
    expect(drops.map((d) => [d.clientId, d.stage, d.violation])).toEqual([
      [replayer, 'masked-input', true],
      [short, 'masked-input', true],
      [culprit, 'masked-input', true],
    ]);
    expect(drops[2]!.reason).toBe(`protocol violation at masked-input: client ${culprit} sent ${victim} a share that failed authentication`);
    finish(s, s.members.filter((id) => ![bad, short, replayer, culprit].includes(id)));
  });
});
