import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import { createSeededRng, normal } from '../rng/index.js';
import {
  addInto,
  axpyInto,
  difference,
  dot,
  firstNonFinite,
  l2Norm,
  maxAbs,
  scaleInto,
  subInto,
  validateUpdateVector,
} from './ops.js';
import { thrown } from '../../../../test/helpers/errors.js';

const f32 = (...xs: number[]): Float32Array => new Float32Array(xs);

describe('in-place element-wise ops', () => {
  it('adds, subtracts, scales and axpys into the target and returns it', () => {
    const t = f32(1, 2, 3);
    expect(addInto(t, f32(10, 20, 30))).toBe(t);
    expect([...t]).toEqual([11, 22, 33]);
    subInto(t, f32(1, 2, 3));
    expect([...t]).toEqual([10, 20, 30]);
    axpyInto(t, 0.5, f32(2, 4, 6));
    expect([...t]).toEqual([11, 22, 33]);
    scaleInto(t, -2);
    expect([...t]).toEqual([-22, -44, -66]);
  });

  it('accumulates float32 terms into a float64 target without rounding each term to float32', () => {
    const acc = new Float64Array(1);
    const tiny = f32(1e-8);
    acc[0] = 1;
    for (let i = 0; i < 1000; i++) addInto(acc, tiny);
    expect(acc[0]).toBeCloseTo(1 + 1000 * Math.fround(1e-8), 15);
  });

  it('throws RangeError naming both lengths on mismatched operands', () => {
    for (const op of [
      () => addInto(f32(1, 2), f32(1)),
      () => subInto(f32(1, 2), f32(1)),
      () => axpyInto(f32(1, 2), 2, f32(1)),
      () => difference(f32(1, 2), f32(1)),
      () => dot(f32(1, 2), f32(1)),
    ]) {
      const error = thrown(op);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(/2 elements.*has 1/);
    }
  });
});

describe('difference', () => {
  it('returns a new vector a − b and leaves both inputs alone', () => {
    const a = f32(5, 7);
    const b = f32(1, 10);
    const d = difference(a, b);
    expect([...d]).toEqual([4, -3]);
    expect([...a]).toEqual([5, 7]);
    expect(d).not.toBe(a);
  });
});

describe('reductions', () => {
  it('computes dot and L2 norm in float64', () => {
    expect(dot(f32(1, 2, 3), f32(4, -5, 6))).toBe(12);
    expect(l2Norm(f32(3, 4))).toBe(5);
    expect(l2Norm(new Float32Array(0))).toBe(0);
  });

  it('keeps the L2 norm accurate over 10^6 small elements where float32 accumulation drifts', () => {
    const v = new Float32Array(1_000_000).fill(1e-3);
    const exact = Math.sqrt(1_000_000 * Math.fround(1e-3) ** 2);
    // A float32 running sum is off by ~5e-3 here; float64 stays within ~1e-11.
    expect(Math.abs(l2Norm(v) - exact) / exact).toBeLessThan(1e-9);
  });

  it('agrees with a naive float64 reference over random vectors', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = createSeededRng(seed);
      const a = Float32Array.from({ length: 257 }, () => normal(rng));
      const b = Float32Array.from({ length: 257 }, () => normal(rng));
      let ref = 0;
      for (let i = 0; i < a.length; i++) ref += a[i]! * b[i]!;
      expect(dot(a, b)).toBe(ref);
      expect(l2Norm(a)).toBeCloseTo(Math.sqrt(dot(a, a)), 12);
    }
  });
});

describe('finiteness and range', () => {
  it('finds the first non-finite element or returns −1', () => {
    expect(firstNonFinite(f32(1, 2, 3))).toBe(-1);
    expect(firstNonFinite(f32(1, Number.NaN, Infinity))).toBe(1);
    expect(firstNonFinite(f32(1, 2, -Infinity))).toBe(2);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });

  it('gives the largest magnitude, and NaN when any element is NaN', () => {
    expect(maxAbs(f32(1, -7, 3))).toBe(7);
    expect(maxAbs(new Float32Array(0))).toBe(0);
    expect(maxAbs(f32(1, Number.NaN, 3))).toBeNaN();
    expect(maxAbs(f32(Number.NaN, 100))).toBeNaN();
  });
});

describe('validateUpdateVector', () => {
  it('accepts a finite vector of the expected length and returns it', () => {
    const v = f32(1, -2, 3);
    expect(validateUpdateVector(v, 3)).toBe(v);
    expect(validateUpdateVector(v, 3, { maxAbs: 3 })).toBe(v);
  });

  it('rejects a wrong length with UPDATE_WRONG_LENGTH saying expected and actual', () => {
    const error = thrown(() => validateUpdateVector(f32(1, 2), 5));
    expect(isCohortError(error, 'UPDATE_WRONG_LENGTH')).toBe(true);
    expect((error as Error).message).toBe('update has 2 elements, expected 5');
  });

  it('rejects NaN/Infinity with UPDATE_NOT_FINITE naming the first bad index and value', () => {
    const error = thrown(() => validateUpdateVector(f32(0, 1, Infinity, Number.NaN), 4));
    expect(isCohortError(error, 'UPDATE_NOT_FINITE')).toBe(true);
    expect((error as Error).message).toBe('update element 2 is Infinity, expected a finite number');
    const nan = thrown(() => validateUpdateVector(f32(Number.NaN), 1));
    expect((nan as Error).message).toContain('element 0 is NaN');
  });

  it('rejects values beyond maxAbs naming index, value and bound', () => {
    const error = thrown(() => validateUpdateVector(f32(0.5, -4), 2, { maxAbs: 2 }));
    expect(isCohortError(error, 'INVALID_ARGUMENT')).toBe(true);
    expect((error as Error).message).toBe('update element 1 is -4, outside the allowed range ±2');
  });
});
