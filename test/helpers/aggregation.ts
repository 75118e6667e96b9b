/** Shared by the aggregation-rule tests: one round of a rule, closeness checks, and the reference set. */
import { expect } from 'vitest';
import type { Rng } from '../../shared/src/core/rng/index.js';
import type { AggregationRule, RuleParams } from '../../shared/src/core/aggregation/rules.js';
import type { AggregateResult } from '../../shared/src/core/aggregation/types.js';
import type { Contribution } from '../../shared/src/core/aggregation/types.js';

/** Runs one round of `rule` with `params` (resolved first) over `items`, in the order given. */
export function runRule(rule: AggregationRule, params: RuleParams, items: readonly Contribution[], rng?: Rng): AggregateResult {
  const acc = rule.createAccumulator({ dimension: items[0]!.delta.length, params: rule.resolveParams(params), rng });
  for (const item of items) acc.add(item);
  return acc.finish();
}

/** |a_i − b_i| <= tolerance for every i. */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance);
}

/** |a_i − b_i| <= tolerance · max(1, |b_i|) for every i. */
export function expectRelativeClose(actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i]!)));
  }
}
