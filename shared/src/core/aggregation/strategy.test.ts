import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import type { Rng } from '../rng/index.js';
import { createSeededRng } from '../rng/index.js';
import type { AggregationRule } from './rules.js';
import { BUILTIN_AGGREGATION_RULES } from './builtin-rules.js';
import { resolveRuleParams } from './rules.js';
import type { StrategyOptions } from './strategy.js';
import { createStrategy } from './strategy.js';
import type { AggregateResult } from './types.js';

const f32 = (...xs: number[]): Float32Array => new Float32Array(xs);

function configError(fn: () => unknown): { field: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    expect(isCohortError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`).toBe(true);
    const e = error as Error & { details: Record<string, unknown> };
    return { field: e.details['field'], message: e.message };
  }
  throw new Error('expected a CONFIG_INVALID error');
}

describe('createStrategy', () => {
  it('builds fedavg with the chosen server optimizer and reports resolved settings', () => {
    const strategy = createStrategy({ rule: 'fedavg', serverOptimizer: { kind: 'fedadam' } });
    expect(strategy.name).toBe('fedavg+fedadam');
    expect(strategy.rule).toBe('fedavg');
    expect(strategy.ruleParams).toEqual({});
    expect(strategy.serverOptimizer).toEqual({ kind: 'fedadam', learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 });
    expect(strategy.configureRound({ roundNumber: 1 })).toEqual({});
  });

  it('rejects an unknown rule naming it and listing the known rules', () => {
    const { field, message } = configError(() => createStrategy({ rule: 'krumm', serverOptimizer: { kind: 'fedavg' } }));
    expect(field).toBe('rule');
    expect(message).toBe(
      'rule: unknown aggregation rule "krumm"; known rules: fedavg, median, trimmed-mean, norm-bound, centered-clip, krum, multi-krum, bulyan, geometric-median, fltrust, foolsgold, flame',
    );
  });

  it('rejects unknown and invalid rule parameters naming them', () => {
    const unknown = configError(() => createStrategy({ rule: 'fedavg', ruleParams: { trim: 0.1 }, serverOptimizer: { kind: 'fedavg' } }));
    expect(unknown.field).toBe('ruleParams.trim');
    expect(unknown.message).toMatch(/not a parameter of fedavg \(its parameters: maxAbs\)/);
    const invalid = configError(() => createStrategy({ rule: 'fedavg', ruleParams: { maxAbs: -1 }, serverOptimizer: { kind: 'fedavg' } }));
    expect(invalid.field).toBe('ruleParams.maxAbs');
    expect(invalid.message).toBe('ruleParams.maxAbs: must be a finite number > 0, got -1');
  });

  it('rejects bad server optimizer options naming the field', () => {
    const { field } = configError(() => createStrategy({ rule: 'fedavg', serverOptimizer: { kind: 'fedavgm', momentum: 2 } }));
    expect(field).toBe('serverOptimizer.momentum');
  });

  it('lets a caller supply its own rule registry, and hands the rng to the rule', () => {
    let seen: Rng | undefined;
    const firstOnly: AggregationRule = {
      name: 'first-only',
      summary: 'test rule: keeps the first contribution',
      resolveParams: (params) => resolveRuleParams('first-only', params, { scale: { default: 1, valid: (x) => x > 0, requirement: '> 0' } }),
      createAccumulator: ({ dimension, params, rng }) => {
        seen = rng;
        let kept: AggregateResult | null = null;
        return {
          add(c) {
            kept ??= { delta: c.delta.map((x) => x * params['scale']!), totalWeight: c.weight, count: 1, verdicts: [] };
          },
          get count() {
            return kept === null ? 0 : 1;
          },
          get totalWeight() {
            return kept?.totalWeight ?? 0;
          },
          finish() {
            if (kept === null || kept.delta.length !== dimension) throw new Error('nothing kept');
            return kept;
          },
        };
      },
    };
    const rng = createSeededRng(1);
    const strategy = createStrategy({ rule: 'first-only', ruleParams: { scale: 2 }, serverOptimizer: { kind: 'fedavg' } }, { rules: [...BUILTIN_AGGREGATION_RULES, firstOnly], rng });
    expect(strategy.ruleParams).toEqual({ scale: 2 });
    const acc = strategy.createAccumulator(2);
    expect(seen).toBe(rng);
    acc.add({ id: 'a', clientIds: ['a'], delta: f32(1, 2), weight: 1 });
    acc.add({ id: 'b', clientIds: ['b'], delta: f32(9, 9), weight: 1 });
    expect([...strategy.apply(f32(0, 0), acc.finish(), null).weights]).toEqual([2, 4]);
    expect(() => createStrategy({ rule: 'fedavg', serverOptimizer: { kind: 'fedavg' } }, { rules: [firstOnly, firstOnly] })).toThrow(/registered twice/);
  });

  it('refuses nonsense round numbers and dimensions from the workflow', () => {
    const strategy = createStrategy({ rule: 'fedavg', serverOptimizer: { kind: 'fedavg' } });
    expect(() => strategy.configureRound({ roundNumber: 0 })).toThrow(RangeError);
    expect(() => strategy.createAccumulator(0)).toThrow(RangeError);
  });
});

describe('a round through the strategy', () => {
  it('aggregates, applies FedAvgM, and leaves the input weights untouched', () => {
    const options: StrategyOptions = { rule: 'fedavg', serverOptimizer: { kind: 'fedavgm', learningRate: 1, momentum: 0.5 } };
    const strategy = createStrategy(options);
    const weights = f32(1, 1);

    const round1 = strategy.createAccumulator(2);
    round1.add({ id: 'a', clientIds: ['a'], delta: f32(1, 0), weight: 3 });
    round1.add({ id: 'b', clientIds: ['b'], delta: f32(-1, 2), weight: 1 });
    const first = strategy.apply(weights, round1.finish(), null); // Δ = [0.5, 0.5]; v = Δ
    expect([...first.weights]).toEqual([1.5, 1.5]);
    expect([...weights]).toEqual([1, 1]);

    const round2 = strategy.createAccumulator(2);
    round2.add({ id: 'a', clientIds: ['a'], delta: f32(0, 1), weight: 1 });
    const second = strategy.apply(first.weights, round2.finish(), first.state); // v = 0.5·[0.5, 0.5] + [0, 1]
    expect([...second.weights]).toEqual([1.75, 2.75]);
    expect(second.state?.step).toBe(2);
  });

  it('refuses an aggregate that does not fit the model or is not finite', () => {
    const strategy = createStrategy({ rule: 'fedavg', serverOptimizer: { kind: 'fedavg' } });
    const aggregate = (delta: Float32Array): AggregateResult => ({ delta, totalWeight: 1, count: 1, verdicts: [] });
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (error) {
        return isCohortError(error) ? error.code : 'not a CohortError';
      }
      return undefined;
    };
    expect(codeOf(() => strategy.apply(f32(0, 0), aggregate(f32(1)), null))).toBe('UPDATE_WRONG_LENGTH');
    expect(codeOf(() => strategy.apply(f32(0, 0), aggregate(f32(1, Number.NaN)), null))).toBe('UPDATE_NOT_FINITE');
    expect(codeOf(() => strategy.apply(f32(0), { ...aggregate(f32(1)), count: 0 }, null))).toBe('FAILED_PRECONDITION');
  });
});
