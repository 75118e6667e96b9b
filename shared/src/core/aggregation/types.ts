/**
 * The aggregation seam. The round workflow feeds contributions to an accumulator and hands the result to a strategy;
 * it never knows which rule or server optimizer runs. A contribution is whatever unit the coordinator can see: one
 * client's update in plaintext mode, or one bucket's mean (its secure sum divided by its total weight) in bucketed
 * secure-aggregation mode. Robust rules (median, Krum, ...) consume the same contributions and explain themselves
 * through verdicts.
 */

/** One unit the coordinator aggregates over. */
export interface Contribution {
  /** Unique within the round: the client id in plaintext mode, a bucket id in bucketed secure mode. */
  readonly id: string;
  /** Clients whose data is inside this contribution (one in plaintext mode, the bucket's survivors otherwise). */
  readonly clientIds: readonly string[];
  /** Mean model update of this contribution, in model units (trained weights minus global weights), length d. */
  readonly delta: Float32Array;
  /** Weight of the contribution in the average: training examples behind it (> 0). */
  readonly weight: number;
}

/** What the rule did with a contribution. */
export type VerdictKind = 'accepted' | 'down-weighted' | 'rejected';

/** Per-contribution outcome of a round, persisted and shown to operators (and used for reputation). */
export interface ContributionVerdict {
  readonly contributionId: string;
  readonly clientIds: readonly string[];
  readonly verdict: VerdictKind;
  /** Why, in words an operator can act on. */
  readonly reason: string;
  /** Rule-specific numbers behind the verdict (e.g. l2Norm in model units, weight in examples, krumScore). */
  readonly scores: Record<string, number>;
}

/** The aggregate of one round, before the server optimizer. */
export interface AggregateResult {
  /** Aggregated update in model units, length d (the weighted mean for FedAvg). */
  readonly delta: Float32Array;
  /** Total weight (examples) of the contributions that went into `delta`. */
  readonly totalWeight: number;
  /** Contributions that went into `delta`. */
  readonly count: number;
  /** One verdict per contribution the accumulator was given, in arrival order. */
  readonly verdicts: ContributionVerdict[];
}

/**
 * Collects one round's contributions and produces its aggregate. `add` validates and throws CohortError without
 * changing any state when a contribution is bad, so the workflow can reject that client and carry on.
 * `finish` may be called once; `add` after `finish` and `finish` with nothing added throw FAILED_PRECONDITION.
 */
export interface AggregationAccumulator {
  add(contribution: Contribution): void;
  /** Contributions accepted so far. */
  readonly count: number;
  /** Sum of their weights, in examples. */
  readonly totalWeight: number;
  finish(): AggregateResult;
}
