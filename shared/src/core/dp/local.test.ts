import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../rng/rng.js';
import { analyticGaussianDelta, calibrateAnalyticGaussian } from './analytic-gaussian.js';
import { addGaussianNoiseInPlace, analyticGaussianEpsilon, localEpsilon, localNoiseMultiplierFor } from './local.js';
import { epsilonOf } from './rdp.js';

describe('local DP (analytic Gaussian)', () => {
  it('inverts the analytic Gaussian: ε(σ, Δ, δ) meets δ exactly', () => {
    const sigma = calibrateAnalyticGaussian(1, 1e-5);
    expect(sigma).toBeCloseTo(3.7306, 3);
    expect(analyticGaussianEpsilon(sigma, 1, 1e-5)).toBeCloseTo(1, 9);
    const eps = analyticGaussianEpsilon(2, 1, 1e-6);
    expect(analyticGaussianDelta(2, 1, eps)).toBeCloseTo(1e-6, 15);
    expect(analyticGaussianDelta(2, 1, eps * 0.999)).toBeGreaterThan(1e-6);
  });

  it('composes k rounds as one Gaussian of sensitivity sqrt(k): tighter than RDP, never looser than one round', () => {
    const z = 5;
    const one = localEpsilon(z, 1, 1e-5);
    const ten = localEpsilon(z, 10, 1e-5);
    expect(localEpsilon(z, 0, 1e-5)).toBe(0);
    expect(ten).toBeGreaterThan(one);
    expect(ten).toBeLessThan(10 * one);
    // σ = z, Δ = sqrt(10) is the same mechanism as σ = z/sqrt(10), Δ = 1.
    expect(ten).toBeCloseTo(analyticGaussianEpsilon(z / Math.sqrt(10), 1, 1e-5), 9);
    // The RDP accountant (q = 1, 10 steps) gives an upper bound on the same mechanism.
    expect(epsilonOf({ samplingRate: 1, noiseMultiplier: z, steps: 10, delta: 1e-5 }).epsilon).toBeGreaterThan(ten);
  });

  it('calibrates z so a client joining every round spends exactly the budget', () => {
    const z = localNoiseMultiplierFor(8, 1e-5, 20);
    expect(localEpsilon(z, 20, 1e-5)).toBeCloseTo(8, 8);
    expect(localEpsilon(z, 5, 1e-5)).toBeLessThan(8);
    expect(() => localNoiseMultiplierFor(8, 1e-5, 0)).toThrow(/rounds must be >= 1/);
    expect(() => localEpsilon(1, 1.5, 1e-5)).toThrow(/integer/);
    expect(() => analyticGaussianEpsilon(1, 1, 1)).toThrow(/delta/);
  });

  it('adds noise of the requested standard deviation', () => {
    const values = new Float32Array(100_000);
    addGaussianNoiseInPlace(values, 3, createSeededRng(7));
    let sum = 0;
    let squares = 0;
    for (const v of values) {
      sum += v;
      squares += v * v;
    }
    expect(Math.abs(sum / values.length)).toBeLessThan(0.05);
    expect(Math.sqrt(squares / values.length)).toBeCloseTo(3, 1);
    expect(() => addGaussianNoiseInPlace(values, -1, createSeededRng(1))).toThrow(/>= 0/);
  });
});
