import { describe, expect, it } from 'vitest';
import { createSeededRng, shuffleInPlace } from '../../../shared/src/core/rng/rng.js';
import type { SelectionPolicy } from './selection.js';
import { fixedSelectionTarget, selectCohort } from './selection.js';

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `client-${String(i).padStart(3, '0')}`);
const fixed = (cohortSize: number, overSelection = 0): SelectionPolicy => ({ mode: 'fixed', cohortSize, overSelection, samplingRate: 0.1 });
const poisson = (samplingRate: number): SelectionPolicy => ({ mode: 'poisson', cohortSize: 10, overSelection: 0, samplingRate });
const isSorted = (xs: string[]): boolean => xs.every((x, i) => i === 0 || xs[i - 1]! < x);

describe('fixedSelectionTarget', () => {
  it('asks cohortSize·(1 + overSelection) clients, rounded up', () => {
    expect(fixedSelectionTarget(fixed(10))).toBe(10);
    expect(fixedSelectionTarget(fixed(10, 0.3))).toBe(13);
    expect(fixedSelectionTarget(fixed(3, 0.1))).toBe(4);
    expect(fixedSelectionTarget(fixed(2, 1))).toBe(4);
  });

  it('does not round a product that is whole up by a float error (100 · 1.1 = 110.00000000000001)', () => {
    expect(100 * (1 + 0.1)).toBeGreaterThan(110);
    expect(fixedSelectionTarget(fixed(100, 0.1))).toBe(110);
    expect(fixedSelectionTarget(fixed(50, 0.14))).toBe(57);
  });
});

describe('selectCohort, fixed mode', () => {
  it('selects the over-selection target of distinct eligible clients, sorted', () => {
    const pool = ids(50);
    const cohort = selectCohort(pool, fixed(10, 0.3), createSeededRng(1));
    expect(cohort).toHaveLength(13);
    expect(new Set(cohort).size).toBe(13);
    expect(cohort.every((id) => pool.includes(id))).toBe(true);
    expect(isSorted(cohort)).toBe(true);
  });

  it('takes every eligible client when there are fewer than the target, and none from an empty pool', () => {
    expect(selectCohort(['b', 'a', 'c'], fixed(10, 0.5), createSeededRng(1))).toEqual(['a', 'b', 'c']);
    expect(selectCohort([], fixed(10), createSeededRng(1))).toEqual([]);
  });

  it('is a function of the seed and the set of ids, not of their order', () => {
    const pool = ids(40);
    for (let seed = 1; seed <= 50; seed++) {
      const shuffled = [...pool];
      shuffleInPlace(createSeededRng(seed + 1000), shuffled);
      expect(selectCohort(shuffled, fixed(7, 0.2), createSeededRng(seed))).toEqual(selectCohort(pool, fixed(7, 0.2), createSeededRng(seed)));
    }
  });

  it('does not modify the caller’s array', () => {
    const pool = ['d', 'c', 'b', 'a'];
    selectCohort(pool, fixed(2), createSeededRng(3));
    expect(pool).toEqual(['d', 'c', 'b', 'a']);
  });

  it('selects every client and every pair of clients equally often over many seeds', () => {
    const n = 8;
    const k = 3;
    const seeds = 4000;
    const pool = ids(n);
    const counts = new Map<string, number>();
    const pairs = new Map<string, number>();
    for (let seed = 1; seed <= seeds; seed++) {
      const cohort = selectCohort(pool, fixed(k), createSeededRng(seed));
      for (const id of cohort) counts.set(id, (counts.get(id) ?? 0) + 1);
      for (let i = 0; i < cohort.length; i++) for (let j = i + 1; j < cohort.length; j++) pairs.set(`${cohort[i]}|${cohort[j]}`, (pairs.get(`${cohort[i]}|${cohort[j]}`) ?? 0) + 1);
    }
    // Each client: Binomial(4000, 3/8), sd ≈ 30.6; allow 5 sd.
    const expected = (seeds * k) / n;
    for (const id of pool) expect(Math.abs((counts.get(id) ?? 0) - expected), id).toBeLessThan(5 * Math.sqrt(seeds * (k / n) * (1 - k / n)));
    // Each pair: probability k(k−1)/(n(n−1)) = 6/56.
    const pPair = (k * (k - 1)) / (n * (n - 1));
    expect(pairs.size).toBe((n * (n - 1)) / 2);
    for (const [pair, count] of pairs) expect(Math.abs(count - seeds * pPair), pair).toBeLessThan(5 * Math.sqrt(seeds * pPair * (1 - pPair)));
  });
});

describe('selectCohort, poisson mode', () => {
  it('includes each client independently with probability q (mean q·n over many seeds, every client equally)', () => {
    const n = 50;
    const q = 0.2;
    const seeds = 2000;
    const pool = ids(n);
    const counts = new Map<string, number>();
    let total = 0;
    const sizes = new Set<number>();
    for (let seed = 1; seed <= seeds; seed++) {
      const cohort = selectCohort(pool, poisson(q), createSeededRng(seed));
      expect(isSorted(cohort)).toBe(true);
      total += cohort.length;
      sizes.add(cohort.length);
      for (const id of cohort) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // Mean cohort size q·n = 10, sd of the mean ≈ sqrt(n q (1−q) / seeds) ≈ 0.063.
    expect(Math.abs(total / seeds - q * n)).toBeLessThan(0.35);
    // Cohort sizes vary (that is what Poisson sampling means for the accountant), unlike fixed mode.
    expect(sizes.size).toBeGreaterThan(5);
    for (const id of pool) expect(Math.abs((counts.get(id) ?? 0) - seeds * q), id).toBeLessThan(5 * Math.sqrt(seeds * q * (1 - q)));
  });

  it('ignores cohortSize and over-selection, selects everyone at rate 1, and is order-independent', () => {
    const pool = ids(30);
    expect(selectCohort([...pool].reverse(), poisson(1), createSeededRng(9))).toEqual(pool);
    const shuffled = [...pool];
    shuffleInPlace(createSeededRng(77), shuffled);
    expect(selectCohort(shuffled, poisson(0.3), createSeededRng(4))).toEqual(selectCohort(pool, poisson(0.3), createSeededRng(4)));
  });
});
