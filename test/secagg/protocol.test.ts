/**
 * The secure sum end to end through the pure state machines (real libsodium and AES-CTR, no network): over seeds
 * 1..200 with random dropout patterns at every stage, the unmasked result equals bit for bit the modular sum of the
 * survivors' inputs whenever every survivor keeps t live neighbours, and the sum aborts with a reason otherwise.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { uniformInt } from '../../shared/src/core/rng/rng.js';
import { minimumDegree, neighbourGraph, resolveGraphParameters } from '../../shared/src/core/secagg/graph.js';
import { runSecureSumInProcess } from '../../shared/src/core/secagg/in-process.js';
import type { SecAggStage } from '../../shared/src/core/secagg/messages.js';
import { cryptoReady } from '../../shared/src/crypto/sodium.js';
import { CONTEXT, createSeededRng, identities, modularSum, randomInputs, seededCrypto } from './helpers.js';

const STAGES: SecAggStage[] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'];

beforeAll(async () => {
  await cryptoReady();
});

function scenario(seed: number) {
  const rng = createSeededRng(seed);
  const n = 3 + uniformInt(rng, 10);
  const ids = identities(n, seed);
  const members = [...ids.keys()];
  const explicitDegree = uniformInt(rng, 2) === 0 ? undefined : 2 + uniformInt(rng, n - 2);
  const { degree, threshold } = resolveGraphParameters(n, { neighbours: explicitDegree });
  const neighbours = neighbourGraph(members, degree, rng);
  const d = 1 + uniformInt(rng, 64);
  const inputs = randomInputs(members, d, rng);
  return { rng, n, ids, members, degree, threshold, neighbours, d, inputs };
}

describe('secure sum invariant', () => {
  it('equals the modular sum of the survivors bit for bit, for seeds 1..200 with dropouts within tolerance', () => {
    let withDropouts = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const s = scenario(seed);
      // Within tolerance: at most (fewest neighbours) - t clients drop in all, so every client keeps >= t live neighbours.
      const budget = uniformInt(s.rng, minimumDegree(s.n, s.degree) - s.threshold + 1);
      const dropAt = new Map<string, SecAggStage>();
      for (const id of s.members) {
        if (dropAt.size >= budget) break;
        if (s.rng.nextFloat() < 0.5) dropAt.set(id, STAGES[uniformInt(s.rng, STAGES.length)]!);
      }
      if (dropAt.size > 0) withDropouts++;
      const result = runSecureSumInProcess({ context: CONTEXT, identities: s.ids, neighbours: s.neighbours, threshold: s.threshold, inputs: s.inputs, crypto: seededCrypto(seed), dropAt });
      expect(result.outcome.ok, `seed ${seed}: ${result.outcome.ok ? '' : result.outcome.reason}`).toBe(true);
      if (!result.outcome.ok) continue;
      const expectedSurvivors = s.members.filter((id) => !['advertise-keys', 'share-keys', 'masked-input'].includes(dropAt.get(id) ?? '')).sort();
      expect(result.outcome.survivorIds, `seed ${seed}`).toEqual(expectedSurvivors);
      expect(Buffer.from(result.outcome.sum.buffer).equals(Buffer.from(modularSum(s.inputs, expectedSurvivors, s.d).buffer)), `seed ${seed}: sum differs`).toBe(true);
      neverBoth(result.clients);
    }
    expect(withDropouts).toBeGreaterThan(100);
  });

  it('aborts, naming the stage and the counts, when dropouts leave a secret with fewer than t holders (seeds 1..200)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const s = scenario(seed);
      // Beyond tolerance: one survivor loses k - t + 1 of its neighbours at a random stage.
      const victim = s.members[uniformInt(s.rng, s.n)]!;
      const stage = STAGES[uniformInt(s.rng, STAGES.length)]!;
      const dropAt = new Map<string, SecAggStage>();
      const own = s.neighbours.get(victim)!;
      for (const id of own.slice(0, own.length - s.threshold + 1)) dropAt.set(id, stage);
      const result = runSecureSumInProcess({ context: CONTEXT, identities: s.ids, neighbours: s.neighbours, threshold: s.threshold, inputs: s.inputs, crypto: seededCrypto(seed), dropAt });
      if (result.outcome.ok) {
        // Survivable only by dropping the starved client itself before its input counted (key stages).
        expect(['advertise-keys', 'share-keys'], `seed ${seed}`).toContain(stage);
        expect(result.outcome.survivorIds).not.toContain(victim);
        expect(Buffer.from(result.outcome.sum.buffer).equals(Buffer.from(modularSum(s.inputs, result.outcome.survivorIds, s.d).buffer))).toBe(true);
      } else {
        expect(result.outcome.reason, `seed ${seed}`).toMatch(/^(advertise-keys|share-keys|masked-input|consistency-check|unmasking): .*(threshold|needed)/);
        expect(result.outcome.reason).toMatch(/\d+ of \d+|only \d+/);
      }
      neverBoth(result.clients);
    }
  });
});

function neverBoth(clients: ReadonlyMap<string, { revealedSeedOwners: Set<string>; revealedKeyOwners: Set<string> }>): void {
  const seeds = new Set<string>();
  const keys = new Set<string>();
  for (const c of clients.values()) {
    for (const o of c.revealedSeedOwners) seeds.add(o);
    for (const o of c.revealedKeyOwners) keys.add(o);
  }
  for (const owner of seeds) expect(keys.has(owner), `both shares of ${owner} were revealed`).toBe(false);
}
