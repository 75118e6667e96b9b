/**
 * The federation's privacy spending: what one round of its DP mechanism costs, and the ε after the next round,
 * recomputed from the persisted ledger (never from memory), so a restarted coordinator cannot reset spending.
 *
 * - central: the Poisson-subsampled Gaussian (exact RDP), charged at the total z even with adaptive clipping.
 * - distributed: the Skellam mechanism at integer orders (RDP at a fractional order is bounded by the next integer
 *   order's: Rényi divergence does not decrease with the order), subsampled with the general Poisson bound. Each
 *   ledger entry holds the noise the survivors actually added; before a round the planned cost is an upper bound
 *   (see `plannedDistributedRound`).
 * - local: each client's ε over the rounds it joined (analytic Gaussian, exact); the federation's ε is the largest.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { perLayerSensitivity } from '../../../shared/src/core/dp/clip.js';
import { localEpsilon, localNoiseMultiplierFor } from '../../../shared/src/core/dp/local.js';
import { DEFAULT_RDP_ORDERS, epsilonFromRdp, noiseMultiplierFor, rdpSubsampledGaussian, smallestNoiseMultiplier } from '../../../shared/src/core/dp/rdp.js';
import { skellamRoundRdp } from '../../../shared/src/core/dp/skellam.js';
import type { FederationConfig } from '../federation/config.js';
import type { PrivacyLedgerRecord } from '../store/types.js';

/**
 * Smallest L2 bound, in integer units, distributed mode accepts for a client's scaled and rounded update. The
 * Skellam mechanism's excess over the Gaussian falls as 1/Δ2², so planning with this floor bounds every round's
 * real cost from above (the scale actually chosen is far larger: it fills the modulus).
 */
export const MIN_DISTRIBUTED_L2_BOUND = 2 ** 12;

/** The DP mechanism of a federation's rounds, resolved from its config. */
export interface DpRoundPlan {
  mechanism: 'central' | 'distributed' | 'local';
  /** Sensitivity C: the clip norm, or sqrt(Σ C_l²) with per-layer clipping; with adaptive clipping, where C starts. */
  clipNorm: number;
  /** z: noise standard deviation over C, charged by the accountant (the whole round, count included). */
  noiseMultiplier: number;
  /** Poisson sampling rate the accountant uses; 1 for a fixed cohort (no amplification claimed). */
  samplingRate: number;
  /** Whether the cohort is Poisson-sampled, so the accountant's amplification by sampling holds. */
  amplified: boolean;
  targetEpsilon: number;
  delta: number;
  adaptiveClipping: { targetQuantile: number; learningRate: number; countNoise: number | null } | null;
  /** Distributed mode: allowed chance of a modular wrap-around anywhere in a round's sum. */
  wrapProbability: number;
}

/** One round's mechanism as the accountant sees it. */
export type AccountedRound =
  | { mechanism: 'central'; samplingRate: number; noiseMultiplier: number }
  | { mechanism: 'distributed'; samplingRate: number; l2Bound: number; l1Bound: number; centralVariance: number };

/** Plans by config object: calibrating z is a bisection (~0.1 s), and the scheduler and the round both ask. */
const plans = new WeakMap<FederationConfig, DpRoundPlan | null>();

/** The round plan of a DP federation, or null when DP is off. The noise multiplier is calibrated when not given. */
export function dpPlanOf(config: FederationConfig): DpRoundPlan | null {
  if (!plans.has(config)) plans.set(config, resolveDpPlan(config));
  return plans.get(config)!;
}

function resolveDpPlan(config: FederationConfig): DpRoundPlan | null {
  const mechanism = config.dp.mode;
  if (mechanism === 'off') return null;
  const privacy = config.privacy;
  if (privacy === null) throw new CohortError('CONFIG_INVALID', `dp.mode ${mechanism} needs a privacy budget (privacy.targetEpsilon, privacy.targetDelta)`);
  const amplified = config.selection.mode === 'poisson' && mechanism !== 'local';
  const samplingRate = amplified ? config.selection.samplingRate : 1;
  const { targetEpsilon, targetDelta: delta } = privacy;
  let noiseMultiplier = config.dp.noiseMultiplier;
  if (noiseMultiplier === undefined) {
    if (mechanism === 'central') noiseMultiplier = noiseMultiplierFor({ targetEpsilon, samplingRate, steps: config.rounds, delta });
    else if (mechanism === 'local') noiseMultiplier = localNoiseMultiplierFor(targetEpsilon, delta, config.rounds);
    else {
      const rounds = config.rounds;
      noiseMultiplier = smallestNoiseMultiplier(
        (z) => epsilonOfRepeated(plannedDistributedRound(samplingRate, z), rounds, delta),
        targetEpsilon,
        `epsilon ${targetEpsilon} at delta ${delta} in ${rounds} distributed rounds of rate ${samplingRate}`,
      );
    }
  }
  // Per-layer clipping bounds the whole update by sqrt(Σ C_l²): that is the sensitivity the noise is scaled to.
  const clipNorm = config.plan.perLayerClipNorms.length > 0 ? perLayerSensitivity(config.plan.perLayerClipNorms) : config.plan.clipNorm;
  const adaptive = config.dp.adaptiveClipping;
  return {
    mechanism,
    clipNorm,
    noiseMultiplier,
    samplingRate,
    amplified,
    targetEpsilon,
    delta,
    adaptiveClipping: adaptive === null ? null : { targetQuantile: adaptive.targetQuantile, learningRate: adaptive.learningRate, countNoise: adaptive.countNoise ?? null },
    wrapProbability: config.dp.wrapProbability,
  };
}

/**
 * A distributed round as planned before it runs: noise (z·Δ2)² at the smallest Δ2 allowed and the worst L1 bound
 * Δ1 = Δ2². The round's real entry has Δ2 >= that floor and at least that much noise from its survivors, so its RDP
 * is never above this one.
 */
export function plannedDistributedRound(samplingRate: number, noiseMultiplier: number): AccountedRound {
  const l2Bound = MIN_DISTRIBUTED_L2_BOUND;
  return { mechanism: 'distributed', samplingRate, l2Bound, l1Bound: l2Bound * l2Bound, centralVariance: (noiseMultiplier * l2Bound) ** 2 };
}

/** Default-order curves by round parameters: a ledger repeats the same few rounds, recomposed before every round. */
const curves = new Map<string, Float64Array>();
const MAX_CACHED_CURVES = 1024;

/** RDP of one round at each order. */
export function roundRdp(round: AccountedRound, orders: readonly number[] = DEFAULT_RDP_ORDERS): Float64Array {
  if (orders !== DEFAULT_RDP_ORDERS) return computeRoundRdp(round, orders);
  const key = JSON.stringify(round);
  let curve = curves.get(key);
  if (curve === undefined) {
    curve = computeRoundRdp(round, orders);
    if (curves.size >= MAX_CACHED_CURVES) curves.clear();
    curves.set(key, curve);
  }
  return Float64Array.from(curve);
}

function computeRoundRdp(round: AccountedRound, orders: readonly number[]): Float64Array {
  if (round.mechanism === 'central') return Float64Array.from(orders, (a) => rdpSubsampledGaussian(round.samplingRate, round.noiseMultiplier, a));
  // The Skellam bound holds at integer orders; a fractional order takes the next integer's value (an upper bound).
  const integers = [...new Set(orders.map((a) => Math.max(2, Math.ceil(a))))].sort((a, b) => a - b);
  const values = skellamRoundRdp(integers, round);
  const byOrder = new Map(integers.map((a, i) => [a, values[i]!]));
  return Float64Array.from(orders, (a) => byOrder.get(Math.max(2, Math.ceil(a)))!);
}

/** ε after `times` identical rounds: RDP composes by addition. */
function epsilonOfRepeated(round: AccountedRound, times: number, delta: number): number {
  const total = roundRdp(round, DEFAULT_RDP_ORDERS).map((v) => v * times);
  return Math.max(0, epsilonFromRdp(DEFAULT_RDP_ORDERS, total, delta).epsilon);
}

/** How the accountant reads a ledger entry (its own parameters, never the running total). */
export function accountedRoundOf(entry: PrivacyLedgerRecord): AccountedRound {
  if (entry.mechanism === 'distributed') {
    const { l2Bound, l1Bound, centralVariance } = entry.params;
    if (!(l2Bound! > 0 && l1Bound! > 0 && centralVariance! > 0)) {
      throw new CohortError('INTERNAL', `privacy ledger entry of round ${entry.roundNumber} lacks its Skellam parameters; spending cannot be recomputed`);
    }
    return { mechanism: 'distributed', samplingRate: entry.samplingRate, l2Bound: l2Bound!, l1Bound: l1Bound!, centralVariance: centralVariance! };
  }
  return { mechanism: 'central', samplingRate: entry.samplingRate, noiseMultiplier: entry.noiseMultiplier };
}

/** The round `plan` is about to run, as the accountant charges it beforehand. */
export function plannedRound(plan: DpRoundPlan): AccountedRound {
  return plan.mechanism === 'distributed'
    ? plannedDistributedRound(plan.samplingRate, plan.noiseMultiplier)
    : { mechanism: 'central', samplingRate: plan.samplingRate, noiseMultiplier: plan.noiseMultiplier };
}

/**
 * RDP (by default order) and ε after the ledger's rounds plus `next` (the round about to run or being committed).
 * Local mode: the largest per-client ε, with `clientsOfNext` joining one more round.
 */
export function spendingAfter(
  ledger: readonly PrivacyLedgerRecord[],
  plan: DpRoundPlan,
  next: AccountedRound | null,
  clientsOfNext: readonly string[] = [],
): { rdp: Record<string, number>; epsilon: number; order: number } {
  if (plan.mechanism === 'local') {
    const joins = joinsByClient(ledger);
    for (const id of clientsOfNext) joins.set(id, (joins.get(id) ?? 0) + 1);
    const most = Math.max(0, ...joins.values());
    return { rdp: {}, epsilon: localEpsilon(plan.noiseMultiplier, most, plan.delta), order: Number.NaN };
  }
  const rounds = ledger.map(accountedRoundOf);
  if (next !== null) rounds.push(next);
  const total = new Float64Array(DEFAULT_RDP_ORDERS.length);
  for (const r of rounds) {
    const rdp = roundRdp(r);
    for (let i = 0; i < total.length; i++) total[i]! += rdp[i]!;
  }
  const { epsilon, order } = epsilonFromRdp(DEFAULT_RDP_ORDERS, total, plan.delta);
  const byOrder: Record<string, number> = {};
  DEFAULT_RDP_ORDERS.forEach((a, i) => (byOrder[String(a)] = total[i]!));
  return { rdp: byOrder, epsilon: Math.max(0, epsilon), order };
}

/** Local mode: how many committed rounds each client's noised update went into. */
export function joinsByClient(ledger: readonly PrivacyLedgerRecord[]): Map<string, number> {
  const joins = new Map<string, number>();
  for (const entry of ledger) for (const id of entry.contributors) joins.set(id, (joins.get(id) ?? 0) + 1);
  return joins;
}

/** Local mode: clients whose next round would take their own ε over the budget (they are no longer selected). */
export function clientsAtBudget(ledger: readonly PrivacyLedgerRecord[], plan: DpRoundPlan): Set<string> {
  const out = new Set<string>();
  for (const [id, joined] of joinsByClient(ledger)) {
    if (localEpsilon(plan.noiseMultiplier, joined + 1, plan.delta) > plan.targetEpsilon) out.add(id);
  }
  return out;
}

/** Adaptive clipping: the clip norm of the next round, from the last entry that set one (else the configured start). */
export function currentClipNorm(ledger: readonly PrivacyLedgerRecord[], plan: DpRoundPlan): number {
  for (let i = ledger.length - 1; i >= 0; i--) {
    const next = ledger[i]!.params['nextClipNorm'];
    if (next !== undefined && next > 0) return next;
  }
  return plan.clipNorm;
}

/**
 * Why the next round must not start, or null when it may. Central and distributed: the ε after one more round as
 * planned would pass the budget. Local: fewer than `minClients` of the active clients could join once more without
 * their own ε passing it.
 */
export function budgetExhaustion(ledger: readonly PrivacyLedgerRecord[], plan: DpRoundPlan, roundsCommitted: number, activeClients: readonly string[], minClients: number): string | null {
  const round = roundsCommitted + 1;
  if (plan.mechanism === 'local') {
    const atBudget = clientsAtBudget(ledger, plan);
    const left = activeClients.filter((id) => !atBudget.has(id)).length;
    if (atBudget.size === 0 || left >= minClients) return null;
    const spent = spendingAfter(ledger, plan, null).epsilon;
    return `round ${round} needs ${minClients} clients but only ${left} active clients can join again without their own epsilon passing the budget ${plan.targetEpsilon} (delta ${plan.delta}); ${atBudget.size} have spent it, the most ${spent.toFixed(4)} in ${roundsCommitted} rounds`;
  }
  const next = spendingAfter(ledger, plan, plannedRound(plan));
  if (next.epsilon <= plan.targetEpsilon) return null;
  const spent = spendingAfter(ledger, plan, null).epsilon;
  return `round ${round} would bring epsilon to ${next.epsilon.toFixed(4)}, over the budget ${plan.targetEpsilon} (delta ${plan.delta}); spent ${spent.toFixed(4)} in ${roundsCommitted} rounds`;
}
