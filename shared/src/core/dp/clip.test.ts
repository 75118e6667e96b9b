import { describe, expect, it } from 'vitest';
import { createLayout } from '../tensor/layout.js';
import { clipL2InPlace, clipPerLayerInPlace, perLayerSensitivity } from './clip.js';

const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('clipping', () => {
  it('scales an update above C down to norm C and leaves one below C alone, returning the norm before', () => {
    const big = Float32Array.from([3, 4]);
    expect(clipL2InPlace(big, 1)).toBe(5);
    expect(norm(big)).toBeCloseTo(1, 6);
    expect(Array.from(big)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    const small = Float32Array.from([0.3, 0.4]);
    expect(clipL2InPlace(small, 1)).toBeCloseTo(0.5, 6);
    expect(Array.from(small)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });

  it('clips each tensor to its own norm, so the whole update is within sqrt(Σ C_l²)', () => {
    const layout = createLayout([{ name: 'w', shape: [2] }, { name: 'b', shape: [2] }]);
    const v = Float32Array.from([3, 4, 0.1, 0]);
    expect(clipPerLayerInPlace(v, layout, [1, 2])).toEqual([5, expect.closeTo(0.1, 6)]);
    expect(norm(v.subarray(0, 2))).toBeCloseTo(1, 6);
    expect(v[2]).toBeCloseTo(0.1, 6);
    expect(norm(v)).toBeLessThanOrEqual(perLayerSensitivity([1, 2]) + 1e-6);
    expect(perLayerSensitivity([3, 4])).toBe(5);
  });

  it('refuses bad clip norms, wrong lengths and non-finite updates, naming them', () => {
    const layout = createLayout([{ name: 'w', shape: [2] }]);
    expect(() => clipL2InPlace(Float32Array.from([1]), 0)).toThrow(/clip norm must be a finite number > 0, got 0/);
    expect(() => clipL2InPlace(Float32Array.from([Number.NaN]), 1)).toThrow(/non-finite/);
    expect(() => clipPerLayerInPlace(Float32Array.from([1, 2, 3]), layout, [1])).toThrow(/update has 3 elements, the layout 2/);
    expect(() => clipPerLayerInPlace(Float32Array.from([1, 2]), layout, [1, 2])).toThrow(/one clip norm per tensor: 2 given for 1 tensors/);
    expect(() => clipPerLayerInPlace(Float32Array.from([1, 2]), layout, [-1])).toThrow(/clip norm of tensor "w" must be a finite number > 0, got -1/);
  });
});
