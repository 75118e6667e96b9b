/** FederationConfig -> the core strategy's options (rule + server optimizer), passing only what the operator set. */
import type { ServerOptimizerOptions, StrategyOptions } from '../../../shared/src/core/aggregation/index.js';
import type { FederationConfig } from './config.js';

export function strategyOptionsOf(config: FederationConfig): StrategyOptions {
  const { kind, ...rest } = config.serverOptimizer;
  const set = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  return {
    rule: config.aggregation.rule,
    ruleParams: config.aggregation.params,
    // The optimizer validates the combination and rejects fields its kind does not use, naming them.
    serverOptimizer: { kind, ...set } as ServerOptimizerOptions,
  };
}
