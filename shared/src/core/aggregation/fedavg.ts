/**
 * FedAvg aggregation (McMahan et al. 2017): the example-weighted mean of the contributions' updates.
 * Streams: each contribution is folded into a float64 running sum and dropped, so memory is O(d) whatever the
 * number of contributions (DESIGN §10: ≥ 1,000 clients per round at d = 100k), and the result does not depend on
 * arrival order beyond float64 rounding (far below the float32 resolution of the output).
 */
import { CohortError } from '../errors.js';
import { axpyInto } from '../tensor/ops.js';
import type { ContributionLimits } from './contribution.js';
import { createContributionGuard, requireDimension } from './contribution.js';
import type { AggregateResult, AggregationAccumulator, Contribution, ContributionVerdict } from './types.js';

/** Options of the FedAvg accumulator: only the admission limits (maxAbs, model units). */
export type FedAvgOptions = ContributionLimits;

/** A streaming weighted-mean accumulator over d-dimensional updates. */
export function createFedAvgAccumulator(dimension: number, options: FedAvgOptions = {}): AggregationAccumulator {
  requireDimension(dimension);
  const guard = createContributionGuard(dimension, options);
  // Float64 so that 10^3..10^4 float32 terms of mixed sign do not lose the small ones.
  let sum: Float64Array | null = new Float64Array(dimension);
  let totalWeight = 0;
  let count = 0;
  const verdicts: { verdict: ContributionVerdict; weight: number }[] = [];

  return {
    add(c: Contribution) {
      if (sum === null) throw new CohortError('FAILED_PRECONDITION', 'fedavg: cannot add a contribution after finish()');
      const { l2Norm } = guard.admit(c);
      axpyInto(sum, c.weight, c.delta);
      totalWeight += c.weight;
      count++;
      verdicts.push({
        weight: c.weight,
        verdict: {
          contributionId: c.id,
          clientIds: [...c.clientIds],
          verdict: 'accepted',
          reason: `fedavg accepts every valid contribution, weighted by its ${c.weight} examples`,
          scores: { weight: c.weight, l2Norm },
        },
      });
    },
    get count() {
      return count;
    },
    get totalWeight() {
      return totalWeight;
    },
    finish(): AggregateResult {
      if (sum === null) throw new CohortError('FAILED_PRECONDITION', 'fedavg: finish() was already called');
      if (count === 0) throw new CohortError('FAILED_PRECONDITION', 'fedavg: no contributions to aggregate');
      const delta = new Float32Array(dimension);
      const inverse = 1 / totalWeight;
      for (let i = 0; i < dimension; i++) delta[i] = sum[i]! * inverse;
      sum = null; // Release the d-sized float64 buffer as soon as the round has its result.
      return {
        delta,
        totalWeight,
        count,
        // The share is only known once every weight is in; it tells an operator how much one client moved the model.
        verdicts: verdicts.map(({ verdict, weight }) => ({ ...verdict, scores: { ...verdict.scores, share: weight / totalWeight } })),
      };
    },
  };
}
