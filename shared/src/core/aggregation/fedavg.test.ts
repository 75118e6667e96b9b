import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../errors.js';
import { isCohortError } from '../errors.js';
import { createSeededRng, normal, shuffleInPlace, uniformInt } from '../rng/index.js';
import { createFedAvgAccumulator } from './fedavg.js';
import type { Contribution } from './types.js';

const f32 = (...xs: number[]): Float32Array => new Float32Array(xs);

function contribution(id: string, delta: Float32Array, weight: number, clientIds: string[] = [id]): Contribution {
  return { id, clientIds, delta, weight };
}

function expectCohortError(fn: () => unknown, code: ErrorCode, message: RegExp | string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isCohortError(caught, code), `expected CohortError ${code}, got ${String(caught)}`).toBe(true);
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

/** Largest |a_i − b_i| relative to max(1, |b_i|). */
function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return worst;
}

describe('fedavg accumulator', () => {
  it('equals the hand-computed example-weighted mean', () => {
    const acc = createFedAvgAccumulator(2);
    acc.add(contribution('a', f32(1, 2), 1));
    acc.add(contribution('b', f32(3, 4), 2));
    acc.add(contribution('c', f32(-1, 0), 1));
    expect(acc.count).toBe(3);
    expect(acc.totalWeight).toBe(4);
    const result = acc.finish();
    // (1·[1,2] + 2·[3,4] + 1·[−1,0]) / 4 = [6, 10] / 4
    expect([...result.delta]).toEqual([1.5, 2.5]);
    expect(result.totalWeight).toBe(4);
    expect(result.count).toBe(3);
  });

  it('gives one accepted verdict per contribution with weight, L2 norm and share', () => {
    const acc = createFedAvgAccumulator(2);
    acc.add(contribution('a', f32(3, 4), 30));
    acc.add(contribution('bucket-1', f32(0, 1), 10, ['x', 'y']));
    const { verdicts } = acc.finish();
    expect(verdicts).toEqual([
      { contributionId: 'a', clientIds: ['a'], verdict: 'accepted', reason: expect.stringContaining('30 examples'), scores: { weight: 30, l2Norm: 5, share: 0.75 } },
      { contributionId: 'bucket-1', clientIds: ['x', 'y'], verdict: 'accepted', reason: expect.any(String), scores: { weight: 10, l2Norm: 1, share: 0.25 } },
    ]);
  });

  it('does not depend on arrival order beyond float tolerance (seeds 1..100)', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rng = createSeededRng(seed);
      const d = 1 + uniformInt(rng, 64);
      const n = 1 + uniformInt(rng, 40);
      const items = Array.from({ length: n }, (_, i) =>
        contribution(`c${i}`, Float32Array.from({ length: d }, () => normal(rng) * 10 ** uniformInt(rng, 4)), 1 + uniformInt(rng, 500)),
      );
      const reference = new Float64Array(d);
      let total = 0;
      for (const c of items) {
        for (let j = 0; j < d; j++) reference[j]! += c.weight * c.delta[j]!;
        total += c.weight;
      }
      for (let j = 0; j < d; j++) reference[j]! /= total;

      const runs = [0, 1, 2].map(() => {
        const order = [...items];
        shuffleInPlace(rng, order);
        const acc = createFedAvgAccumulator(d);
        for (const c of order) acc.add(c);
        return acc.finish().delta;
      });
      for (const delta of runs) {
        // float64 accumulation, one float32 rounding at the end: within a float32 ulp or two of the exact mean.
        expect(maxRelativeError(delta, reference)).toBeLessThan(2e-7);
        expect(maxRelativeError(delta, runs[0]!)).toBeLessThan(2e-7);
      }
    }
  });

  it('streams: it keeps no reference to a contribution once added', () => {
    const delta = f32(1, 1);
    const acc = createFedAvgAccumulator(2);
    acc.add(contribution('a', delta, 1));
    delta.fill(1000); // a caller reusing its receive buffer must not change the round's result
    acc.add(contribution('b', f32(3, 3), 1));
    expect([...acc.finish().delta]).toEqual([2, 2]);
  });

  it('aggregates 1,000 contributions at d = 100k in O(d) memory', () => {
    const d = 100_000;
    const rng = createSeededRng(5);
    const pool = Array.from({ length: 4 }, () => Float32Array.from({ length: d }, () => normal(rng)));
    const acc = createFedAvgAccumulator(d);
    const weights = [1, 2, 3, 4];
    for (let i = 0; i < 1000; i++) acc.add(contribution(`client-${i}`, pool[i % 4]!, weights[i % 4]!));
    const result = acc.finish();
    expect(result.count).toBe(1000);
    expect(result.totalWeight).toBe(2500);
    for (const j of [0, 12_345, d - 1]) {
      const expected = (pool[0]![j]! * 1 + pool[1]![j]! * 2 + pool[2]![j]! * 3 + pool[3]![j]! * 4) / 10;
      expect(result.delta[j]).toBeCloseTo(expected, 5);
    }
  });
});

describe('fedavg accumulator input validation', () => {
  it('rejects a wrong-length delta naming the contribution, expected and actual length', () => {
    const acc = createFedAvgAccumulator(3);
    expectCohortError(() => acc.add(contribution('alice', f32(1, 2), 1)), 'UPDATE_WRONG_LENGTH', 'contribution "alice" (clients alice): update has 2 elements, expected 3');
  });

  it('rejects NaN and Infinity naming the first bad index and its value', () => {
    const acc = createFedAvgAccumulator(3);
    expectCohortError(() => acc.add(contribution('bob', f32(0, Number.NaN, 1), 1)), 'UPDATE_NOT_FINITE', 'contribution "bob" (clients bob): update element 1 is NaN, expected a finite number');
    expectCohortError(() => acc.add(contribution('bob', f32(0, 0, -Infinity), 1)), 'UPDATE_NOT_FINITE', /element 2 is -Infinity/);
  });

  it('rejects weights that are not finite numbers > 0', () => {
    const acc = createFedAvgAccumulator(1);
    for (const weight of [0, -3, Number.NaN, Infinity]) {
      expectCohortError(() => acc.add(contribution('c', f32(1), weight)), 'INVALID_ARGUMENT', `contribution "c" (clients c): weight must be a finite number > 0 (examples), got ${weight}`);
    }
  });

  it('rejects duplicate contribution ids, a client counted twice, and contributions without clients', () => {
    const acc = createFedAvgAccumulator(1);
    acc.add(contribution('b1', f32(1), 1, ['x', 'y']));
    expectCohortError(() => acc.add(contribution('b1', f32(1), 1, ['z'])), 'ALREADY_EXISTS', /"b1".*already added/);
    expectCohortError(() => acc.add(contribution('b2', f32(1), 1, ['z', 'y'])), 'ALREADY_EXISTS', /client "y" already contributed to this round \(in contribution "b1"\)/);
    expectCohortError(() => acc.add(contribution('b3', f32(1), 1, ['q', 'q'])), 'INVALID_ARGUMENT', /lists client "q" twice/);
    expectCohortError(() => acc.add(contribution('b4', f32(1), 1, [])), 'INVALID_ARGUMENT', /names no clients/);
    expectCohortError(() => acc.add(contribution('', f32(1), 1, ['w'])), 'INVALID_ARGUMENT', /id must be a non-empty string/);
  });

  it('rejects values beyond maxAbs when configured', () => {
    const acc = createFedAvgAccumulator(2, { maxAbs: 10 });
    acc.add(contribution('ok', f32(10, -10), 1));
    expectCohortError(() => acc.add(contribution('big', f32(1, -11), 1)), 'INVALID_ARGUMENT', /element 1 is -11, outside the allowed range ±10/);
  });

  it('leaves its state unchanged when it rejects a contribution', () => {
    const acc = createFedAvgAccumulator(2);
    acc.add(contribution('a', f32(2, 4), 1));
    expect(() => acc.add(contribution('b', f32(Number.NaN, 0), 5, ['b']))).toThrow();
    expect(() => acc.add(contribution('c', f32(1), 5))).toThrow();
    expect(acc.count).toBe(1);
    expect(acc.totalWeight).toBe(1);
    // The rejected ids and clients are not burned: a corrected retry is accepted.
    acc.add(contribution('b', f32(0, 0), 1, ['b']));
    const result = acc.finish();
    expect([...result.delta]).toEqual([1, 2]);
    expect(result.verdicts.map((v) => v.contributionId)).toEqual(['a', 'b']);
  });

  it('refuses to finish with zero contributions, to finish twice, and to add after finishing', () => {
    expectCohortError(() => createFedAvgAccumulator(4).finish(), 'FAILED_PRECONDITION', 'fedavg: no contributions to aggregate');
    const acc = createFedAvgAccumulator(1);
    acc.add(contribution('a', f32(1), 1));
    acc.finish();
    expectCohortError(() => acc.finish(), 'FAILED_PRECONDITION', /already called/);
    expectCohortError(() => acc.add(contribution('b', f32(1), 1)), 'FAILED_PRECONDITION', /after finish/);
  });

  it('refuses a non-positive or fractional dimension', () => {
    expect(() => createFedAvgAccumulator(0)).toThrow(RangeError);
    expect(() => createFedAvgAccumulator(2.5)).toThrow(RangeError);
  });
});
