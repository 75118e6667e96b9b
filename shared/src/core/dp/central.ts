/**
 * Central DP-FedAvg aggregation (McMahan et al. 2018, user-level DP): every client's update is clipped to L2 norm C
 * (the coordinator re-checks, and refuses an update above C), updates are summed with equal weight, Gaussian noise
 * N(0, z²C²) is added to each coordinate of the sum, and the result is divided by a fixed denominator, the expected
 * number of contributions qN, not the realized count: the realized count depends on who was sampled, and dividing
 * by it would leak. Streams in O(d) like FedAvg.
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/rng.js';
import { normal } from '../rng/rng.js';
import { addInto } from '../tensor/ops.js';
import { createContributionGuard, requireDimension } from '../aggregation/contribution.js';
import type { AggregateResult, AggregationAccumulator, Contribution, ContributionVerdict } from '../aggregation/types.js';

/** Relative slack on the clip-norm check: float32 clipping can land a hair above C. */
const CLIP_SLACK = 1e-5;

export interface DpFedAvgOptions {
  /** L2 clip norm C, model units. */
  clipNorm: number;
  /** z: noise standard deviation in units of C. */
  noiseMultiplier: number;
  /** The fixed denominator: expected contributions per round (qN for Poisson sampling, the cohort size otherwise). */
  expectedContributions: number;
  /** Noise randomness (the OS CSPRNG in production; seeded in tests). */
  rng: Rng;
}

export function createDpFedAvgAccumulator(dimension: number, options: DpFedAvgOptions): AggregationAccumulator {
  requireDimension(dimension);
  const { clipNorm, noiseMultiplier, expectedContributions, rng } = options;
  if (!(clipNorm > 0 && Number.isFinite(clipNorm))) throw new CohortError('CONFIG_INVALID', `dp-fedavg: clip norm must be a finite number > 0, got ${clipNorm}`);
  if (!(noiseMultiplier >= 0 && Number.isFinite(noiseMultiplier))) throw new CohortError('CONFIG_INVALID', `dp-fedavg: noise multiplier must be a finite number >= 0, got ${noiseMultiplier}`);
  if (!(expectedContributions > 0 && Number.isFinite(expectedContributions))) {
    throw new CohortError('CONFIG_INVALID', `dp-fedavg: expected contributions must be a finite number > 0, got ${expectedContributions}`);
  }
  const guard = createContributionGuard(dimension);
  let sum: Float64Array | null = new Float64Array(dimension);
  let count = 0;
  const verdicts: ContributionVerdict[] = [];
  return {
    add(c: Contribution) {
      if (sum === null) throw new CohortError('FAILED_PRECONDITION', 'dp-fedavg: cannot add a contribution after finish()');
      const { l2Norm } = guard.admit(c);
      if (l2Norm > clipNorm * (1 + CLIP_SLACK)) {
        throw new CohortError('INVALID_ARGUMENT', `contribution "${c.id}": update norm ${l2Norm} exceeds the clip norm ${clipNorm}; clients must clip before upload`);
      }
      addInto(sum, c.delta);
      count++;
      verdicts.push({
        contributionId: c.id,
        clientIds: [...c.clientIds],
        verdict: 'accepted',
        reason: `dp-fedavg: clipped to ${clipNorm} and weighted 1/${expectedContributions} like every client`,
        scores: { l2Norm, weight: 1 },
      });
    },
    get count() {
      return count;
    },
    get totalWeight() {
      return count;
    },
    finish(): AggregateResult {
      if (sum === null) throw new CohortError('FAILED_PRECONDITION', 'dp-fedavg: finish() was already called');
      if (count === 0) throw new CohortError('FAILED_PRECONDITION', 'dp-fedavg: no contributions to aggregate');
      const sigma = noiseMultiplier * clipNorm;
      const delta = new Float32Array(dimension);
      const inverse = 1 / expectedContributions;
      for (let i = 0; i < dimension; i++) delta[i] = (sum[i]! + sigma * normal(rng)) * inverse;
      sum = null;
      return { delta, totalWeight: count, count, verdicts };
    },
  };
}
