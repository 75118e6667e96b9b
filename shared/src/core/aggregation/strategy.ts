/**
 * Strategy: what a federation does each round, apart from how the round runs (CONVENTIONS habit 2).
 * The workflow calls, per round: configureRound → createAccumulator → add(contribution)* → finish → apply.
 *
 * How later features plug in without touching the workflow:
 *  - Secure aggregation (#3) changes what a contribution is, not the calls: the coordinator learns bucket sums and
 *    feeds `contributionFromWeightedSum(...)` (the bucket mean, weighted by the bucket's examples).
 *  - Robust aggregation (#5) adds rules to the registry (rules.ts); their accumulators keep the (few) bucket means
 *    or client updates they need and report per-contribution verdicts in the AggregateResult.
 *  - DP (#4) decorates a Strategy: configureRound returns plan overrides (e.g. the round's clip norm), the wrapped
 *    accumulator's finish() adds central noise to the aggregate, apply is passed through.
 */
import { CohortError, requireConfig } from '../errors.js';
import type { Rng } from '../rng/index.js';
import { requireDimension } from './contribution.js';
import type { AggregationRule, RuleParams } from './rules.js';
import { BUILTIN_AGGREGATION_RULES } from './builtin-rules.js';
import type { ServerOptimizerConfig, ServerOptimizerOptions, ServerOptimizerState } from './server-optimizer.js';
import { createServerOptimizer, validateAggregateDelta } from './server-optimizer.js';
import type { AggregateResult, AggregationAccumulator } from './types.js';

/** What the strategy knows about the round it configures. */
export interface RoundContext {
  /** 1-based number of the round within its federation. */
  readonly roundNumber: number;
}

/** What the coordinator itself supplies to a round's aggregation. */
export interface RoundAggregationInputs {
  /** The server's update on its root dataset (FLTrust's reference), read at finish(). */
  readonly referenceUpdate?: () => Float32Array | null;
}

/** A federation's aggregation policy: rule + server optimizer. */
export interface Strategy {
  /** "<rule>+<server optimizer>", e.g. "fedavg+fedadam"; for logs and reports. */
  readonly name: string;
  /** Training-plan overrides for this round (field name → value); empty when the plan is used as configured. */
  configureRound(ctx: RoundContext): Record<string, number>;
  /** A fresh accumulator for one round over d-dimensional updates; `round` carries what the coordinator computed. */
  createAccumulator(dimension: number, round?: RoundAggregationInputs): AggregationAccumulator;
  /**
   * The next global model: runs the server optimizer on the aggregate. Never mutates `weights`, the aggregate or
   * `state`. `state` null = first round (or a fresh start); the returned state is what to persist.
   */
  apply(weights: Float32Array, aggregate: AggregateResult, state: ServerOptimizerState | null): { weights: Float32Array; state: ServerOptimizerState | null };
}

/** Strategy configuration, as validated from a federation config. */
export interface StrategyOptions {
  /** Aggregation rule name from the registry ("fedavg"; robust rules after #5). */
  readonly rule: string;
  /** Rule parameters (numbers); validated by the rule, unknown names rejected. */
  readonly ruleParams?: Readonly<Record<string, number>>;
  readonly serverOptimizer: ServerOptimizerOptions;
}

/** Collaborators a strategy may need; none is required by the built-in rules. */
export interface StrategyDependencies {
  /** Rules to choose from; defaults to BUILTIN_AGGREGATION_RULES. */
  readonly rules?: readonly AggregationRule[];
  /** Randomness for randomized rules; the coordinator passes its seeded or OS Rng so runs replay. */
  readonly rng?: Rng;
}

/** A strategy with its resolved settings, for logs and the federation record. */
export interface ResolvedStrategy extends Strategy {
  readonly rule: string;
  readonly ruleParams: RuleParams;
  readonly serverOptimizer: ServerOptimizerConfig;
}

/** Validates options (CONFIG_INVALID naming the field) and builds the strategy. */
export function createStrategy(options: StrategyOptions, deps: StrategyDependencies = {}): ResolvedStrategy {
  requireConfig(typeof options === 'object' && options !== null, 'strategy', 'must be an object');
  const rules = deps.rules ?? BUILTIN_AGGREGATION_RULES;
  const names = rules.map((r) => r.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new RangeError(`aggregation rule "${duplicate}" is registered twice`);
  const rule = rules.find((r) => r.name === options.rule);
  requireConfig(
    rule !== undefined,
    'rule',
    `unknown aggregation rule ${JSON.stringify(options.rule)}; known rules: ${names.join(', ')}`,
  );
  const rawParams = options.ruleParams ?? {};
  requireConfig(typeof rawParams === 'object' && rawParams !== null && !Array.isArray(rawParams), 'ruleParams', 'must be an object of numbers');
  const ruleParams = rule.resolveParams(rawParams);
  const optimizer = createServerOptimizer(options.serverOptimizer);
  const rng = deps.rng;

  return {
    name: `${rule.name}+${optimizer.config.kind}`,
    rule: rule.name,
    ruleParams,
    serverOptimizer: optimizer.config,
    configureRound(ctx) {
      if (!Number.isSafeInteger(ctx.roundNumber) || ctx.roundNumber < 1) throw new RangeError(`roundNumber must be an integer >= 1, got ${ctx.roundNumber}`);
      return {};
    },
    createAccumulator(dimension, round) {
      requireDimension(dimension);
      return rule.createAccumulator({ dimension, params: ruleParams, rng, referenceUpdate: round?.referenceUpdate });
    },
    apply(weights, aggregate, state) {
      if (!(aggregate.count > 0)) throw new CohortError('FAILED_PRECONDITION', 'cannot apply an aggregate of zero contributions');
      validateAggregateDelta(aggregate.delta, weights.length);
      return optimizer.step(weights, aggregate.delta, state);
    },
  };
}
