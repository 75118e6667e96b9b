/**
 * The registry of aggregation rules. A rule turns a round's contributions into one aggregate plus verdicts; robust
 * rules (robust/: median, trimmed mean, Krum, ...) are listed in builtin-rules.ts, or passed to createStrategy by
 * library users. Neither the strategy nor the round workflow changes when a rule is added.
 */
import { requireConfig } from '../errors.js';
import type { Rng } from '../rng/index.js';
import { createFedAvgAccumulator } from './fedavg.js';
import type { AggregationAccumulator } from './types.js';

/** Rule parameters after validation and defaults (numbers only, like AggregationSpec.params on the wire). */
export type RuleParams = Readonly<Record<string, number>>;

/** What a rule gets to build one round's accumulator. */
export interface AccumulatorContext {
  /** Model dimension d (elements of the flat weight vector). */
  readonly dimension: number;
  /** The rule's validated parameters. */
  readonly params: RuleParams;
  /** Randomness for randomized rules (bucketing, FLAME noise); undefined when the caller supplied none. */
  readonly rng: Rng | undefined;
  /**
   * The server's own update this round, for rules that judge against a reference (FLTrust's root-dataset update).
   * Called at finish(), after the coordinator has trained it; undefined when the coordinator trains none.
   */
  readonly referenceUpdate?: () => Float32Array | null;
}

/** An aggregation rule: validated parameters in, one accumulator per round out. */
export interface AggregationRule {
  /** Config name, lower-case (e.g. "fedavg", "median"). */
  readonly name: string;
  /** One line for operators: what it does and what it assumes. */
  readonly summary: string;
  /** Validates parameters and fills defaults; throws CONFIG_INVALID naming `ruleParams.<name>`. */
  resolveParams(params: RuleParams): RuleParams;
  createAccumulator(context: AccumulatorContext): AggregationAccumulator;
}

/** Specification of one numeric rule parameter, for resolveRuleParams. */
export interface RuleParamSpec {
  /** Value when omitted; undefined = optional with no value. */
  readonly default?: number;
  /** True when the value is acceptable. */
  readonly valid: (value: number) => boolean;
  /** What `valid` demands, in words ("an integer >= 1"). */
  readonly requirement: string;
}

/**
 * Shared validation for rule parameters: rejects unknown names (listing the known ones), non-finite numbers and
 * values `valid` refuses, each as CONFIG_INVALID naming `ruleParams.<name>`; returns the values with defaults.
 */
export function resolveRuleParams(ruleName: string, params: RuleParams, specs: Readonly<Record<string, RuleParamSpec>>): RuleParams {
  const known = Object.keys(specs);
  for (const key of Object.keys(params)) {
    requireConfig(key in specs, `ruleParams.${key}`, `not a parameter of ${ruleName} (its parameters: ${known.length > 0 ? known.join(', ') : 'none'})`);
  }
  const out: Record<string, number> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const value = params[key] ?? spec.default;
    if (value === undefined) continue;
    requireConfig(typeof value === 'number' && Number.isFinite(value) && spec.valid(value), `ruleParams.${key}`, `must be ${spec.requirement}, got ${String(value)}`);
    out[key] = value;
  }
  return out;
}

/** FedAvg: the example-weighted mean; `maxAbs` (optional, model units) rejects contributions with any |Δ_i| above it. */
export const fedAvgRule: AggregationRule = {
  name: 'fedavg',
  summary: 'example-weighted mean of all valid contributions (no robustness to malicious clients)',
  resolveParams: (params) => resolveRuleParams('fedavg', params, { maxAbs: { valid: (x) => x > 0, requirement: 'a finite number > 0' } }),
  createAccumulator: ({ dimension, params }) => createFedAvgAccumulator(dimension, params['maxAbs'] === undefined ? {} : { maxAbs: params['maxAbs'] }),
};

