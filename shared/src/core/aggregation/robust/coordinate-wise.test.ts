import { describe, expect, it } from 'vitest';
import { expectCohortError } from '../../../../../test/helpers/errors.js';
import { expectClose, runRule as aggregate } from '../../../../../test/helpers/aggregation.js';
import type { Rng } from '../../rng/index.js';
import { createSeededRng, normal, shuffleInPlace, uniformInt } from '../../rng/index.js';
import type { RuleParams } from '../rules.js';
import type { Contribution } from '../types.js';
import { centeredClipRule, createColumnSorter, medianOf, medianRule, normBoundRule, trimmedMeanRule, weightedQuantile } from './coordinate-wise.js';

const f32 = (...xs: number[]): Float32Array => new Float32Array(xs);

function contribution(id: string, delta: Float32Array, weight = 1): Contribution {
  return { id, clientIds: [id], delta, weight };
}




/**
 * The reference set, n = 7, f = 2, equal weights: five honest vectors and two attackers (r5, r6).
 * Per coordinate, sorted:
 *   x: −40, −2, −2, 0.5, 1, 1.5, 100
 *   y: −100, −1, 0, 0.5, 1, 1, 60
 *   z: −80, −2, −0.5, 0, 0, 0.5, 50
 */
const REFERENCE = [
  [-2, 1, 0],
  [-2, -1, 0],
  [1, 0, 0.5],
  [1.5, 1, -0.5],
  [0.5, 0.5, -2],
  [100, -100, 50],
  [-40, 60, -80],
].map((v, i) => contribution(`r${i}`, Float32Array.from(v)));

/** `count` honest vectors around `center` (noise ±scale) and `attackers` vectors at 1e6 in every coordinate. */
function attackedRound(rng: Rng, d: number, count: number, attackers: number, scale = 1): { honest: Contribution[]; all: Contribution[] } {
  const honest = Array.from({ length: count }, (_, i) => contribution(`h${i}`, Float32Array.from({ length: d }, (_, j) => Math.sin(j) + scale * normal(rng)), 1 + uniformInt(rng, 50)));
  const bad = Array.from({ length: attackers }, (_, i) => contribution(`x${i}`, new Float32Array(d).fill(1e6), 1 + uniformInt(rng, 50)));
  return { honest, all: [...honest, ...bad] };
}

function honestRange(honest: readonly Contribution[], j: number): [number, number] {
  const column = honest.map((c) => c.delta[j]!);
  return [Math.min(...column), Math.max(...column)];
}

function weightedMeanOf(items: readonly Contribution[]): number[] {
  const d = items[0]!.delta.length;
  const total = items.reduce((s, c) => s + c.weight, 0);
  return Array.from({ length: d }, (_, j) => items.reduce((s, c) => s + c.weight * c.delta[j]!, 0) / total);
}

function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s);
}

/** Naive per-coordinate reference: (value, id) pairs sorted with a comparator, weights carried along. */
function naiveColumn(items: readonly Contribution[], j: number): { value: number; weight: number; id: string }[] {
  return items
    .map((c) => ({ value: c.delta[j]!, weight: c.weight, id: c.id }))
    .sort((a, b) => a.value - b.value || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function naiveWeightedMedian(items: readonly Contribution[], j: number): number {
  const column = naiveColumn(items, j);
  const total = column.reduce((s, e) => s + e.weight, 0);
  let below = 0;
  for (let k = 0; k < column.length; k++) {
    below += column[k]!.weight;
    if (2 * below === total) return (column[k]!.value + column[k + 1]!.value) / 2;
    if (2 * below > total) return column[k]!.value;
  }
  throw new Error('unreachable');
}

function naiveTrimmedMean(items: readonly Contribution[], j: number, trim: number): number {
  const kept = naiveColumn(items, j).slice(trim, items.length - trim);
  return kept.reduce((s, e) => s + e.weight * e.value, 0) / kept.reduce((s, e) => s + e.weight, 0);
}

/** Values drawn from a small set (with ±0 and repeats), so that ties are common. */
function tiedItems(rng: Rng, n: number, d: number, equalWeights: boolean): Contribution[] {
  const pool = [-3, -1.5, -0, 0, 0.25, 0.25, 2, 7];
  return Array.from({ length: n }, (_, i) =>
    contribution(`id-${String.fromCharCode(97 + uniformInt(rng, 26))}${i}`, Float32Array.from({ length: d }, () => pool[uniformInt(rng, pool.length)]!), equalWeights ? 4 : 1 + uniformInt(rng, 9)),
  );
}

describe('column sorter', () => {
  it('sorts exact float32 values (±0, subnormal, extremes) and orders ties by index', () => {
    const column = [0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 0.1, -0.1, 0.1, -0.1, -0, 2];
    const deltas = column.map((x) => f32(x));
    const sorter = createColumnSorter(deltas, column.map((_, i) => i + 1));
    sorter.load(0);
    const widened = column.map((x) => Math.fround(x) + 0);
    const expectedOrder = widened.map((x, i) => ({ x, i })).sort((a, b) => a.x - b.x || a.i - b.i);
    expect([...sorter.values]).toEqual(expectedOrder.map((e) => e.x));
    expect([...sorter.owners]).toEqual(expectedOrder.map((e) => e.i));
    expect([...sorter.weights]).toEqual(expectedOrder.map((e) => e.i + 1));
    expect(sorter.totalWeight).toBe(78);
  });

  it('is reusable across coordinates and passes equal weights as 1s', () => {
    const sorter = createColumnSorter([f32(5, -1), f32(-5, -1), f32(0, -1)], [7, 7, 7]);
    sorter.load(0);
    expect([...sorter.values]).toEqual([-5, 0, 5]);
    expect([...sorter.owners]).toEqual([1, 2, 0]);
    sorter.load(1);
    expect([...sorter.values]).toEqual([-1, -1, -1]);
    expect([...sorter.owners]).toEqual([0, 1, 2]);
    expect([...sorter.weights]).toEqual([1, 1, 1]);
    expect(sorter.totalWeight).toBe(3);
  });

  it('weightedQuantile averages at an exact half and reduces to the ordinary median for equal weights', () => {
    const ones = (n: number): Float64Array => new Float64Array(n).fill(1);
    expect(weightedQuantile(Float64Array.of(1, 2, 3, 4), ones(4), 4, 0.5)).toBe(2.5);
    expect(weightedQuantile(Float64Array.of(1, 2, 3), ones(3), 3, 0.5)).toBe(2);
    expect(weightedQuantile(Float64Array.of(5), ones(1), 1, 0.5)).toBe(5);
    // Weights 1, 1, 1, 5 (total 8): cumulative 1, 2, 3, 8 first reaches 4 at the last value.
    expect(weightedQuantile(Float64Array.of(1, 2, 3, 10), Float64Array.of(1, 1, 1, 5), 8, 0.5)).toBe(10);
    // Weights 2, 1, 3 (total 6): cumulative 3 is exactly half after the second value: (1 + 5) / 2.
    expect(weightedQuantile(Float64Array.of(0, 1, 5), Float64Array.of(2, 1, 3), 6, 0.5)).toBe(3);
    // Quartiles of 7 equal weights: p·W = 1.75 and 5.25 are first reached at the 2nd and 6th values.
    const seven = Float64Array.of(-40, -2, -2, 0.5, 1, 1.5, 100);
    expect(weightedQuantile(seven, ones(7), 7, 0.25)).toBe(-2);
    expect(weightedQuantile(seven, ones(7), 7, 0.75)).toBe(1.5);
    expect(medianOf([3, 1, 2, 10])).toBe(2.5);
    expect(medianOf([3, 1, 2])).toBe(2);
  });
});

describe('median rule', () => {
  it('returns the common vector exactly when all contributions are identical', () => {
    const v = f32(0.1, -3.25, 1e-7, 0);
    const result = aggregate(medianRule, {}, [contribution('a', v, 3), contribution('b', v.slice(), 5), contribution('c', v.slice(), 7)]);
    expect(result.delta).toEqual(v);
    expect(result.verdicts.map((x) => x.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(result.verdicts[0]!.scores).toMatchObject({ outsideCount: 0, outsideFraction: 0, weight: 3, share: 0.2 });
  });

  it('stays within the honest range with 3 of 10 contributions at 1e6, and down-weights the attackers', () => {
    const { honest, all } = attackedRound(createSeededRng('median-attack'), 40, 7, 3);
    const result = aggregate(medianRule, {}, all);
    for (let j = 0; j < 40; j++) {
      const [low, high] = honestRange(honest, j);
      expect(result.delta[j]).toBeGreaterThanOrEqual(low);
      expect(result.delta[j]).toBeLessThanOrEqual(high);
    }
    for (const v of result.verdicts.slice(7)) {
      expect(v.verdict).toBe('down-weighted');
      expect(v.reason).toBe('median: 40 of 40 coordinates outside the quartiles ± 1.5·IQR; down-weighted');
      expect(v.scores['outsideFraction']).toBe(1);
      expect(v.scores['share']).toBe(0);
    }
    for (const v of result.verdicts.slice(0, 7)) expect(v.verdict).toBe('accepted');
  });

  it('gives the reference set answer [0.5, 0.5, 0]', () => {
    // 4th of 7 sorted values per coordinate: x 0.5, y 0.5, z 0.
    const result = aggregate(medianRule, {}, REFERENCE);
    expectClose(result.delta, [0.5, 0.5, 0]);
    // Fences, quartiles = 2nd and 6th sorted values: x −2 .. 1.5 → [−7.25, 6.75]; y −1 .. 1 → [−4, 4];
    // z −2 .. 0.5 → [−5.75, 4.25]. Only the attackers r5, r6 fall outside, in all 3 coordinates.
    expect(result.verdicts.map((v) => v.scores['outsideCount'])).toEqual([0, 0, 0, 0, 0, 3, 3]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'down-weighted', 'down-weighted']);
    expect(result.verdicts[5]!.reason).toBe('median: 3 of 3 coordinates outside the quartiles ± 1.5·IQR; down-weighted');
    expect(result.totalWeight).toBe(7);
  });

  it('computes hand-made weighted and even-count medians', () => {
    // Even count, equal weights: the mean of the two middle values.
    expect([...aggregate(medianRule, {}, [contribution('a', f32(1, 4)), contribution('b', f32(2, 3)), contribution('c', f32(3, 2)), contribution('d', f32(10, 1))]).delta]).toEqual([2.5, 2.5]);
    // Weights 1, 1, 1, 5: the heavy contribution holds more than half the weight.
    expect([...aggregate(medianRule, {}, [contribution('a', f32(1), 1), contribution('b', f32(2), 1), contribution('c', f32(3), 1), contribution('d', f32(10), 5)]).delta]).toEqual([10]);
    // Weights 2, 1, 3: exactly half the weight at or below 1, so (1 + 5) / 2.
    expect([...aggregate(medianRule, {}, [contribution('c', f32(5), 3), contribution('a', f32(0), 2), contribution('b', f32(1), 1)]).delta]).toEqual([3]);
  });

  it('marks a contribution outside the fences in most coordinates, with its effective weight', () => {
    // d = 2. Coordinate 0: 0, 1, 2, 3, 100 → quartiles 1 and 3, fences [−2, 6]: e is outside.
    // Coordinate 1: e is inside (2.5). So e is outside in 1 of 2: not "most inside" → down-weighted.
    const items = [contribution('a', f32(0, 1)), contribution('b', f32(1, 2)), contribution('c', f32(2, 3)), contribution('d', f32(3, 4)), contribution('e', f32(100, 2.5))];
    const result = aggregate(medianRule, {}, items);
    expect([...result.delta]).toEqual([2, 2.5]);
    const e = result.verdicts[4]!;
    expect(e.verdict).toBe('down-weighted');
    expect(e.reason).toBe('median: 1 of 2 coordinates outside the quartiles ± 1.5·IQR; down-weighted');
    expect(e.scores['outsideFraction']).toBe(0.5);
    // Effective weights 1, 1, 1, 1, 0.5: share 0.5 / 4.5.
    expect(e.scores['share']).toBeCloseTo(0.5 / 4.5, 12);
  });

  it('equals a naive comparator-sorted weighted median and does not depend on arrival order (seeds 1..40, many ties)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rng = createSeededRng(seed);
      const items = tiedItems(rng, 1 + uniformInt(rng, 12), 6, seed % 4 === 0);
      // + 0: the rule reads −0 as +0 (a zero median comes out as +0).
      const expected = Array.from({ length: 6 }, (_, j) => Math.fround(naiveWeightedMedian(items, j)) + 0);
      for (let run = 0; run < 3; run++) {
        const order = [...items];
        shuffleInPlace(rng, order);
        expect([...aggregate(medianRule, {}, order).delta]).toEqual(expected);
      }
    }
  });

  it('validates its parameters', () => {
    expect(medianRule.resolveParams({})).toEqual({});
    expect(medianRule.resolveParams({ maxAbs: 5 })).toEqual({ maxAbs: 5 });
    expectCohortError(() => medianRule.resolveParams({ beta: 0.1 }), 'CONFIG_INVALID', 'ruleParams.beta: not a parameter of median (its parameters: maxAbs)');
    expectCohortError(() => medianRule.resolveParams({ maxAbs: 0 }), 'CONFIG_INVALID', 'ruleParams.maxAbs: must be a finite number > 0, got 0');
    const acc = medianRule.createAccumulator({ dimension: 2, params: { maxAbs: 10 }, rng: undefined });
    expectCohortError(() => acc.add(contribution('big', f32(1, 11))), 'INVALID_ARGUMENT', /element 1 is 11, outside the allowed range ±10/);
    expectCohortError(() => medianRule.createAccumulator({ dimension: 1, params: {}, rng: undefined }).finish(), 'FAILED_PRECONDITION', 'median: no contributions to aggregate');
  });
});

describe('trimmed-mean rule', () => {
  it('returns the common vector exactly when all contributions are identical, and trims nobody', () => {
    const v = f32(0.1, -3.25, 1e-7, 0);
    const items = Array.from({ length: 6 }, (_, i) => contribution(`c${i}`, v.slice(), 1 + i));
    const result = aggregate(trimmedMeanRule, { trim: 2 }, items);
    expect(result.delta).toEqual(v);
    expect(result.verdicts.every((x) => x.verdict === 'accepted' && x.scores['trimmedCount'] === 0)).toBe(true);
  });

  it('stays within the honest range with 3 of 10 contributions at 1e6 (beta 0.3), and rejects the attackers', () => {
    const { honest, all } = attackedRound(createSeededRng('trimmed-attack'), 40, 7, 3);
    const result = aggregate(trimmedMeanRule, { beta: 0.3 }, all);
    for (let j = 0; j < 40; j++) {
      const [low, high] = honestRange(honest, j);
      expect(result.delta[j]).toBeGreaterThanOrEqual(low);
      expect(result.delta[j]).toBeLessThanOrEqual(high);
    }
    for (const v of result.verdicts.slice(7)) {
      expect(v.verdict).toBe('rejected');
      expect(v.reason).toBe('trimmed-mean: trimmed in 40 of 40 coordinates (trim 3 per side of 10); rejected');
      expect(v.scores).toMatchObject({ trimmedFraction: 1, share: 0, trim: 3 });
    }
    expect(result.totalWeight).toBe(honest.reduce((s, c) => s + c.weight, 0));
  });

  it('gives the reference set answer [−1/6, 0.5, −1/6] with trim = 2 and with beta = 0.3', () => {
    // Drop the 2 smallest and 2 largest per coordinate, average the middle 3:
    //   x: (−2 + 0.5 + 1) / 3 = −1/6;  y: (0 + 0.5 + 1) / 3 = 0.5;  z: (−0.5 + 0 + 0) / 3 = −1/6.
    // beta = 0.3: trim = ⌊0.3·7⌋ = ⌊2.1⌋ = 2.
    for (const params of [{ trim: 2 }, { beta: 0.3 }] as RuleParams[]) {
      const result = aggregate(trimmedMeanRule, params, REFERENCE);
      expectClose(result.delta, [-1 / 6, 0.5, -1 / 6]);
      // Strictly outside the kept range [lowest kept, highest kept] per coordinate:
      //   x kept −2..1: r5 (100), r6 (−40), r3 (1.5); the other −2 ties the kept −2 and does not count.
      //   y kept 0..1: r5 (−100), r6 (60), r1 (−1); the other 1 ties.   z kept −0.5..0: r5, r6, r4 (−2), r2 (0.5).
      expect(result.verdicts.map((v) => v.scores['trimmedCount'])).toEqual([0, 1, 1, 1, 1, 3, 3]);
      expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'rejected', 'rejected']);
    }
  });

  it('computes a hand-made weighted trimmed mean (trim counts contributions, the mean uses weights)', () => {
    // Sorted 0, 1, 2, 3, 100 with weights 1, 2, 3, 4, 5; trim 1 keeps 1, 2, 3: (2·1 + 3·2 + 4·3) / (2 + 3 + 4) = 20/9.
    const items = [contribution('e', f32(100), 5), contribution('a', f32(0), 1), contribution('c', f32(2), 3), contribution('b', f32(1), 2), contribution('d', f32(3), 4)];
    const result = aggregate(trimmedMeanRule, { trim: 1 }, items);
    expect(result.delta[0]).toBe(Math.fround(20 / 9));
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['rejected', 'rejected', 'accepted', 'accepted', 'accepted']);
    // trim 0 is the weighted mean: (500 + 0 + 6 + 2 + 12) / 15.
    expect(aggregate(trimmedMeanRule, { trim: 0 }, items).delta[0]).toBe(Math.fround(520 / 15));
  });

  it('derives trim = ⌊beta·n⌋, default beta 0.1, robust to float rounding of beta·n', () => {
    const items = (n: number): Contribution[] => Array.from({ length: n }, (_, i) => contribution(`c${i}`, f32(i)));
    const trimOf = (params: RuleParams, n: number): number => aggregate(trimmedMeanRule, params, items(n)).verdicts[0]!.scores['trim']!;
    expect(trimOf({}, 9)).toBe(0);
    expect(trimOf({}, 10)).toBe(1);
    expect(trimOf({ beta: 0.25 }, 10)).toBe(2);
    expect(0.35 * 180).toBeLessThan(63); // 62.99999999999999 in float64
    expect(trimOf({ beta: 0.35 }, 180)).toBe(63);
  });

  it('equals a naive comparator-sorted weighted trimmed mean and does not depend on arrival order (seeds 1..40, many ties)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rng = createSeededRng(`trim-${seed}`);
      const n = 1 + uniformInt(rng, 12);
      const trim = uniformInt(rng, Math.ceil(n / 2));
      const items = tiedItems(rng, n, 6, seed % 4 === 0);
      const expected = Array.from({ length: 6 }, (_, j) => naiveTrimmedMean(items, j, trim));
      for (let run = 0; run < 3; run++) {
        const order = [...items];
        shuffleInPlace(rng, order);
        expectClose(aggregate(trimmedMeanRule, { trim }, order).delta, expected, 1e-6);
      }
    }
  });

  it('validates its parameters and needs n > 2·trim', () => {
    expect(trimmedMeanRule.resolveParams({})).toEqual({ beta: 0.1 });
    expect(trimmedMeanRule.resolveParams({ trim: 3 })).toEqual({ trim: 3 });
    expect(trimmedMeanRule.resolveParams({ beta: 0, maxAbs: 2 })).toEqual({ beta: 0, maxAbs: 2 });
    expectCohortError(
      () => trimmedMeanRule.resolveParams({ beta: 0.2, trim: 1 }),
      'CONFIG_INVALID',
      'ruleParams.beta: give either ruleParams.beta (fraction trimmed per side) or ruleParams.trim (count per side), not both (got beta = 0.2, trim = 1)',
    );
    expectCohortError(() => trimmedMeanRule.resolveParams({ beta: 0.5 }), 'CONFIG_INVALID', 'ruleParams.beta: must be a number in [0, 0.5) (fraction trimmed per side), got 0.5');
    expectCohortError(() => trimmedMeanRule.resolveParams({ beta: -0.1 }), 'CONFIG_INVALID', /ruleParams\.beta: must be a number in \[0, 0\.5\)/);
    expectCohortError(() => trimmedMeanRule.resolveParams({ trim: 1.5 }), 'CONFIG_INVALID', 'ruleParams.trim: must be an integer >= 0 (contributions trimmed per side), got 1.5');
    expectCohortError(() => trimmedMeanRule.resolveParams({ f: 1 }), 'CONFIG_INVALID', 'ruleParams.f: not a parameter of trimmed-mean (its parameters: beta, trim, maxAbs)');
    const four = Array.from({ length: 4 }, (_, i) => contribution(`c${i}`, f32(i)));
    expectCohortError(() => aggregate(trimmedMeanRule, { trim: 2 }, four), 'FAILED_PRECONDITION', 'trimmed-mean needs n > 2·trim contributions: n = 4, trim = 2');
    expect(aggregate(trimmedMeanRule, { trim: 1 }, four).delta[0]).toBe(1.5);
  });
});

describe('norm-bound rule', () => {
  it('returns the common vector exactly when all contributions are identical', () => {
    const v = f32(0.1, -3.25, 1e-7, 0);
    const result = aggregate(normBoundRule, {}, [contribution('a', v, 3), contribution('b', v.slice(), 5), contribution('c', v.slice(), 7)]);
    expect(result.delta).toEqual(v);
    expect(result.verdicts.every((x) => x.verdict === 'accepted' && x.scores['clipFactor'] === 1)).toBe(true);
  });

  it('bounds 3 of 10 contributions at 1e6 to the median norm and down-weights them', () => {
    const { honest, all } = attackedRound(createSeededRng('norm-attack'), 40, 7, 3);
    const result = aggregate(normBoundRule, {}, all);
    const honestNorms = honest.map((c) => distance(c.delta, new Float32Array(40)));
    const bound = medianOf(all.map((c) => distance(c.delta, new Float32Array(40))));
    expect(bound).toBeLessThanOrEqual(Math.max(...honestNorms));
    // A weighted mean of vectors clipped to norm ≤ M has norm ≤ M.
    expect(distance(result.delta, new Float32Array(40))).toBeLessThanOrEqual(bound * (1 + 1e-6));
    for (const v of result.verdicts.slice(7)) {
      expect(v.verdict).toBe('down-weighted');
      expect(v.scores['clipFactor']).toBeCloseTo(bound / (1e6 * Math.sqrt(40)), 12);
      expect(v.reason).toMatch(/^norm-bound: L2 norm 6325000 above the median norm [\d.]+, scaled by [\d.e-]+$/);
    }
  });

  it('gives the reference set answer', () => {
    // Norms: √5, √5, √1.25, √3.5, √4.5, √22500 = 150, √11600 ≈ 107.70; median (4th of 7 sorted) M = √5.
    // r0, r1 sit exactly at M (not clipped); r5 is scaled by √5/150, r6 by √5/√11600 = √5/(20√29).
    // Honest sum: [−1, 1.5, −2]; r5 clipped: √5·[2/3, −2/3, 1/3]; r6 clipped: √(5/29)·[−2, 3, −4].
    // Mean over 7 ≈ [−0.048534688, 0.179281459, −0.416507658].
    const expected = [0, 1, 2].map((j) => ([-1, 1.5, -2][j]! + Math.sqrt(5) * [2 / 3, -2 / 3, 1 / 3][j]! + Math.sqrt(5 / 29) * [-2, 3, -4][j]!) / 7);
    const result = aggregate(normBoundRule, {}, REFERENCE);
    expectClose(result.delta, expected);
    expectClose(result.delta, [-0.048534688, 0.179281459, -0.416507658]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'down-weighted', 'down-weighted']);
    expect(result.verdicts[5]!.scores['clipFactor']).toBeCloseTo(Math.sqrt(5) / 150, 12);
    expect(result.verdicts[5]!.reason).toBe('norm-bound: L2 norm 150 above the median norm 2.236, scaled by 0.01491');
  });

  it('clips to an explicit maxNorm before the weighted mean', () => {
    // [3, 4] (norm 5, weight 1) → [1.5, 2]; [0, 1] (weight 3) unchanged: (1·[1.5, 2] + 3·[0, 1]) / 4 = [0.375, 1.25].
    const result = aggregate(normBoundRule, { maxNorm: 2.5 }, [contribution('a', f32(3, 4), 1), contribution('b', f32(0, 1), 3)]);
    expect([...result.delta]).toEqual([0.375, 1.25]);
    expect(result.verdicts[0]).toMatchObject({ verdict: 'down-weighted', reason: 'norm-bound: L2 norm 5 above maxNorm 2.5, scaled by 0.5', scores: { clipFactor: 0.5, maxNorm: 2.5 } });
    expect(result.verdicts[1]).toMatchObject({ verdict: 'accepted', reason: 'norm-bound: L2 norm 1 within maxNorm 2.5', scores: { clipFactor: 1 } });
    // Effective weights 1·0.5 and 3: shares 0.5/3.5 and 3/3.5.
    expect(result.verdicts[0]!.scores['share']).toBeCloseTo(1 / 7, 12);
    expect(result.totalWeight).toBe(4);
  });

  it('validates its parameters', () => {
    expect(normBoundRule.resolveParams({})).toEqual({});
    expectCohortError(() => normBoundRule.resolveParams({ maxNorm: 0 }), 'CONFIG_INVALID', 'ruleParams.maxNorm: must be a finite number > 0 (L2 norm, model units), got 0');
    expectCohortError(() => normBoundRule.resolveParams({ maxNorm: Infinity }), 'CONFIG_INVALID', /ruleParams\.maxNorm: must be a finite number > 0/);
    expectCohortError(() => normBoundRule.resolveParams({ tau: 1 }), 'CONFIG_INVALID', 'ruleParams.tau: not a parameter of norm-bound (its parameters: maxNorm, maxAbs)');
  });
});

describe('centered-clip rule', () => {
  it('returns the common vector exactly when all contributions are identical', () => {
    const v = f32(0.1, -3.25, 1e-7, 0);
    for (const params of [{}, { tau: 0.5, iterations: 4 }] as RuleParams[]) {
      const result = aggregate(centeredClipRule, params, [contribution('a', v, 3), contribution('b', v.slice(), 5), contribution('c', v.slice(), 7)]);
      expect(result.delta).toEqual(v);
      expect(result.verdicts.every((x) => x.verdict === 'accepted')).toBe(true);
    }
  });

  it('stays near the honest mean with 3 of 10 contributions at 1e6, and down-weights the attackers', () => {
    const { honest, all } = attackedRound(createSeededRng('cc-attack'), 40, 7, 3);
    const result = aggregate(centeredClipRule, {}, all);
    const tau = result.verdicts[0]!.scores['tau']!;
    const total = all.reduce((s, c) => s + c.weight, 0);
    const attackerWeight = all.slice(7).reduce((s, c) => s + c.weight, 0);
    // Per iteration the attackers move the center by at most their weight share × tau.
    const honestMean = weightedMeanOf(honest);
    expect(distance(result.delta, honestMean)).toBeLessThan(3 * tau * (attackerWeight / total) + 2 * Math.sqrt(40));
    for (let j = 0; j < 40; j++) {
      const [low, high] = honestRange(honest, j);
      expect(result.delta[j]).toBeGreaterThan(low - 3 * tau);
      expect(result.delta[j]).toBeLessThan(high + 3 * tau);
    }
    for (const v of result.verdicts.slice(7)) {
      expect(v.verdict).toBe('down-weighted');
      expect(v.scores['clipFactor']).toBeLessThan(1e-5);
      expect(v.reason).toMatch(/^centered-clip: distance [\d.e+]+ to the center above tau \(median distance\) [\d.]+ in the last of 3 iterations, scaled by [\d.e-]+$/);
    }
  });

  it('gives the reference set answer (default tau, 3 iterations)', () => {
    // v0 = median = [0.5, 0.5, 0]. Distances to v0: √6.5 ≈ 2.5495, √8.5 ≈ 2.9155, √0.75 ≈ 0.8660, √1.5 ≈ 1.2247,
    // 2, ≈ 150.0017, ≈ 107.6127; median: tau = √6.5 ≈ 2.549510.
    // Iteration 1: factors min(1, tau/dist) = 1, 0.874475, 1, 1, 1, 0.016997, 0.023692 → v1 ≈ [0.149352, 0.341397, −0.435071].
    // Iteration 2: dist ≈ 2.2897, 2.5707, 1.3094, 1.5041, 1.6116, 150.2739, 107.2460;
    //   factors 1, 0.991768, 1, 1, 1, 0.016966, 0.023773 → v2 ≈ [0.007998, 0.272815, −0.558502].
    // Iteration 3: dist ≈ 2.2074, 2.4421, 1.4761, 1.6608, 1.5400, 150.3636, 107.1398;
    //   factors 1, 1, 1, 1, 1, 0.016956, 0.023796 → v3 ≈ [−0.034373009, 0.252387967, −0.592878784].
    // (Each step: v ← v + (1/7)·Σ factor_i·(x_i − v); checked against an independent float64 computation.)
    const result = aggregate(centeredClipRule, {}, REFERENCE);
    expectClose(result.delta, [-0.034373009281, 0.252387967485, -0.59287878384]);
    expect(result.verdicts[0]!.scores['tau']).toBeCloseTo(Math.sqrt(6.5), 12);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'down-weighted', 'down-weighted']);
    expect(result.verdicts[5]!.scores['clipFactor']).toBeCloseTo(0.01695564, 7);
    expect(result.verdicts[5]!.scores['distanceToCenter']).toBeCloseTo(150.36355968, 6);
  });

  it('iterates hand-made one-dimensional cases', () => {
    const items = [contribution('a', f32(0)), contribution('b', f32(0)), contribution('c', f32(3))];
    // v0 = 0. tau = 1. One iteration: factors 1, 1, 1/3 → v = (0 + 0 + 3·1/3) / 3 = 1/3.
    expect(aggregate(centeredClipRule, { tau: 1, iterations: 1 }, items).delta[0]).toBe(Math.fround(1 / 3));
    // Second iteration from 1/3: distances 1/3, 1/3, 8/3 → factors 1, 1, 3/8 → step (−1/3 − 1/3 + 1) / 3 = 1/9: v = 4/9.
    const two = aggregate(centeredClipRule, { tau: 1, iterations: 2 }, items);
    expect(two.delta[0]).toBeCloseTo(4 / 9, 7);
    expect(two.verdicts[2]).toMatchObject({ verdict: 'down-weighted', reason: 'centered-clip: distance 2.667 to the center above tau 1 in the last of 2 iterations, scaled by 0.375' });
    expect(two.verdicts[2]!.scores['clipFactor']).toBeCloseTo(0.375, 12);
    expect(two.verdicts[0]!.reason).toBe('centered-clip: distance 0.3333 to the center within tau 1 in the last of 2 iterations');
    // Weights 1, 2, 1: weighted median of 0, 0, 3 is 0 (cumulative 1, 3 passes half of 4 inside the zeros); one
    // iteration: (1·(1/3)·3) / 4 = 0.25.
    const weighted = [contribution('a', f32(0), 1), contribution('b', f32(0), 2), contribution('c', f32(3), 1)];
    expect(aggregate(centeredClipRule, { tau: 1, iterations: 1 }, weighted).delta[0]).toBe(0.25);
    // Weights 1, 1, 2: exactly half the weight at 0, so the median is (0 + 3)/2 = 1.5; every distance is 1.5, all
    // factors 2/3, and the weighted step (−1 − 1 + 2·1) / 4 = 0 leaves v at 1.5.
    const balanced = [contribution('a', f32(0), 1), contribution('b', f32(0), 1), contribution('c', f32(3), 2)];
    expect(aggregate(centeredClipRule, { tau: 1, iterations: 1 }, balanced).delta[0]).toBe(1.5);
  });

  it('validates its parameters', () => {
    expect(centeredClipRule.resolveParams({})).toEqual({ iterations: 3 });
    expect(centeredClipRule.resolveParams({ tau: 2, iterations: 1 })).toEqual({ tau: 2, iterations: 1 });
    expectCohortError(() => centeredClipRule.resolveParams({ tau: 0 }), 'CONFIG_INVALID', 'ruleParams.tau: must be a finite number > 0 (clip radius, L2, model units), got 0');
    expectCohortError(() => centeredClipRule.resolveParams({ iterations: 0 }), 'CONFIG_INVALID', 'ruleParams.iterations: must be an integer >= 1, got 0');
    expectCohortError(() => centeredClipRule.resolveParams({ iterations: 2.5 }), 'CONFIG_INVALID', 'ruleParams.iterations: must be an integer >= 1, got 2.5');
    expectCohortError(() => centeredClipRule.resolveParams({ maxNorm: 1 }), 'CONFIG_INVALID', 'ruleParams.maxNorm: not a parameter of centered-clip (its parameters: tau, iterations, maxAbs)');
  });
});

describe('rule objects', () => {
  it('have lower-case hyphenated names and a summary', () => {
    expect([medianRule, trimmedMeanRule, normBoundRule, centeredClipRule].map((r) => r.name)).toEqual(['median', 'trimmed-mean', 'norm-bound', 'centered-clip']);
    for (const rule of [medianRule, trimmedMeanRule, normBoundRule, centeredClipRule]) expect(rule.summary.length).toBeGreaterThan(20);
  });
});
