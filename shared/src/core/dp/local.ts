/**
 * Local DP: each client adds N(0, σ²) to its own clipped update before it leaves the node, so no one (coordinator
 * or other clients) sees a less noisy value. Calibrated and accounted with the analytic Gaussian mechanism (Balle &
 * Wang, ICML 2018), which is exact, not a bound: k Gaussian releases of one client's data, each of sensitivity C and
 * noise σ = z·C, compose to exactly one Gaussian release of sensitivity sqrt(k)·C (their privacy-loss distributions
 * multiply into a Gaussian one, Dong, Roth & Su 2019, Cor. 3.3), so the per-client ε after k rounds joined is the
 * analytic Gaussian's ε at Δ = sqrt(k), σ = z.
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/rng.js';
import { normal } from '../rng/rng.js';
import { analyticGaussianDelta, calibrateAnalyticGaussian } from './analytic-gaussian.js';

/** The smallest ε with δ(ε) <= δ for N(0, σ²) noise on a query of L2 sensitivity Δ (bisection, 1e-12 relative). */
export function analyticGaussianEpsilon(sigma: number, sensitivity: number, delta: number): number {
  if (!(delta > 0 && delta < 1)) throw new CohortError('INVALID_ARGUMENT', `delta must be in (0, 1), got ${delta}`);
  if (analyticGaussianDelta(sigma, sensitivity, 0) <= delta) return 0;
  let hi = 1;
  while (analyticGaussianDelta(sigma, sensitivity, hi) > delta) {
    hi *= 2;
    if (hi > 1e6) throw new CohortError('INVALID_ARGUMENT', `no ε below 1e6 reaches δ = ${delta} with σ = ${sigma}, Δ = ${sensitivity}`);
  }
  let lo = 0;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (analyticGaussianDelta(sigma, sensitivity, mid) > delta) lo = mid;
    else hi = mid;
  }
  return hi;
}

function requireJoins(rounds: number, field: string): void {
  if (!(Number.isSafeInteger(rounds) && rounds >= 0)) throw new CohortError('INVALID_ARGUMENT', `${field} must be an integer >= 0, got ${rounds}`);
}

/** ε of one client after joining `rounds` rounds with local noise multiplier z (0 rounds: 0). */
export function localEpsilon(noiseMultiplier: number, rounds: number, delta: number): number {
  requireJoins(rounds, 'rounds joined');
  if (!(noiseMultiplier > 0 && Number.isFinite(noiseMultiplier))) throw new CohortError('INVALID_ARGUMENT', `noise multiplier must be > 0, got ${noiseMultiplier}`);
  if (rounds === 0) return 0;
  return analyticGaussianEpsilon(noiseMultiplier, Math.sqrt(rounds), delta);
}

/** The z with which a client joining every one of `rounds` rounds spends exactly (ε, δ). */
export function localNoiseMultiplierFor(targetEpsilon: number, delta: number, rounds: number): number {
  requireJoins(rounds, 'rounds');
  if (rounds === 0) throw new CohortError('INVALID_ARGUMENT', 'rounds must be >= 1 to calibrate local noise');
  return calibrateAnalyticGaussian(targetEpsilon, delta, Math.sqrt(rounds));
}

/** Adds N(0, σ²) to every element, in place. σ = 0 is a no-op. */
export function addGaussianNoiseInPlace(values: Float32Array, sigma: number, rng: Rng): void {
  if (!(sigma >= 0 && Number.isFinite(sigma))) throw new CohortError('INVALID_ARGUMENT', `noise standard deviation must be a finite number >= 0, got ${sigma}`);
  if (sigma === 0) return;
  for (let i = 0; i < values.length; i++) values[i] = values[i]! + sigma * normal(rng);
}
