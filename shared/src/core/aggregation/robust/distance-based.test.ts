import { describe, expect, it } from 'vitest';
import { expectCohortError } from '../../../../../test/helpers/errors.js';
import { expectClose, runRule as aggregate } from '../../../../../test/helpers/aggregation.js';
import { createSeededRng, normal } from '../../rng/index.js';
import type { Contribution } from '../types.js';
import { bulyanRule, DISTANCE_BASED_RULES, geometricMedianRule, krumRule, multiKrumRule, pairwiseSquaredDistances } from './distance-based.js';

const c = (id: string, delta: readonly number[], weight = 1): Contribution => ({ id, clientIds: [id], delta: Float32Array.from(delta), weight });




/** The brief's reference set: five honest vectors and two far ones, equal weights. */
const REFERENCE: readonly (readonly number[])[] = [
  [-2, 1, 0],
  [-2, -1, 0],
  [1, 0, 0.5],
  [1.5, 1, -0.5],
  [0.5, 0.5, -2],
  [100, -100, 50],
  [-40, 60, -80],
];
const reference = (weights: readonly number[] = [1, 1, 1, 1, 1, 1, 1]): Contribution[] => REFERENCE.map((v, i) => c(`x${i + 1}`, v, weights[i]));

/** n − f honest vectors around `center` (spread ±1 per coordinate) then f attackers at 1e6 + i in every coordinate. */
function attacked(n: number, f: number, d: number, seed: number): { items: Contribution[]; honest: Float32Array[] } {
  const rng = createSeededRng(seed);
  const honest = Array.from({ length: n - f }, () => Float32Array.from({ length: d }, (_, j) => 0.5 * j + Math.tanh(normal(rng))));
  const items: Contribution[] = honest.map((v, i) => ({ id: `h${i}`, clientIds: [`h${i}`], delta: v, weight: 1 + (i % 3) }));
  for (let a = 0; a < f; a++) items.push(c(`attacker${a}`, Array.from({ length: d }, () => 1e6 + a), 1));
  return { items, honest };
}

function expectWithinHonestRange(delta: Float32Array, honest: readonly Float32Array[]): void {
  for (let j = 0; j < delta.length; j++) {
    const column = honest.map((v) => v[j]!);
    expect(delta[j]!).toBeGreaterThanOrEqual(Math.min(...column));
    expect(delta[j]!).toBeLessThanOrEqual(Math.max(...column));
  }
}

describe('pairwiseSquaredDistances', () => {
  it('equals the naive float64 sum of squared differences, with a zero diagonal (d not a multiple of 4)', () => {
    const rng = createSeededRng(11);
    const vectors = Array.from({ length: 5 }, () => Float32Array.from({ length: 1031 }, () => normal(rng) * 100));
    const matrix = pairwiseSquaredDistances(vectors);
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        let naive = 0;
        for (let k = 0; k < 1031; k++) naive += (vectors[i]![k]! - vectors[j]![k]!) ** 2;
        expect(matrix[i * 5 + j]!).toBeCloseTo(naive, 6);
        expect(matrix[i * 5 + j]).toBe(matrix[j * 5 + i]);
      }
      expect(matrix[i * 5 + i]).toBe(0);
    }
  });

  it('gives exactly 0 between identical vectors and refuses vectors of different lengths', () => {
    const v = Float32Array.from([1e30, -3.25, 7e-20]);
    expect(Array.from(pairwiseSquaredDistances([v, v.slice()]))).toEqual([0, 0, 0, 0]);
    expect(() => pairwiseSquaredDistances([v, new Float32Array(2)])).toThrow(RangeError);
  });
});

describe('parameter validation (every rule)', () => {
  it('requires f for krum, multi-krum and bulyan, naming ruleParams.f', () => {
    for (const rule of [krumRule, multiKrumRule, bulyanRule]) {
      expectCohortError(() => rule.resolveParams({}), 'CONFIG_INVALID', `ruleParams.f: required by ${rule.name}: the number of Byzantine contributions to tolerate, an integer >= 0`);
      for (const f of [-1, 1.5, Number.NaN, Infinity]) {
        expectCohortError(() => rule.resolveParams({ f }), 'CONFIG_INVALID', `ruleParams.f: must be an integer >= 0 (the number of Byzantine contributions to tolerate), got ${f}`);
      }
      expectCohortError(() => rule.resolveParams({ f: 1, maxAbs: 0 }), 'CONFIG_INVALID', 'ruleParams.maxAbs: must be a finite number > 0, got 0');
      expect(rule.resolveParams({ f: 0 })).toEqual({ f: 0 });
      // createAccumulator validates too, so an unresolved spec cannot slip through.
      expectCohortError(() => rule.createAccumulator({ dimension: 2, params: {}, rng: undefined }), 'CONFIG_INVALID', /^ruleParams\.f: required/);
    }
    expectCohortError(() => krumRule.resolveParams({ f: 1, m: 2 }), 'CONFIG_INVALID', 'ruleParams.m: not a parameter of krum (its parameters: f, maxAbs)');
    expectCohortError(() => bulyanRule.resolveParams({ f: 1, m: 2 }), 'CONFIG_INVALID', 'ruleParams.m: not a parameter of bulyan (its parameters: f, maxAbs)');
  });

  it('checks multi-krum m: an integer >= 1, no default until n is known', () => {
    expect(multiKrumRule.resolveParams({ f: 2 })).toEqual({ f: 2 });
    expect(multiKrumRule.resolveParams({ f: 2, m: 3 })).toEqual({ f: 2, m: 3 });
    for (const m of [0, -2, 2.5]) {
      expectCohortError(() => multiKrumRule.resolveParams({ f: 2, m }), 'CONFIG_INVALID', `ruleParams.m: must be an integer >= 1 (contributions to keep; default n − f), got ${m}`);
    }
  });

  it('fills geometric-median defaults and rejects bad tolerance, maxIterations and smoothing', () => {
    expect(geometricMedianRule.resolveParams({})).toEqual({ tolerance: 1e-6, maxIterations: 100, smoothing: 1e-6 });
    expectCohortError(() => geometricMedianRule.resolveParams({ tolerance: 0 }), 'CONFIG_INVALID', 'ruleParams.tolerance: must be a finite number > 0 (relative change of the objective), got 0');
    expectCohortError(() => geometricMedianRule.resolveParams({ maxIterations: 0 }), 'CONFIG_INVALID', 'ruleParams.maxIterations: must be an integer >= 1, got 0');
    expectCohortError(() => geometricMedianRule.resolveParams({ maxIterations: 2.5 }), 'CONFIG_INVALID', /^ruleParams\.maxIterations: must be an integer >= 1, got 2\.5$/);
    expectCohortError(() => geometricMedianRule.resolveParams({ smoothing: -1 }), 'CONFIG_INVALID', 'ruleParams.smoothing: must be a finite number > 0 (distance floor ν, model units), got -1');
    expectCohortError(() => geometricMedianRule.resolveParams({ f: 1 }), 'CONFIG_INVALID', 'ruleParams.f: not a parameter of geometric-median (its parameters: tolerance, maxIterations, smoothing, maxAbs)');
  });

  it('fails finish() with FAILED_PRECONDITION naming the rule, n and f when there are too few contributions', () => {
    const six = reference().slice(0, 6);
    expectCohortError(() => aggregate(krumRule, { f: 2 }, six), 'FAILED_PRECONDITION', 'krum needs n > 2f + 2 contributions: n = 6, f = 2');
    expectCohortError(() => aggregate(multiKrumRule, { f: 2 }, six), 'FAILED_PRECONDITION', 'multi-krum needs n > 2f + 2 contributions: n = 6, f = 2');
    expectCohortError(() => aggregate(multiKrumRule, { f: 2, m: 8 }, reference()), 'FAILED_PRECONDITION', 'multi-krum needs m <= n: m = 8, n = 7');
    expectCohortError(() => aggregate(bulyanRule, { f: 2 }, reference()), 'FAILED_PRECONDITION', 'bulyan needs n >= 4f + 3 contributions: n = 7, f = 2');
    expectCohortError(() => aggregate(bulyanRule, { f: 1 }, six), 'FAILED_PRECONDITION', 'bulyan needs n >= 4f + 3 contributions: n = 6, f = 1');
  });

  it('applies maxAbs at admission', () => {
    for (const [rule, params] of [[krumRule, { f: 0, maxAbs: 10 }], [geometricMedianRule, { maxAbs: 10 }]] as const) {
      const acc = rule.createAccumulator({ dimension: 2, params: rule.resolveParams(params), rng: undefined });
      expect(() => acc.add(c('big', [1, 11]))).toThrow(/outside the allowed range ±10/);
    }
  });

  it('exports lower-case hyphenated names with a summary', () => {
    expect(DISTANCE_BASED_RULES.map((r) => r.name)).toEqual(['krum', 'multi-krum', 'bulyan', 'geometric-median']);
    for (const rule of DISTANCE_BASED_RULES) expect(rule.summary.length).toBeGreaterThan(20);
  });
});

describe('krum', () => {
  it('returns the common vector exactly when every contribution is identical (the earliest is kept)', () => {
    const v = [0.1, -2.5, 3e-7, 1e20];
    const result = aggregate(krumRule, { f: 1 }, [1, 2, 3, 4, 5].map((w, i) => c(`c${i}`, v, w)));
    expect(Array.from(result.delta)).toEqual(Array.from(Float32Array.from(v)));
    expect(result.verdicts.map((x) => x.verdict)).toEqual(['accepted', 'rejected', 'rejected', 'rejected', 'rejected']);
    expect(result.totalWeight).toBe(1);
  });

  it('keeps an honest contribution and rejects f attackers at 1e6, whatever their weight', () => {
    const { items, honest } = attacked(9, 3, 16, 1);
    items[7] = { ...items[7]!, weight: 1000 };
    const result = aggregate(krumRule, { f: 3 }, items);
    expect(honest.some((h) => h.every((x, j) => x === result.delta[j]))).toBe(true);
    for (const v of result.verdicts.slice(6)) {
      expect(v.verdict).toBe('rejected');
      expect(v.scores['krumRank']).toBeGreaterThan(6);
      expect(v.scores['share']).toBe(0);
    }
  });

  it('scores by the n − f − 2 nearest neighbours (hand-made 1-D case)', () => {
    // f = 0, n = 4: k = 2 neighbours. Squared distances from 0: {1, 9, 100}; from 1: {1, 4, 81};
    // from 3: {9, 4, 49}; from 10: {100, 81, 49}. Scores: 1 + 9 = 10, 1 + 4 = 5, 4 + 9 = 13, 49 + 81 = 130.
    const result = aggregate(krumRule, { f: 0 }, [c('a', [0]), c('b', [1]), c('c', [3]), c('d', [10])]);
    expect(Array.from(result.delta)).toEqual([1]);
    expect(result.verdicts.map((v) => v.scores['krumScore'])).toEqual([10, 5, 13, 130]);
    expect(result.verdicts.map((v) => v.scores['krumRank'])).toEqual([2, 1, 3, 4]);
  });

  it('reference set n = 7, f = 2: picks x4 = [1.5, 1, -0.5]', () => {
    // Squared distances (Δx² + Δy² + Δz²):
    //   d12 = 0 + 4 + 0 = 4          d13 = 9 + 1 + 0.25 = 10.25     d14 = 12.25 + 0 + 0.25 = 12.5
    //   d15 = 6.25 + 0.25 + 4 = 10.5 d23 = 9 + 1 + 0.25 = 10.25     d24 = 12.25 + 4 + 0.25 = 16.5
    //   d25 = 6.25 + 2.25 + 4 = 12.5 d34 = 0.25 + 1 + 1 = 2.25      d35 = 0.25 + 0.25 + 6.25 = 6.75
    //   d45 = 1 + 0.25 + 2.25 = 3.5
    //   d16 = 102² + 101² + 50² = 10404 + 10201 + 2500 = 23105     d17 = 38² + 59² + 80² = 1444 + 3481 + 6400 = 11325
    //   d26 = 102² + 99² + 50² = 22705                              d27 = 38² + 61² + 80² = 11565
    //   d36 = 99² + 100² + 49.5² = 22251.25                         d37 = 41² + 60² + 80.5² = 11761.25
    //   d46 = 98.5² + 101² + 50.5² = 22453.5                        d47 = 41.5² + 59² + 79.5² = 11523.5
    //   d56 = 99.5² + 100.5² + 52² = 22704.5                        d57 = 40.5² + 59.5² + 78² = 11264.5
    //   d67 = 140² + 160² + 130² = 62100
    // k = n − f − 2 = 3 nearest:
    //   s1 = 4 + 10.25 + 10.5 = 24.75      s2 = 4 + 10.25 + 12.5 = 26.75     s3 = 2.25 + 6.75 + 10.25 = 19.25
    //   s4 = 2.25 + 3.5 + 12.5 = 18.25     s5 = 3.5 + 6.75 + 10.5 = 20.75
    //   s6 = 22251.25 + 22453.5 + 22704.5 = 67409.25                 s7 = 11264.5 + 11325 + 11523.5 = 34113
    // Lowest: s4 → x4. (With n − f − 1 = 4 neighbours, as some libraries do, x3 would win: 29.5 < 33.25 < 34.75.)
    const result = aggregate(krumRule, { f: 2 }, reference());
    expectClose(result.delta, [1.5, 1, -0.5]);
    expect(result.verdicts.map((v) => v.scores['krumScore'])).toEqual([24.75, 26.75, 19.25, 18.25, 20.75, 67409.25, 34113]);
    expect(result.verdicts.map((v) => v.scores['krumRank'])).toEqual([4, 5, 2, 1, 3, 7, 6]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['rejected', 'rejected', 'rejected', 'accepted', 'rejected', 'rejected', 'rejected']);
    expect(result.verdicts[3]!.reason).toBe('krum: score 18.25 (sum of squared distances to its 3 nearest) ranks 1 of 7; 1 kept');
    expect(result.verdicts[5]!.reason).toBe('krum: score 67409.3 (sum of squared distances to its 3 nearest) ranks 7 of 7; 1 kept');
    expect(result.verdicts[3]!.scores).toMatchObject({ weight: 1, share: 1, distanceToAggregate: 0 });
    expect(result.count).toBe(7);
    expect(result.totalWeight).toBe(1);
  });
});

describe('multi-krum', () => {
  it('returns the common vector exactly when every contribution is identical', () => {
    const v = [0.1, -2.5, 3e-7];
    const result = aggregate(multiKrumRule, { f: 1 }, [1, 2, 3, 4, 5].map((w, i) => c(`c${i}`, v, w)));
    expect(Array.from(result.delta)).toEqual(Array.from(Float32Array.from(v)));
    expect(result.verdicts.filter((x) => x.verdict === 'accepted')).toHaveLength(4); // m = n − f
  });

  it('keeps exactly the n − f honest contributions against f attackers at 1e6 and averages them by weight', () => {
    const { items, honest } = attacked(10, 3, 8, 2);
    const result = aggregate(multiKrumRule, { f: 3 }, items);
    expect(result.verdicts.map((v) => v.verdict)).toEqual([...Array<string>(7).fill('accepted'), 'rejected', 'rejected', 'rejected']);
    const weights = honest.map((_, i) => 1 + (i % 3));
    const total = weights.reduce((a, b) => a + b, 0);
    const mean = Array.from({ length: 8 }, (_, j) => honest.reduce((s, v, i) => s + weights[i]! * v[j]!, 0) / total);
    expectClose(result.delta, mean, 1e-6);
    expectWithinHonestRange(result.delta, honest);
  });

  it('with m = 1 equals krum; with m = n it is the weighted mean', () => {
    const items = reference([1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(aggregate(multiKrumRule, { f: 2, m: 1 }, items).delta)).toEqual(Array.from(aggregate(krumRule, { f: 2 }, items).delta));
    // Σ w·x / 28: x: (−2 − 4 + 3 + 6 + 2.5 + 600 − 280) / 28 = 325.5 / 28; y: (1 − 2 + 0 + 4 + 2.5 − 600 + 420) / 28 = −174.5 / 28;
    // z: (0 + 0 + 1.5 − 2 − 10 + 300 − 560) / 28 = −270.5 / 28.
    expectClose(aggregate(multiKrumRule, { f: 2, m: 7 }, items).delta, [325.5 / 28, -174.5 / 28, -270.5 / 28], 1e-5);
  });

  it('reference set n = 7, f = 2: default m = n − f = 5 gives [-0.2, 0.3, -0.4]', () => {
    // Scores as in the krum reference test: x4 18.25 < x3 19.25 < x5 20.75 < x1 24.75 < x2 26.75 < x7 34113 < x6 67409.25.
    // m = 5 keeps x1..x5: sum = [−2 − 2 + 1 + 1.5 + 0.5, 1 − 1 + 0 + 1 + 0.5, 0 + 0 + 0.5 − 0.5 − 2] = [−1, 1.5, −2]; / 5.
    const result = aggregate(multiKrumRule, { f: 2 }, reference());
    expectClose(result.delta, [-0.2, 0.3, -0.4]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'rejected', 'rejected']);
    expect(result.verdicts[6]!.reason).toBe('multi-krum: score 34113 (sum of squared distances to its 3 nearest) ranks 6 of 7; 5 kept');
    expect(result.totalWeight).toBe(5);
    // m = 3 keeps x4, x3, x5: [(1.5 + 1 + 0.5) / 3, (1 + 0 + 0.5) / 3, (−0.5 + 0.5 − 2) / 3] = [1, 0.5, −2/3].
    expectClose(aggregate(multiKrumRule, { f: 2, m: 3 }, reference()).delta, [1, 0.5, -2 / 3]);
    // Weights change the average, not the selection: weights 1..5 on x1..x5 → [(−2 − 4 + 3 + 6 + 2.5) / 15, (1 − 2 + 0 + 4 + 2.5) / 15, (1.5 − 2 − 10) / 15].
    expectClose(aggregate(multiKrumRule, { f: 2 }, reference([1, 2, 3, 4, 5, 100, 100])).delta, [5.5 / 15, 5.5 / 15, -10.5 / 15]);
  });
});

describe('bulyan', () => {
  it('returns the common vector exactly when every contribution is identical', () => {
    const v = [0.1, -2.5, 3e-7, -1e-30];
    const result = aggregate(bulyanRule, { f: 1 }, [1, 2, 3, 4, 5, 6, 7].map((w, i) => c(`c${i}`, v, w)));
    expect(Array.from(result.delta)).toEqual(Array.from(Float32Array.from(v)));
  });

  it('stays within the honest range and rejects f attackers at 1e6 (n = 4f + 3)', () => {
    for (const f of [1, 2, 3]) {
      const n = 4 * f + 3;
      const { items, honest } = attacked(n, f, 12, 10 + f);
      const result = aggregate(bulyanRule, { f }, items);
      expectWithinHonestRange(result.delta, honest);
      for (const v of result.verdicts.slice(n - f)) {
        expect(v.verdict).toBe('rejected');
        expect(v.scores['share']).toBe(0);
      }
      expect(result.verdicts.filter((v) => v.verdict === 'accepted').length).toBeGreaterThanOrEqual(n - 4 * f);
    }
  });

  it('with f = 0 is the weighted mean of all contributions (θ = β = n)', () => {
    // 2·[0, 3] + 1·[3, 0] + 1·[9, 9] = [12, 15]; / 4.
    const result = aggregate(bulyanRule, { f: 0 }, [c('a', [0, 3], 2), c('b', [3, 0], 1), c('c', [9, 9], 1)]);
    expect(Array.from(result.delta)).toEqual([3, 3.75]);
    expect(result.verdicts.map((v) => v.scores['selectionRound'])).toEqual([1, 2, 3]);
  });

  it('averages the β values closest to the median, which differs from the trimmed mean (hand-made 1-D case)', () => {
    // n = 7, f = 1: θ = 5, β = 3. Values 0, 1, 2, 3, 3.5, 4, 1000.
    // Round 1 (k = 4): squared distances from 3: {9, 4, 1, 0.25, 1, 994009} → 0.25 + 1 + 1 + 4 = 6.25; from 3.5: {12.25, 6.25, 2.25,
    //   0.25, 0.25} → 0.25 + 0.25 + 2.25 + 6.25 = 9; from 2: {4, 1, 1, 2.25, 4} → 8.25; others are larger → picks 3.
    // Round 2 (k = 3, without 3): from 2: {4, 1, 2.25, 4} → 1 + 2.25 + 4 = 7.25; from 3.5: {12.25, 6.25, 2.25, 0.25} → 8.75;
    //   from 1: {1, 1, 6.25, 9} → 8.25; from 4: {16, 9, 4, 0.25} → 13.25 → picks 2.
    // Round 3 (k = 2, remaining 0, 1, 3.5, 4, 1000): from 0: 1 + 12.25; from 1: 1 + 6.25 = 7.25; from 3.5: 0.25 + 6.25 = 6.5;
    //   from 4: 0.25 + 9 = 9.25 → picks 3.5.
    // Round 4 (k = 1, remaining 0, 1, 4, 1000): from 0: 1; from 1: 1; from 4: 9 → tie 0 / 1, the earlier (0) wins.
    // Round 5 (k = 0, remaining 1, 4, 1000): every score 0 → the earliest, 1.
    // S = {0, 1, 2, 3, 3.5}; median 2; distances 2, 1, 0, 1, 1.5 → β = 3 closest: 2, 1, 3 → mean 2.
    // (The trimmed mean drops 0 and 3.5: (1 + 2 + 3) / 3 = 2 as well; see the reference test for a case where they differ.)
    const values = [0, 1, 2, 3, 3.5, 4, 1000];
    const result = aggregate(bulyanRule, { f: 1 }, values.map((v, i) => c(`v${i}`, [v])));
    expect(Array.from(result.delta)).toEqual([2]);
    expect(result.verdicts.map((v) => v.scores['selectionRound'] ?? 0)).toEqual([4, 5, 2, 1, 3, 0, 0]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['rejected', 'accepted', 'accepted', 'accepted', 'rejected', 'rejected', 'rejected']);
    // 0 and 3.5 were selected but are never among the 3 closest to the median: no influence, so rejected.
    expect(result.verdicts[0]!.reason).toBe('bulyan: chosen by Krum in round 4 of θ = 5 (score 1) but never among the β = 3 values closest to a coordinate median');
    expect(result.verdicts[6]!.reason).toMatch(/^bulyan: not among the θ = 5 chosen by iterated Krum; Krum score .* ranks 7 of 7$/);
  });

  it('reference set: n = 7 is too few for f = 2 (needs 11); with f = 1 gives [1, 0.5, 1/6]', () => {
    // f = 1: θ = n − 2f = 5, β = θ − 2f = 3. Squared distances as in the krum reference test.
    // Round 1 (7 left, k = 4): s1 = 4 + 10.25 + 10.5 + 12.5 = 37.25, s2 = 4 + 10.25 + 12.5 + 16.5 = 43.25,
    //   s3 = 2.25 + 6.75 + 10.25 + 10.25 = 29.5, s4 = 2.25 + 3.5 + 12.5 + 16.5 = 34.75, s5 = 3.5 + 6.75 + 10.5 + 12.5 = 33.25,
    //   s6 = 22251.25 + 22453.5 + 22704.5 + 22705 = 90114.25, s7 = 11264.5 + 11325 + 11523.5 + 11565 = 45678 → x3.
    // Round 2 (6 left, k = 3): s1 = 4 + 10.5 + 12.5 = 27, s2 = 4 + 12.5 + 16.5 = 33, s4 = 3.5 + 12.5 + 16.5 = 32.5,
    //   s5 = 3.5 + 10.5 + 12.5 = 26.5, s6 = 22453.5 + 22704.5 + 22705 = 67863, s7 = 34113 → x5.
    // Round 3 (5 left, k = 2): s1 = 4 + 12.5 = 16.5, s2 = 4 + 16.5 = 20.5, s4 = 12.5 + 16.5 = 29, s6 = 22453.5 + 22705,
    //   s7 = 11325 + 11523.5 → x1.
    // Round 4 (4 left, k = 1): s2 = 16.5, s4 = 16.5, s6 = 22453.5, s7 = 11523.5 → tie, the earlier: x2.
    // Round 5 (3 left, k = 0): all 0 → the earliest: x4. S = {x1, x2, x3, x4, x5} (arrival order).
    // Coordinate x: values −2, −2, 1, 1.5, 0.5; median 0.5; |v − 0.5| = 2.5, 2.5, 0.5, 1, 0 → x5, x3, x4 → (0.5 + 1 + 1.5) / 3 = 1.
    //   (The trimmed mean would drop −2 and 1.5: (−2 + 0.5 + 1) / 3 = −1/6.)
    // Coordinate y: values 1, −1, 0, 1, 0.5; median 0.5; |v − 0.5| = 0.5, 1.5, 0.5, 0.5, 0 → x5, then the tie at 0.5 in
    //   arrival order: x1, x3 → (0.5 + 1 + 0) / 3 = 0.5.
    // Coordinate z: values 0, 0, 0.5, −0.5, −2; median 0; |v| = 0, 0, 0.5, 0.5, 2 → x1, x2, then the tie: x3 → 0.5 / 3 = 1/6.
    const result = aggregate(bulyanRule, { f: 1 }, reference());
    expectClose(result.delta, [1, 0.5, 1 / 6]);
    expect(result.verdicts.map((v) => v.scores['selectionRound'] ?? 0)).toEqual([3, 4, 1, 5, 2, 0, 0]);
    expect(result.verdicts.map((v) => v.scores['selectionScore'] ?? -1)).toEqual([16.5, 16.5, 29.5, 0, 26.5, -1, -1]);
    expect(result.verdicts.map((v) => v.scores['krumScore'])).toEqual([37.25, 43.25, 29.5, 34.75, 33.25, 90114.25, 45678]);
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'rejected', 'rejected']);
    // Coordinates averaged in: x1 {y, z}, x2 {z}, x3 {x, y, z}, x4 {x}, x5 {x, y}; each counts 1/3 of a coordinate it is in.
    expectClose(result.verdicts.slice(0, 5).map((v) => v.scores['coordinateShare']!), [2 / 3, 1 / 3, 1, 1 / 3, 2 / 3], 1e-12);
    expectClose(result.verdicts.map((v) => v.scores['share']!), [2 / 9, 1 / 9, 3 / 9, 1 / 9, 2 / 9, 0, 0], 1e-12);
    expect(result.verdicts[2]!.reason).toBe('bulyan: chosen by Krum in round 1 of θ = 5 (score 29.5); among the β = 3 values closest to the median in 100% of coordinates');
    expect(result.verdicts[5]!.reason).toBe('bulyan: not among the θ = 5 chosen by iterated Krum; Krum score 90114.3 ranks 7 of 7');
  });

  it('averages by weight within the β closest, choosing them by count', () => {
    // f = 0, n = 3, all kept; weights 1, 1, 6 → (0 + 1 + 6·2) / 8 = 13/8 (a weighted median would be 2).
    expect(Array.from(aggregate(bulyanRule, { f: 0 }, [c('a', [0], 1), c('b', [1], 1), c('c', [2], 6)]).delta)).toEqual([13 / 8]);
  });
});

describe('geometric-median', () => {
  it('returns the common vector exactly when every contribution is identical, after one iteration', () => {
    const v = [0.1, -2.5, 3e-7, 123456.789];
    const result = aggregate(geometricMedianRule, {}, [1, 2, 3, 5, 8].map((w, i) => c(`c${i}`, v, w)));
    expect(Array.from(result.delta)).toEqual(Array.from(Float32Array.from(v)));
    for (const verdict of result.verdicts) {
      expect(verdict.verdict).toBe('accepted');
      expect(verdict.scores).toMatchObject({ iterations: 1, converged: 1 });
      expect(verdict.scores['weiszfeldWeight']).toBeCloseTo(1, 12);
    }
  });

  it('stays near the honest contributions and down-weights attackers at 1e6 holding less than half the weight', () => {
    for (const [n, f] of [[7, 2], [9, 4], [20, 6]] as const) {
      const { items, honest } = attacked(n, f, 10, 20 + n);
      const result = aggregate(geometricMedianRule, {}, items);
      // Its guarantee is a bounded distance, not a per-coordinate range: with 4 of 9 far away (even converged) it leaves
      // the honest box by ~0.1 in some coordinates. It stays inside the ball around the honest mean holding them all.
      if (f < n / 3) expectWithinHonestRange(result.delta, honest);
      const honestMean = Array.from({ length: 10 }, (_, j) => honest.reduce((s, v) => s + v[j]!, 0) / honest.length);
      const radius = Math.max(...honest.map((v) => Math.hypot(...honestMean.map((m, j) => v[j]! - m))));
      expect(Math.hypot(...honestMean.map((m, j) => result.delta[j]! - m))).toBeLessThan(radius);
      for (const v of result.verdicts.slice(0, n - f)) expect(v.verdict).toBe('accepted');
      for (const v of result.verdicts.slice(n - f)) {
        expect(v.verdict).toBe('down-weighted');
        expect(v.scores['weiszfeldWeight']).toBeLessThan(1e-5);
      }
    }
  });

  it('finds known medians: the middle of three collinear points, a point holding most weight, a square centre', () => {
    // Collinear 0, 1, 10: Σ|x − z| is minimized at z = 1 (the 1-D median); the smoothing ν = 1e-6 keeps it finite there.
    expectClose(aggregate(geometricMedianRule, { tolerance: 1e-12, maxIterations: 1000 }, [c('a', [0]), c('b', [1]), c('c', [10])]).delta, [1], 1e-5);
    // Weight 3 of 4 at [10, 0]: the objective's slope at that point is 1 < 3, so z = [10, 0].
    expectClose(aggregate(geometricMedianRule, { tolerance: 1e-12, maxIterations: 1000 }, [c('a', [0, 0], 1), c('b', [10, 0], 3)]).delta, [10, 0], 1e-5);
    // Square corners: the weighted-mean start is the centre and symmetry keeps it there.
    const square = aggregate(geometricMedianRule, {}, [c('a', [1, 1]), c('b', [-1, 1]), c('c', [-1, -1]), c('d', [1, -1])]);
    expect(Array.from(square.delta)).toEqual([0, 0]);
    expect(square.verdicts.map((v) => v.scores['weiszfeldWeight'])).toEqual([1, 1, 1, 1]);
  });

  it('stops at maxIterations and says it did not converge', () => {
    const result = aggregate(geometricMedianRule, { maxIterations: 1 }, reference());
    expect(result.verdicts[0]!.scores).toMatchObject({ iterations: 1, converged: 0 });
    expect(result.verdicts[0]!.reason).toMatch(/\(1 iterations, not converged\)$/);
  });

  it('reference set: the geometric median [0.3288800, 0.3468885, -0.6194739]; RFA stopping gives its 7-iteration iterate', () => {
    // Start: the mean, [(−2 − 2 + 1 + 1.5 + 0.5 + 100 − 40) / 7, (1 − 1 + 0 + 1 + 0.5 − 100 + 60) / 7, (0 + 0 + 0.5 − 0.5 − 2 + 50 − 80) / 7]
    //        = [59/7, −38.5/7, −32/7] = [8.428571, −5.5, −4.571429]; each step z ← Σ x_i/‖x_i − z‖ / Σ 1/‖x_i − z‖.
    // The minimizer z* satisfies Σ (z* − x_i)/‖z* − x_i‖ = 0 (no z* = x_i): checked below for the expected value, whose distances
    // are ≈ 2.4968, 2.7607, 1.3505, 1.3462, 1.3995, 150.2204, 107.1736 (computed independently in float64 by Weiszfeld,
    // polished by Newton's method).
    const exact = [0.328879970707678, 0.346888500397208, -0.619473934430216];
    const gradient = [0, 0, 0];
    for (const x of REFERENCE) {
      const r = Math.hypot(exact[0]! - x[0]!, exact[1]! - x[1]!, exact[2]! - x[2]!);
      for (let j = 0; j < 3; j++) gradient[j]! += (exact[j]! - x[j]!) / r;
    }
    expectClose(gradient, [0, 0, 0], 1e-12);

    // Run to the float64 limit: the objective stops changing after ~22 iterations, within ~3e-8 of z*.
    const precise = aggregate(geometricMedianRule, { tolerance: 1e-15, maxIterations: 1000 }, reference());
    expectClose(precise.delta, exact, 1e-6);

    // Defaults (tolerance 1e-6 on the relative objective change, as RFA's code): F falls from 266.7477655 by less than
    // 1e-6·F at the 7th update, leaving z ≈ 4e-3 from z* (the far points dominate F). Same procedure, computed independently.
    const result = aggregate(geometricMedianRule, {}, reference());
    expectClose(result.delta, [0.32860578433983384, 0.34786034581543446, -0.6237950591392097], 1e-6);
    expect(result.verdicts[0]!.scores).toMatchObject({ iterations: 7, converged: 1 });
    // Distances to that z: 2.49736, 2.76193, 1.35451, 1.34639, 1.39516, 150.22266, 107.16975; sorted, the 4th is
    // 2.49736 (x1) → threshold 3 × 2.49736 = 7.49 → x6 and x7 down-weighted.
    expect(result.verdicts.map((v) => v.verdict)).toEqual(['accepted', 'accepted', 'accepted', 'accepted', 'accepted', 'down-weighted', 'down-weighted']);
    expect(result.verdicts[0]!.scores['medianDistance']).toBeCloseTo(2.497360867641557, 6);
    // Shares are the last update's Weiszfeld weights 1/‖x_i − z‖, normalized: the far points keep about 1% each.
    const shares = result.verdicts.map((v) => v.scores['share']!);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(shares[5]!).toBeLessThan(0.006);
    expect(shares[6]!).toBeLessThan(0.009);
    expect(result.verdicts[5]!.reason).toMatch(/^geometric-median: distance 150\.\d+ > 3 × median distance 2\.49\d+; Weiszfeld weight ×0\.0\d+ of its data weight \(7 iterations\)$/);
    expect(result.totalWeight).toBe(7);
  });

  it('weights the objective by contribution weight', () => {
    // Three points on a line, weights 1, 1, 3: more than half the weight at 10 → the median is 10.
    expectClose(aggregate(geometricMedianRule, { tolerance: 1e-12, maxIterations: 1000 }, [c('a', [0], 1), c('b', [1], 1), c('c', [10], 3)]).delta, [10], 1e-5);
  });
});
