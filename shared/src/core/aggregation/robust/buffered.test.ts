import { describe, expect, it } from 'vitest';
import { isCohortError } from '../../errors.js';
import { createBufferedAccumulator, distanceScores, weightedMean } from './buffered.js';
import type { Contribution } from '../types.js';

const c = (id: string, delta: number[], weight = 1): Contribution => ({ id, clientIds: [id], delta: Float32Array.from(delta), weight });

describe('buffered robust-rule frame', () => {
  it('hands the admitted contributions to the rule and adds the common scores to its decisions', () => {
    const acc = createBufferedAccumulator(2, { name: 'keep-first' }, (all) => ({
      delta: Float32Array.from(all[0]!.contribution.delta),
      decisions: all.map((b, i) => (i === 0 ? { verdict: 'accepted' as const, reason: 'first', scores: { rank: 1 } } : { verdict: 'rejected' as const, reason: `not first (norm ${b.l2Norm})` })),
    }));
    acc.add(c('a', [3, 4], 2));
    acc.add(c('b', [0, -4], 5));
    expect(acc.count).toBe(2);
    expect(acc.totalWeight).toBe(7);
    const result = acc.finish();
    expect(Array.from(result.delta)).toEqual([3, 4]);
    expect(result.totalWeight).toBe(2);
    expect(result.verdicts[0]).toEqual({ contributionId: 'a', clientIds: ['a'], verdict: 'accepted', reason: 'first', scores: { rank: 1, weight: 2, share: 1, l2Norm: 5, distanceToAggregate: 0, cosineToAggregate: 1 } });
    expect(result.verdicts[1]!.scores).toMatchObject({ weight: 5, share: 0, l2Norm: 4, cosineToAggregate: -0.8 });
    expect(result.verdicts[1]!.scores['distanceToAggregate']).toBeCloseTo(Math.hypot(3, 8), 12);
  });

  it('refuses bad contributions without buffering them, too few contributions, and use after finish', () => {
    const acc = createBufferedAccumulator(2, { name: 'krum-like', minContributions: 3 }, (all) => ({ delta: new Float32Array(2), decisions: all.map(() => ({ verdict: 'accepted' as const, reason: '' })) }));
    expect(() => acc.add(c('x', [1, Number.NaN]))).toThrow(/element 1 is NaN/);
    expect(() => acc.add(c('y', [1]))).toThrow();
    acc.add(c('a', [1, 1]));
    expect(acc.count).toBe(1);
    let caught: unknown;
    try {
      acc.finish();
    } catch (error) {
      caught = error;
    }
    expect(isCohortError(caught, 'FAILED_PRECONDITION')).toBe(true);
    expect((caught as Error).message).toBe('krum-like: needs at least 3 contributions, got 1');
  });

  it('computes weighted means and distance scores', () => {
    expect(Array.from(weightedMean(2, [{ delta: Float32Array.from([1, 0]), weight: 1 }, { delta: Float32Array.from([0, 1]), weight: 3 }, { delta: Float32Array.from([9, 9]), weight: 0 }]))).toEqual([0.25, 0.75]);
    expect(() => weightedMean(2, [])).toThrow(/no contribution kept a positive weight/);
    expect(distanceScores(Float32Array.from([0, 0]), 0, Float32Array.from([1, 0]), 1)).toEqual({ distanceToAggregate: 1, cosineToAggregate: 0 });
  });
});
