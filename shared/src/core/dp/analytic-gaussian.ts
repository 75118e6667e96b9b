/**
 * The analytic Gaussian mechanism (Balle & Wang, ICML 2018, Theorem 8): the exact δ(ε) of N(0, σ²) noise on a
 * query of L2 sensitivity Δ, and the smallest σ that meets a target (ε, δ). Tighter than the classical
 * σ = Δ·sqrt(2 ln(1.25/δ))/ε, and valid for every ε > 0 (the classical bound needs ε < 1).
 */
import { CohortError } from '../errors.js';
import { normalCdf } from './special.js';

/** δ(ε) = Φ(Δ/(2σ) − εσ/Δ) − e^ε · Φ(−Δ/(2σ) − εσ/Δ). */
export function analyticGaussianDelta(sigma: number, sensitivity: number, epsilon: number): number {
  if (!(sigma > 0 && Number.isFinite(sigma))) throw new CohortError('INVALID_ARGUMENT', `sigma must be > 0, got ${sigma}`);
  if (!(sensitivity > 0 && Number.isFinite(sensitivity))) throw new CohortError('INVALID_ARGUMENT', `sensitivity must be > 0, got ${sensitivity}`);
  if (!(epsilon >= 0 && Number.isFinite(epsilon))) throw new CohortError('INVALID_ARGUMENT', `epsilon must be >= 0, got ${epsilon}`);
  const a = sensitivity / (2 * sigma);
  const b = (epsilon * sigma) / sensitivity;
  return normalCdf(a - b) - Math.exp(epsilon) * normalCdf(-a - b);
}

/** The smallest σ with δ(ε) <= δ, by bisection to a relative precision of 1e-12 (δ(ε) falls as σ grows). */
export function calibrateAnalyticGaussian(epsilon: number, delta: number, sensitivity = 1): number {
  if (!(epsilon > 0 && Number.isFinite(epsilon))) throw new CohortError('INVALID_ARGUMENT', `epsilon must be > 0, got ${epsilon}`);
  if (!(delta > 0 && delta < 1)) throw new CohortError('INVALID_ARGUMENT', `delta must be in (0, 1), got ${delta}`);
  let hi = sensitivity;
  while (analyticGaussianDelta(hi, sensitivity, epsilon) > delta) hi *= 2;
  let lo = hi / 2;
  while (lo > 1e-12 && analyticGaussianDelta(lo, sensitivity, epsilon) <= delta) lo /= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (analyticGaussianDelta(mid, sensitivity, epsilon) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}
