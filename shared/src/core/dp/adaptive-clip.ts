/**
 * Adaptive clipping (Andrew, Thakkar, McMahan, Ramaswamy, NeurIPS 2021): the clip norm C tracks the γ-quantile of
 * the clients' update norms. Each client reports b = 1 if its update norm was <= C; the coordinator sums b − ½, adds
 * N(0, σ_b²), divides by the expected cohort size and adds ½ back to get b̄, then sets C ← C·exp(−η(b̄ − γ)).
 * The count is a second Gaussian query on the same clients. With the update's noise multiplier
 * z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2) the pair costs exactly one Gaussian release of multiplier z (Theorem 1 of the paper:
 * two Gaussian queries compose like one whose squared inverse multipliers add; the centred count has sensitivity ½,
 * so its multiplier is 2σ_b), so the accountant charges z, as if only the update were released.
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/rng.js';
import { normal } from '../rng/rng.js';

export interface AdaptiveClipOptions {
  /** γ in (0, 1): the target fraction of clients whose update is not clipped. */
  targetQuantile: number;
  /** η_C > 0: the geometric step of the clip-norm update (the paper uses 0.2). */
  learningRate: number;
  /** σ_b > 0: noise on the count of unclipped clients (the paper: expected cohort / 20). */
  countNoise: number;
}

function invalid(field: string, message: string): CohortError {
  return new CohortError('CONFIG_INVALID', `dp.adaptiveClipping.${field} ${message}`, { field: `dp.adaptiveClipping.${field}` });
}

export function validateAdaptiveClip(options: AdaptiveClipOptions): void {
  const { targetQuantile, learningRate, countNoise } = options;
  if (!(targetQuantile > 0 && targetQuantile < 1)) throw invalid('targetQuantile', `must be in (0, 1), got ${targetQuantile}`);
  if (!(learningRate > 0 && Number.isFinite(learningRate))) throw invalid('learningRate', `must be a finite number > 0, got ${learningRate}`);
  if (!(countNoise > 0 && Number.isFinite(countNoise))) throw invalid('countNoise', `must be a finite number > 0, got ${countNoise}`);
}

/**
 * z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2): the update's share of the total noise multiplier z once the count takes its part.
 * Needs 2σ_b > z, else the count alone would cost more than the whole budget of a round.
 */
export function updateNoiseMultiplier(totalNoiseMultiplier: number, countNoise: number): number {
  const z = totalNoiseMultiplier;
  if (!(z > 0 && Number.isFinite(z))) throw new CohortError('CONFIG_INVALID', `noise multiplier must be > 0, got ${z}`);
  if (!(countNoise > 0)) throw invalid('countNoise', `must be > 0, got ${countNoise}`);
  const rest = z ** -2 - (2 * countNoise) ** -2;
  if (!(rest > 0)) {
    throw invalid('countNoise', `= ${countNoise} is too small for noise multiplier ${z}: the count's noise must exceed z/2 = ${z / 2}, or it alone spends the round's budget`);
  }
  return 1 / Math.sqrt(rest);
}

/**
 * b̄ = (Σ (b_i − ½) + N(0, σ_b²)) / expected + ½: the noised fraction of clients whose update norm was within the clip
 * norm. Centring each bit at ±½ is what makes adding or removing one client move the noised sum by at most ½, the
 * sensitivity the noise split assumes; the fixed denominator (expected, not realized, contributions) leaks nothing.
 */
export function noisedUnclippedFraction(unclippedCount: number, contributions: number, expectedContributions: number, countNoise: number, rng: Rng): number {
  if (!(Number.isInteger(contributions) && contributions >= 0)) throw new CohortError('INVALID_ARGUMENT', `contributions must be an integer >= 0, got ${contributions}`);
  if (!(Number.isInteger(unclippedCount) && unclippedCount >= 0 && unclippedCount <= contributions)) {
    throw new CohortError('INVALID_ARGUMENT', `unclipped count must be an integer in [0, ${contributions}], got ${unclippedCount}`);
  }
  if (!(expectedContributions > 0)) throw new CohortError('INVALID_ARGUMENT', `expected contributions must be > 0, got ${expectedContributions}`);
  return (unclippedCount - contributions / 2 + countNoise * normal(rng)) / expectedContributions + 0.5;
}

/** C ← C·exp(−η(b̄ − γ)): grows when too many clients were clipped (b̄ < γ), shrinks when too few were. */
export function nextClipNorm(clipNorm: number, noisedFraction: number, options: Pick<AdaptiveClipOptions, 'targetQuantile' | 'learningRate'>): number {
  if (!(clipNorm > 0 && Number.isFinite(clipNorm))) throw new CohortError('INVALID_ARGUMENT', `clip norm must be > 0, got ${clipNorm}`);
  if (!Number.isFinite(noisedFraction)) throw new CohortError('INVALID_ARGUMENT', `noised fraction must be finite, got ${noisedFraction}`);
  return clipNorm * Math.exp(-options.learningRate * (noisedFraction - options.targetQuantile));
}
