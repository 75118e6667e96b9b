import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../rng/rng.js';
import { createDpFedAvgAccumulator } from './central.js';

const D = 20_000;

describe('central DP-FedAvg accumulator', () => {
  it('without noise: the plain sum of clipped updates over the fixed denominator, not the realized count', () => {
    const acc = createDpFedAvgAccumulator(3, { clipNorm: 1, noiseMultiplier: 0, expectedContributions: 4, rng: createSeededRng(1) });
    acc.add({ id: 'a', clientIds: ['a'], delta: Float32Array.from([0.6, 0.8, 0]), weight: 100 });
    acc.add({ id: 'b', clientIds: ['b'], delta: Float32Array.from([0, 0, 0.5]), weight: 7 });
    const out = acc.finish();
    expect(Array.from(out.delta)).toEqual([Math.fround(0.15), Math.fround(0.2), Math.fround(0.125)]);
    expect(out.count).toBe(2);
    expect(out.verdicts.map((v) => v.scores['weight'])).toEqual([1, 1]);
  });

  it('adds N(0, (zC)²) per coordinate to the sum: the sample standard deviation matches zC / denominator', () => {
    const z = 1.3;
    const c = 0.5;
    const acc = createDpFedAvgAccumulator(D, { clipNorm: c, noiseMultiplier: z, expectedContributions: 10, rng: createSeededRng(7) });
    acc.add({ id: 'a', clientIds: ['a'], delta: new Float32Array(D), weight: 1 });
    const out = acc.finish().delta;
    let mean = 0;
    for (const x of out) mean += x / D;
    let variance = 0;
    for (const x of out) variance += (x - mean) ** 2 / (D - 1);
    // Standard error of a standard deviation over 20,000 samples is about 0.5%.
    expect(Math.abs(Math.sqrt(variance) - (z * c) / 10) / ((z * c) / 10)).toBeLessThan(0.03);
    expect(Math.abs(mean)).toBeLessThan((4 * (z * c)) / 10 / Math.sqrt(D));
  });

  it('refuses an update above the clip norm (the coordinator re-checks what clients claim to have clipped)', () => {
    const acc = createDpFedAvgAccumulator(2, { clipNorm: 1, noiseMultiplier: 1, expectedContributions: 2, rng: createSeededRng(1) });
    expect(() => acc.add({ id: 'x', clientIds: ['x'], delta: Float32Array.from([3, 4]), weight: 1 })).toThrow(/contribution "x": update norm 5 exceeds the clip norm 1; clients must clip before upload/);
    expect(acc.count).toBe(0);
    acc.add({ id: 'y', clientIds: ['y'], delta: Float32Array.from([0.6, 0.8000001]), weight: 1 });
    expect(acc.count).toBe(1);
  });

  it('validates its options, naming them', () => {
    const rng = createSeededRng(1);
    expect(() => createDpFedAvgAccumulator(2, { clipNorm: 0, noiseMultiplier: 1, expectedContributions: 1, rng })).toThrow(/clip norm must be a finite number > 0/);
    expect(() => createDpFedAvgAccumulator(2, { clipNorm: 1, noiseMultiplier: -1, expectedContributions: 1, rng })).toThrow(/noise multiplier must be a finite number >= 0/);
    expect(() => createDpFedAvgAccumulator(2, { clipNorm: 1, noiseMultiplier: 1, expectedContributions: 0, rng })).toThrow(/expected contributions must be a finite number > 0/);
  });
});
