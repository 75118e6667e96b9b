/**
 * Per-client reputation from round verdicts, and when it quarantines. Each round a client contributes to, its outcome
 * score is 1 (accepted), ½ (down-weighted) or 0 (rejected); a bucket's verdict in bucketed secure aggregation is every
 * member's outcome, since the coordinator cannot see inside the sum. Reputation is an exponential moving average of
 * those scores, r ← (1 − η)·r + η·s, starting at 1, so old rounds decay geometrically. Re-drawn buckets make this a
 * group test: an honest client lands with attackers only some of the time and its average recovers; a client that
 * keeps landing in rejected buckets sinks. Below `quarantineBelow`, after at least `minRounds` scored rounds, the
 * client is quarantined (never selected) until an operator releases it.
 */
import { CohortError } from '../errors.js';
import type { ContributionVerdict, VerdictKind } from './types.js';

export interface ReputationPolicy {
  /** η in (0, 1]: weight of the newest round. */
  readonly learningRate: number;
  /** Quarantine when reputation falls below this, in [0, 1). */
  readonly quarantineBelow: number;
  /** Scored rounds a client needs before it can be quarantined (integer >= 1). */
  readonly minRounds: number;
}

export const VERDICT_SCORES: Readonly<Record<VerdictKind, number>> = { accepted: 1, 'down-weighted': 0.5, rejected: 0 };

/** One client's outcome in a round: its score and the verdict that gave it. */
export interface ClientOutcome {
  readonly clientId: string;
  readonly score: number;
  readonly verdict: VerdictKind;
  /** The contribution the client was judged in (itself, or its bucket). */
  readonly contributionId: string;
  readonly reason: string;
}

/** Each client's outcome from a round's verdicts (a client in two contributions is an error upstream; first wins). */
export function clientOutcomes(verdicts: readonly ContributionVerdict[]): ClientOutcome[] {
  const seen = new Set<string>();
  const out: ClientOutcome[] = [];
  for (const v of verdicts) {
    for (const clientId of v.clientIds) {
      if (seen.has(clientId)) continue;
      seen.add(clientId);
      out.push({ clientId, score: VERDICT_SCORES[v.verdict], verdict: v.verdict, contributionId: v.contributionId, reason: v.reason });
    }
  }
  return out;
}

export function validateReputationPolicy(policy: ReputationPolicy): void {
  const bad = (field: string, message: string): never => {
    throw new CohortError('CONFIG_INVALID', `reputation.${field} ${message}`, { field: `reputation.${field}` });
  };
  if (!(policy.learningRate > 0 && policy.learningRate <= 1)) bad('learningRate', `must be in (0, 1], got ${policy.learningRate}`);
  if (!(policy.quarantineBelow >= 0 && policy.quarantineBelow < 1)) bad('quarantineBelow', `must be in [0, 1), got ${policy.quarantineBelow}`);
  if (!(Number.isInteger(policy.minRounds) && policy.minRounds >= 1)) bad('minRounds', `must be an integer >= 1, got ${policy.minRounds}`);
}

/** r ← (1 − η)·r + η·s, kept in [0, 1]. */
export function nextReputation(reputation: number, score: number, policy: ReputationPolicy): number {
  if (!(score >= 0 && score <= 1)) throw new CohortError('INVALID_ARGUMENT', `outcome score must be in [0, 1], got ${score}`);
  return Math.min(1, Math.max(0, (1 - policy.learningRate) * reputation + policy.learningRate * score));
}

/** Whether a client with this reputation after this many scored rounds is quarantined. */
export function shouldQuarantine(reputation: number, scoredRounds: number, policy: ReputationPolicy): boolean {
  return scoredRounds >= policy.minRounds && reputation < policy.quarantineBelow;
}
