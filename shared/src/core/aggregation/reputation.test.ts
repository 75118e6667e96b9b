import { describe, expect, it } from 'vitest';
import { clientOutcomes, nextReputation, shouldQuarantine, validateReputationPolicy } from './reputation.js';

const policy = { learningRate: 0.2, quarantineBelow: 0.3, minRounds: 3 };

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

  it('quarantines a client rejected every round after 6 rounds, never one accepted every round', () => {
    let attacker = 1;
    let honest = 1;
    let quarantinedAt = -1;
    for (let round = 1; round <= 20; round++) {
      attacker = nextReputation(attacker, 0, policy);
      honest = nextReputation(honest, 1, policy);
      if (quarantinedAt < 0 && shouldQuarantine(attacker, round, policy)) quarantinedAt = round;
      expect(shouldQuarantine(honest, round, policy)).toBe(false);
    }
    // 0.8^5 = 0.328, 0.8^6 = 0.262.
    expect(quarantinedAt).toBe(6);
  });

  it('waits for minRounds, and an honest client half the time in rejected buckets stays above the threshold on average', () => {
    expect(shouldQuarantine(0.1, 2, policy)).toBe(false);
    expect(shouldQuarantine(0.1, 3, policy)).toBe(true);
    let r = 1;
    let sum = 0;
    for (let round = 0; round < 1000; round++) {
      r = nextReputation(r, round % 2, policy);
      sum += r;
    }
    expect(sum / 1000).toBeCloseTo(0.5, 1);
  });

  it('validates the policy, naming the field', () => {
    expect(() => validateReputationPolicy({ ...policy, learningRate: 0 })).toThrow(/reputation.learningRate/);
    expect(() => validateReputationPolicy({ ...policy, quarantineBelow: 1 })).toThrow(/reputation.quarantineBelow/);
    expect(() => validateReputationPolicy({ ...policy, minRounds: 0.5 })).toThrow(/reputation.minRounds/);
    expect(() => nextReputation(1, 2, policy)).toThrow(/outcome score/);
  });
});
