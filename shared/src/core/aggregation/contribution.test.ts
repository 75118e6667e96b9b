import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import { createSeededRng, normal, uniformInt } from '../rng/index.js';
import { contributionFromWeightedSum, rejectedVerdict } from './contribution.js';
import { createFedAvgAccumulator } from './fedavg.js';
import type { Contribution } from './types.js';

describe('bucket contributions (secure aggregation)', () => {
  it('turns a weighted sum and its total weight into the bucket mean', () => {
    const c = contributionFromWeightedSum({ id: 'bucket-0', clientIds: ['a', 'b'], weightedSum: new Float64Array([10, -4]), totalWeight: 4 });
    expect(c).toEqual({ id: 'bucket-0', clientIds: ['a', 'b'], delta: new Float32Array([2.5, -1]), weight: 4 });
  });

  it('refuses a bucket with no weight', () => {
    for (const totalWeight of [0, -1, Number.NaN]) {
      let caught: unknown;
      try {
        contributionFromWeightedSum({ id: 'b', clientIds: ['a'], weightedSum: new Float32Array(1), totalWeight });
      } catch (error) {
        caught = error;
      }
      expect(isCohortError(caught, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('gives the same FedAvg result from bucket means as from the clients themselves (seeds 1..50)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rng = createSeededRng(seed);
      const d = 1 + uniformInt(rng, 32);
      const clients: Contribution[] = Array.from({ length: 4 + uniformInt(rng, 20) }, (_, i) => ({
        id: `client-${i}`,
        clientIds: [`client-${i}`],
        delta: Float32Array.from({ length: d }, () => normal(rng)),
        weight: 1 + uniformInt(rng, 100),
      }));
      const direct = createFedAvgAccumulator(d);
      for (const c of clients) direct.add(c);

      const bucketed = createFedAvgAccumulator(d);
      const bucketSize = 3;
      for (let start = 0; start < clients.length; start += bucketSize) {
        const members = clients.slice(start, start + bucketSize);
        const weightedSum = new Float64Array(d);
        for (const m of members) for (let j = 0; j < d; j++) weightedSum[j]! += m.weight * m.delta[j]!;
        bucketed.add(
          contributionFromWeightedSum({
            id: `bucket-${start / bucketSize}`,
            clientIds: members.map((m) => m.id),
            weightedSum,
            totalWeight: members.reduce((s, m) => s + m.weight, 0),
          }),
        );
      }
      const a = direct.finish();
      const b = bucketed.finish();
      expect(b.totalWeight).toBe(a.totalWeight);
      for (let j = 0; j < d; j++) expect(Math.abs(a.delta[j]! - b.delta[j]!)).toBeLessThan(1e-6);
    }
  });
});

describe('rejectedVerdict', () => {
  it('records a refused contribution with its reason and no scores', () => {
    const clientIds = ['x'];
    const verdict = rejectedVerdict({ id: 'x', clientIds }, 'update element 3 is NaN');
    expect(verdict).toEqual({ contributionId: 'x', clientIds: ['x'], verdict: 'rejected', reason: 'update element 3 is NaN', scores: {} });
    expect(verdict.clientIds).not.toBe(clientIds);
  });
});
