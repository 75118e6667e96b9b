// Public surface of the aggregation seam: contributions, accumulators, rules, server optimizers, strategies.
export type { AggregateResult, AggregationAccumulator, Contribution, ContributionVerdict, VerdictKind } from './types.js';
export type { ContributionGuard, ContributionLimits } from './contribution.js';
export { contributionFromWeightedSum, createContributionGuard, rejectedVerdict } from './contribution.js';
export type { FedAvgOptions } from './fedavg.js';
export { createFedAvgAccumulator } from './fedavg.js';
export type { AccumulatorContext, AggregationRule, RuleParams, RuleParamSpec } from './rules.js';
export { fedAvgRule, resolveRuleParams } from './rules.js';
export { BUILTIN_AGGREGATION_RULES } from './builtin-rules.js';
export type {
  AdaptiveServerOptions,
  FedAvgMServerOptions,
  FedAvgServerOptions,
  ServerOptimizer,
  ServerOptimizerConfig,
  ServerOptimizerKind,
  ServerOptimizerOptions,
  ServerOptimizerState,
} from './server-optimizer.js';
export {
  checkServerOptimizerState,
  createServerOptimizer,
  resolveServerOptimizerOptions,
  SERVER_OPTIMIZER_BUFFERS,
  SERVER_OPTIMIZER_DEFAULTS,
  SERVER_OPTIMIZER_KINDS,
} from './server-optimizer.js';
export { decodeServerOptimizerState, encodeServerOptimizerState } from './server-optimizer-codec.js';
export type { ResolvedStrategy, RoundAggregationInputs, RoundContext, Strategy, StrategyDependencies, StrategyOptions } from './strategy.js';
export { createStrategy } from './strategy.js';
