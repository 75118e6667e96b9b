/**
 * Per-client reputation and suspicion from round verdicts, and when a client is quarantined.
 *
 * Each round a client contributes to, its outcome score is 1 (accepted), ½ (down-weighted) or 0 (rejected); in
 * bucketed secure aggregation a bucket's verdict is every member's outcome, since the coordinator cannot see inside
 * the sum.
 *
 * - **Reputation** is an exponential moving average of those scores, r ← (1 − η)·r + η·s, starting at 1: a decaying
 *   summary for operators.
 * - **Suspicion** decides quarantine. It is a one-sided test of "this client fares no worse than the round's average",
 *   accumulated over every round the client was scored in: with badness b = 1 − s and the round's mean badness p
 *   (over all its scored clients), excess E = Σ(b − p) and null variance V = Σ p(1 − p), so z = E / √(V + V₀).
 *   V₀ = ½ is a prior (two rounds at p = ½) that keeps a rare lone rejection, where p is tiny, from looking
 *   significant. A client at least `minRounds` rounds scored with z ≥ `quarantineZ` is quarantined (never selected)
 *   until an operator releases it, which clears both.
 *
 * Why a test and not a threshold on r: under bucketed aggregation an honest client shares buckets with attackers
 * often (with 20% attackers and buckets of 5, two in three buckets hold one), so its r sits near ½ and wanders below
 * any useful threshold, while the test compares it with the round's rejection rate, which the attackers raise for
 * everyone. Re-drawn buckets make this group testing: an attacker lands in rejected buckets more often than the rate,
 * an honest client less often, and the excess grows linearly in rounds while its noise grows as √rounds.
 */
import { CohortError } from '../errors.js';
import type { ContributionVerdict, VerdictKind } from './types.js';

export interface ReputationPolicy {
  /** η in (0, 1]: weight of the newest round. */
  readonly learningRate: number;
  /** Quarantine when the suspicion z-score reaches this (> 0). */
  readonly quarantineZ: number;
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
  /** Mean badness (1 − score) over every client scored in the round: the rate the client is compared with. */
  readonly roundBadness: number;
}

/** A client's accumulated suspicion: Σ(b − p) and Σ p(1 − p) over its scored rounds. */
export interface Suspicion {
  readonly excess: number;
  readonly variance: number;
}

export const NO_SUSPICION: Suspicion = { excess: 0, variance: 0 };

/** V₀: prior variance in the suspicion z-score (see the module comment). */
export const SUSPICION_PRIOR_VARIANCE = 0.5;

/** Each client's outcome from a round's verdicts (a client in two contributions is an error upstream; first wins). */
export function clientOutcomes(verdicts: readonly ContributionVerdict[]): ClientOutcome[] {
  const seen = new Set<string>();
  const judged: { clientId: string; verdict: ContributionVerdict }[] = [];
  for (const v of verdicts) {
    for (const clientId of v.clientIds) {
      if (seen.has(clientId)) continue;
      seen.add(clientId);
      judged.push({ clientId, verdict: v });
    }
  }
  let badness = 0;
  for (const { verdict } of judged) badness += 1 - VERDICT_SCORES[verdict.verdict];
  const roundBadness = judged.length === 0 ? 0 : badness / judged.length;
  return judged.map(({ clientId, verdict: v }) => ({ clientId, score: VERDICT_SCORES[v.verdict], verdict: v.verdict, contributionId: v.contributionId, reason: v.reason, roundBadness }));
}

export function validateReputationPolicy(policy: ReputationPolicy): void {
  const bad = (field: string, message: string): never => {
    throw new CohortError('CONFIG_INVALID', `reputation.${field} ${message}`, { field: `reputation.${field}` });
  };
  if (!(policy.learningRate > 0 && policy.learningRate <= 1)) bad('learningRate', `must be in (0, 1], got ${policy.learningRate}`);
  if (!(policy.quarantineZ > 0 && Number.isFinite(policy.quarantineZ))) bad('quarantineZ', `must be a positive number, got ${policy.quarantineZ}`);
  if (!(Number.isInteger(policy.minRounds) && policy.minRounds >= 1)) bad('minRounds', `must be an integer >= 1, got ${policy.minRounds}`);
}

/** r ← (1 − η)·r + η·s, kept in [0, 1]. */
export function nextReputation(reputation: number, score: number, policy: ReputationPolicy): number {
  if (!(score >= 0 && score <= 1)) throw new CohortError('INVALID_ARGUMENT', `outcome score must be in [0, 1], got ${score}`);
  return Math.min(1, Math.max(0, (1 - policy.learningRate) * reputation + policy.learningRate * score));
}

/** Folds one round's outcome into the suspicion: E += (1 − s) − p, V += p(1 − p). */
export function nextSuspicion(suspicion: Suspicion, outcome: Pick<ClientOutcome, 'score' | 'roundBadness'>): Suspicion {
  const p = outcome.roundBadness;
  if (!(p >= 0 && p <= 1)) throw new CohortError('INVALID_ARGUMENT', `round badness must be in [0, 1], got ${p}`);
  if (!(outcome.score >= 0 && outcome.score <= 1)) throw new CohortError('INVALID_ARGUMENT', `outcome score must be in [0, 1], got ${outcome.score}`);
  return { excess: suspicion.excess + (1 - outcome.score) - p, variance: suspicion.variance + p * (1 - p) };
}

/** z = E / √(V + V₀): how many standard deviations worse than its rounds' averages the client has fared. */
export function suspicionZ(suspicion: Suspicion): number {
  return suspicion.excess / Math.sqrt(suspicion.variance + SUSPICION_PRIOR_VARIANCE);
}

/** Whether a client with this suspicion after this many scored rounds is quarantined. */
export function shouldQuarantine(suspicion: Suspicion, scoredRounds: number, policy: ReputationPolicy): boolean {
  return scoredRounds >= policy.minRounds && suspicionZ(suspicion) >= policy.quarantineZ;
}
