import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../rng/rng.js';
import { nextClipNorm, noisedUnclippedFraction, updateNoiseMultiplier, validateAdaptiveClip } from './adaptive-clip.js';

describe('adaptive clipping (Andrew et al. 2021)', () => {
  it('splits the noise so update and count together cost z', () => {
    const z = 1;
    const sigmaB = 5;
    const zUpdate = updateNoiseMultiplier(z, sigmaB);
    expect(zUpdate).toBeGreaterThan(z);
    // 1/z² = 1/z_Δ² + 1/(2σ_b)²
    expect(zUpdate ** -2 + (2 * sigmaB) ** -2).toBeCloseTo(z ** -2, 12);
    // z = 1 with σ_b = m/20 for m = 100 clients: z_Δ = 1/sqrt(0.99).
    expect(updateNoiseMultiplier(1, 5)).toBeCloseTo(1.00504, 4);
    expect(() => updateNoiseMultiplier(2, 1)).toThrow(/countNoise .*must exceed z\/2 = 1/);
  });

  it('moves C geometrically toward the target quantile', () => {
    const options = { targetQuantile: 0.5, learningRate: 0.2 };
    expect(nextClipNorm(1, 0.5, options)).toBe(1);
    expect(nextClipNorm(1, 0.2, options)).toBeCloseTo(Math.exp(0.06), 12);
    expect(nextClipNorm(1, 0.9, options)).toBeLessThan(1);
    expect(() => nextClipNorm(0, 0.5, options)).toThrow(/clip norm/);
  });

  it('tracks the median of fixed norms over rounds', () => {
    const norms = Array.from({ length: 100 }, (_, i) => 0.1 + i * 0.02); // median ≈ 1.09
    const rng = createSeededRng(3);
    let clip = 0.1;
    for (let round = 0; round < 200; round++) {
      const unclipped = norms.filter((n) => n <= clip).length;
      clip = nextClipNorm(clip, noisedUnclippedFraction(unclipped, norms.length, norms.length, 5, rng), { targetQuantile: 0.5, learningRate: 0.2 });
    }
    expect(clip).toBeGreaterThan(0.95);
    expect(clip).toBeLessThan(1.25);
  });

  it('centres the count: adding one client moves the noised sum by at most ½', () => {
    const a = noisedUnclippedFraction(3, 6, 10, 1, createSeededRng(9));
    const withUnclipped = noisedUnclippedFraction(4, 7, 10, 1, createSeededRng(9));
    const withClipped = noisedUnclippedFraction(3, 7, 10, 1, createSeededRng(9));
    expect((withUnclipped - a) * 10).toBeCloseTo(0.5, 12);
    expect((withClipped - a) * 10).toBeCloseTo(-0.5, 12);
    expect(() => noisedUnclippedFraction(8, 7, 10, 1, createSeededRng(1))).toThrow(/\[0, 7\]/);
  });

  it('validates its options naming the field', () => {
    expect(() => validateAdaptiveClip({ targetQuantile: 1, learningRate: 0.2, countNoise: 1 })).toThrow(/dp.adaptiveClipping.targetQuantile/);
    expect(() => validateAdaptiveClip({ targetQuantile: 0.5, learningRate: 0, countNoise: 1 })).toThrow(/learningRate/);
    expect(() => validateAdaptiveClip({ targetQuantile: 0.5, learningRate: 0.2, countNoise: -1 })).toThrow(/countNoise/);
  });
});
