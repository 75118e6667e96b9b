/**
 * The frame every robust rule shares: contributions are admitted by the round's guard (length, finiteness, range,
 * duplicates) and buffered, since robust rules compare contributions with each other (O(n·d) memory, unlike FedAvg's
 * streaming sum); at `finish` the rule's `combine` picks the aggregate and a decision per contribution, and this
 * frame adds the scores every verdict carries: the contribution's L2 norm, and its L2 distance and cosine to the
 * robust aggregate, so operators and reputation can compare rules on one scale.
 */
import { CohortError } from '../../errors.js';
import { dot, l2Norm } from '../../tensor/ops.js';
import type { ContributionLimits } from '../contribution.js';
import { createContributionGuard, requireDimension } from '../contribution.js';
import type { AggregateResult, AggregationAccumulator, Contribution, ContributionVerdict, VerdictKind } from '../types.js';

/** A contribution as the rule sees it, with its norm from admission. */
export interface BufferedContribution {
  readonly contribution: Contribution;
  readonly l2Norm: number;
}

/** What the rule decided for one contribution (in the order given to `combine`). */
export interface RuleDecision {
  readonly verdict: VerdictKind;
  /** Why, in words an operator can act on (name the rule and the number that decided). */
  readonly reason: string;
  /** Rule-specific numbers (krumScore, trust, clusterSize ...); weight, share and the common scores are added. */
  readonly scores?: Record<string, number>;
  /** The weight this contribution had in the aggregate (0 when rejected); default its own weight when accepted. */
  readonly effectiveWeight?: number;
}

/** A rule's result before the common scores are attached. */
export interface CombineResult {
  readonly delta: Float32Array;
  /** One decision per buffered contribution, same order. */
  readonly decisions: readonly RuleDecision[];
}

export interface BufferedRuleOptions extends ContributionLimits {
  /** Rule name, for messages ("krum: ..."). */
  readonly name: string;
  /** Fewest contributions the rule can work with (e.g. Krum: 2f + 3); fewer fails finish() with FAILED_PRECONDITION. */
  readonly minContributions?: number;
}

/** Builds a buffering accumulator around a rule's `combine` (pure: contributions in, aggregate and decisions out). */
export function createBufferedAccumulator(dimension: number, options: BufferedRuleOptions, combine: (buffered: readonly BufferedContribution[]) => CombineResult): AggregationAccumulator {
  requireDimension(dimension);
  const guard = createContributionGuard(dimension, options.maxAbs === undefined ? {} : { maxAbs: options.maxAbs });
  let buffered: BufferedContribution[] | null = [];
  let totalWeight = 0;
  return {
    add(c: Contribution) {
      if (buffered === null) throw new CohortError('FAILED_PRECONDITION', `${options.name}: cannot add a contribution after finish()`);
      const { l2Norm: norm } = guard.admit(c);
      buffered.push({ contribution: c, l2Norm: norm });
      totalWeight += c.weight;
    },
    get count() {
      return buffered?.length ?? 0;
    },
    get totalWeight() {
      return totalWeight;
    },
    finish(): AggregateResult {
      if (buffered === null) throw new CohortError('FAILED_PRECONDITION', `${options.name}: finish() was already called`);
      const all = buffered;
      if (all.length === 0) throw new CohortError('FAILED_PRECONDITION', `${options.name}: no contributions to aggregate`);
      const min = options.minContributions ?? 1;
      if (all.length < min) {
        throw new CohortError('FAILED_PRECONDITION', `${options.name}: needs at least ${min} contributions, got ${all.length}`, { count: all.length, required: min });
      }
      buffered = null;
      const { delta, decisions } = combine(all);
      if (decisions.length !== all.length) throw new CohortError('INTERNAL', `${options.name}: ${decisions.length} decisions for ${all.length} contributions`);
      const weights = decisions.map((d, i) => (d.verdict === 'rejected' ? 0 : (d.effectiveWeight ?? all[i]!.contribution.weight)));
      const used = weights.reduce((a, b) => a + b, 0);
      const aggregateNorm = l2Norm(delta);
      const verdicts: ContributionVerdict[] = all.map((b, i) => {
        const d = decisions[i]!;
        return {
          contributionId: b.contribution.id,
          clientIds: [...b.contribution.clientIds],
          verdict: d.verdict,
          reason: d.reason,
          scores: {
            ...d.scores,
            weight: b.contribution.weight,
            share: used > 0 ? weights[i]! / used : 0,
            l2Norm: b.l2Norm,
            ...distanceScores(b.contribution.delta, b.l2Norm, delta, aggregateNorm),
          },
        };
      });
      return { delta, totalWeight: decisions.reduce((n, d, i) => n + (d.verdict === 'rejected' ? 0 : all[i]!.contribution.weight), 0), count: all.length, verdicts };
    },
  };
}

/** L2 distance and cosine similarity of a contribution to the aggregate (cosine 0 when either is the zero vector). */
export function distanceScores(delta: Float32Array, norm: number, aggregate: Float32Array, aggregateNorm: number): { distanceToAggregate: number; cosineToAggregate: number } {
  const product = dot(delta, aggregate);
  const squared = Math.max(0, norm * norm + aggregateNorm * aggregateNorm - 2 * product);
  return { distanceToAggregate: Math.sqrt(squared), cosineToAggregate: norm > 0 && aggregateNorm > 0 ? product / (norm * aggregateNorm) : 0 };
}

/** The weighted mean of the chosen contributions (weights > 0), in float64 then float32. */
export function weightedMean(dimension: number, items: readonly { delta: Float32Array; weight: number }[]): Float32Array {
  const sum = new Float64Array(dimension);
  let total = 0;
  for (const { delta, weight } of items) {
    if (weight <= 0) continue;
    for (let j = 0; j < dimension; j++) sum[j]! += weight * delta[j]!;
    total += weight;
  }
  if (!(total > 0)) throw new CohortError('FAILED_PRECONDITION', 'no contribution kept a positive weight');
  const out = new Float32Array(dimension);
  for (let j = 0; j < dimension; j++) out[j] = sum[j]! / total;
  return out;
}
