/**
 * Cohort selection (pure). Fixed mode samples cohortSize·(1 + overSelection) clients without replacement; Poisson
 * mode includes each eligible client independently with probability q, which is what the DP accountant's
 * amplification-by-sampling assumes.
 */
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import { uniformInt } from '../../../shared/src/core/rng/rng.js';

export interface SelectionPolicy {
  mode: 'fixed' | 'poisson';
  cohortSize: number;
  overSelection: number;
  samplingRate: number;
}

/** Number of clients fixed mode asks for (cohort plus over-selection), before capping at the eligible count. */
export function fixedSelectionTarget(policy: SelectionPolicy): number {
  return Math.ceil(policy.cohortSize * (1 + policy.overSelection) - 1e-9);
}

/**
 * Selects a cohort from eligible client ids. The ids are sorted first so a seeded rng gives the same cohort
 * whatever order clients connected in.
 */
export function selectCohort(eligible: readonly string[], policy: SelectionPolicy, rng: Rng): string[] {
  const pool = [...eligible].sort();
  if (policy.mode === 'poisson') return pool.filter(() => rng.nextFloat() < policy.samplingRate);
  const k = Math.min(pool.length, fixedSelectionTarget(policy));
  // Partial Fisher-Yates: the first k positions are a uniform sample without replacement.
  for (let i = 0; i < k; i++) {
    const j = i + uniformInt(rng, pool.length - i);
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.slice(0, k).sort();
}
