import { describe, expect, it } from 'vitest';
import { analyticGaussianDelta, calibrateAnalyticGaussian } from './analytic-gaussian.js';

describe('analytic Gaussian mechanism (Balle & Wang 2018)', () => {
  it('σ = 1, Δ = 1: δ(ε = 0) = 0.38292492', () => {
    expect(analyticGaussianDelta(1, 1, 0)).toBeCloseTo(0.38292492, 8);
  });

  it('calibrating (ε = 1, δ = 1e-5) gives σ ≈ 3.7306, tighter than the classical bound, and it scales with Δ', () => {
    const sigma = calibrateAnalyticGaussian(1, 1e-5);
    expect(sigma).toBeCloseTo(3.7306, 4);
    expect(analyticGaussianDelta(sigma, 1, 1)).toBeLessThanOrEqual(1e-5);
    expect(analyticGaussianDelta(sigma * 0.9999, 1, 1)).toBeGreaterThan(1e-5);
    expect(sigma).toBeLessThan(Math.sqrt(2 * Math.log(1.25 / 1e-5)));
    expect(calibrateAnalyticGaussian(1, 1e-5, 2.5)).toBeCloseTo(2.5 * sigma, 8);
  });

  it('δ falls as σ or ε grows', () => {
    expect(analyticGaussianDelta(2, 1, 1)).toBeLessThan(analyticGaussianDelta(1, 1, 1));
    expect(analyticGaussianDelta(1, 1, 2)).toBeLessThan(analyticGaussianDelta(1, 1, 1));
  });

  it('refuses bad parameters, naming them', () => {
    expect(() => calibrateAnalyticGaussian(0, 1e-5)).toThrow(/epsilon must be > 0, got 0/);
    expect(() => calibrateAnalyticGaussian(1, 0)).toThrow(/delta must be in \(0, 1\), got 0/);
    expect(() => analyticGaussianDelta(0, 1, 1)).toThrow(/sigma must be > 0/);
  });
});
