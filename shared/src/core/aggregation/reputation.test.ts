import { describe, expect, it } from 'vitest';
import { NO_SUSPICION, clientOutcomes, nextReputation, nextSuspicion, shouldQuarantine, suspicionZ, validateReputationPolicy } from './reputation.js';
import type { Suspicion } from './reputation.js';
import { createSeededRng } from '../rng/rng.js';

const policy = { learningRate: 0.2, quarantineZ: 3, minRounds: 3 };

describe('reputation', () => {
  it('gives every member of a bucket the bucket verdict, and a plaintext client its own', () => {
    const outcomes = clientOutcomes([
      { contributionId: 'bucket-0', clientIds: ['a', 'b'], verdict: 'rejected', reason: 'far from the median', scores: {} },
      { contributionId: 'c', clientIds: ['c'], verdict: 'down-weighted', reason: 'clipped', scores: {} },
    ]);
    expect(outcomes.map((o) => [o.clientId, o.score, o.contributionId])).toEqual([
      ['a', 0, 'bucket-0'],
      ['b', 0, 'bucket-0'],
      ['c', 0.5, 'c'],
    ]);
  });

  it('compares each client with its round: mean badness over every scored client, buckets counted per member', () => {
    const outcomes = clientOutcomes([
      { contributionId: 'bucket-0', clientIds: ['a', 'b', 'c'], verdict: 'rejected', reason: 'far', scores: {} },
      { contributionId: 'bucket-1', clientIds: ['d', 'e'], verdict: 'down-weighted', reason: 'clipped', scores: {} },
      { contributionId: 'bucket-2', clientIds: ['f', 'g', 'h'], verdict: 'accepted', reason: '', scores: {} },
    ]);
    // (3·1 + 2·½ + 3·0) / 8.
    for (const o of outcomes) expect(o.roundBadness).toBe(0.5);
    expect(clientOutcomes([])).toEqual([]);
    const s = nextSuspicion(NO_SUSPICION, outcomes[0]!);
    expect(s).toEqual({ excess: 0.5, variance: 0.25 });
    expect(suspicionZ(s)).toBeCloseTo(0.5 / Math.sqrt(0.75), 12);
    expect(nextSuspicion(NO_SUSPICION, outcomes.at(-1)!)).toEqual({ excess: -0.5, variance: 0.25 });
  });

  it('quarantines a client rejected every round of five at p = 0.2 in its 5th round, never one accepted every round', () => {
    let attacker: Suspicion = NO_SUSPICION;
    let honest: Suspicion = NO_SUSPICION;
    let quarantinedAt = -1;
    for (let round = 1; round <= 20; round++) {
      attacker = nextSuspicion(attacker, { score: 0, roundBadness: 0.2 });
      honest = nextSuspicion(honest, { score: 1, roundBadness: 0.2 });
      if (quarantinedAt < 0 && shouldQuarantine(attacker, round, policy)) quarantinedAt = round;
      expect(shouldQuarantine(honest, round, policy)).toBe(false);
    }
    // z = 0.8k / √(0.16k + ½): 2.997 at k = 4, 3.51 at k = 5.
    expect(suspicionZ({ excess: 3.2, variance: 0.64 })).toBeCloseTo(2.997, 3);
    expect(quarantinedAt).toBe(5);
  });

  it('waits for minRounds, and does not quarantine for two lone rejections in quiet rounds', () => {
    const lone = { score: 0, roundBadness: 0.02 };
    let s = nextSuspicion(nextSuspicion(NO_SUSPICION, lone), lone);
    expect(shouldQuarantine(s, 2, policy)).toBe(false);
    s = nextSuspicion(s, { score: 1, roundBadness: 0 });
    // 1.96 / √(0.039 + ½) = 2.67 < 3.
    expect(shouldQuarantine(s, 3, policy)).toBe(false);
    expect(shouldQuarantine(nextSuspicion(s, lone), 4, policy)).toBe(true);
    expect(shouldQuarantine({ excess: 100, variance: 1 }, 2, policy)).toBe(false);
  });

  it('group testing: in re-drawn buckets of 2, attackers sink and honest clients that share their rejected buckets do not', () => {
    // 20 clients, 4 attackers, 10 buckets of 2 re-drawn every round; the rule rejects every bucket holding an attacker.
    const rng = createSeededRng(5);
    const n = 20;
    const attackers = 4;
    const suspicion: Suspicion[] = Array.from({ length: n }, () => NO_SUSPICION);
    const quarantinedAt: number[] = new Array<number>(n).fill(-1);
    for (let round = 1; round <= 15; round++) {
      const ids = Array.from({ length: n }, (_, i) => i).filter((i) => quarantinedAt[i]! < 0);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = Math.floor(rng.nextFloat() * (i + 1));
        [ids[i], ids[j]] = [ids[j]!, ids[i]!];
      }
      const buckets: number[][] = [];
      for (let b = 0; b < Math.floor(ids.length / 2); b++) buckets.push([]);
      ids.forEach((id, i) => buckets[i % buckets.length]!.push(id));
      const outcomes = clientOutcomes(
        buckets.map((members, b) => ({ contributionId: `bucket-${b}`, clientIds: members.map(String), verdict: members.some((m) => m < attackers) ? 'rejected' : 'accepted', reason: '', scores: {} })),
      );
      for (const o of outcomes) {
        const id = Number(o.clientId);
        suspicion[id] = nextSuspicion(suspicion[id]!, o);
        if (shouldQuarantine(suspicion[id]!, round, policy)) quarantinedAt[id] = round;
      }
    }
    for (let id = 0; id < attackers; id++) expect(quarantinedAt[id], `attacker ${id}`).toBeGreaterThan(0);
    for (let id = attackers; id < n; id++) expect(quarantinedAt[id], `honest ${id}`).toBe(-1);
    // On average honest clients fared better than their rounds: the attackers raise the rate for everyone.
    expect(suspicion.slice(attackers).reduce((sum, s) => sum + s.excess, 0)).toBeLessThan(0);
  });

  it('validates the policy, naming the field', () => {
    expect(() => validateReputationPolicy({ ...policy, learningRate: 0 })).toThrow(/reputation.learningRate/);
    expect(() => validateReputationPolicy({ ...policy, quarantineZ: 0 })).toThrow(/reputation.quarantineZ/);
    expect(() => nextSuspicion(NO_SUSPICION, { score: 1, roundBadness: 1.5 })).toThrow(/round badness/);
    expect(() => validateReputationPolicy({ ...policy, minRounds: 0.5 })).toThrow(/reputation.minRounds/);
    expect(() => nextReputation(1, 2, policy)).toThrow(/outcome score/);
  });
});
