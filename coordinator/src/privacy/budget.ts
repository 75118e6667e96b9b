/**
 * The federation's privacy spending: what one round of its DP mechanism costs, and the ε after the next round,
 * recomputed from the persisted ledger (never from memory), so a restarted coordinator cannot reset spending.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { perLayerSensitivity } from '../../../shared/src/core/dp/clip.js';
import { DEFAULT_RDP_ORDERS, composeRdp, epsilonFromRdp, noiseMultiplierFor } from '../../../shared/src/core/dp/rdp.js';
import type { FederationConfig } from '../federation/config.js';
import type { PrivacyLedgerRecord } from '../store/types.js';

/** The DP mechanism of a federation's rounds, resolved from its config. */
export interface DpRoundPlan {
  mechanism: 'central';
  clipNorm: number;
  noiseMultiplier: number;
  /** Poisson sampling rate the accountant uses; 1 for a fixed cohort (no amplification claimed). */
  samplingRate: number;
  /** Whether the cohort is Poisson-sampled, so the accountant's amplification by sampling holds. */
  amplified: boolean;
  targetEpsilon: number;
  delta: number;
}

/** Plans by config object: calibrating z is a bisection (~0.1 s), and the scheduler and the round both ask. */
const plans = new WeakMap<FederationConfig, DpRoundPlan | null>();

/** The round plan of a DP federation, or null when DP is off. The noise multiplier is calibrated when not given. */
export function dpPlanOf(config: FederationConfig): DpRoundPlan | null {
  if (!plans.has(config)) plans.set(config, resolveDpPlan(config));
  return plans.get(config)!;
}

function resolveDpPlan(config: FederationConfig): DpRoundPlan | null {
  if (config.dp.mode === 'off') return null;
  const privacy = config.privacy;
  if (privacy === null) throw new CohortError('CONFIG_INVALID', 'dp.mode central needs a privacy budget (privacy.targetEpsilon, privacy.targetDelta)');
  const amplified = config.selection.mode === 'poisson';
  const samplingRate = amplified ? config.selection.samplingRate : 1;
  const noiseMultiplier =
    config.dp.noiseMultiplier ?? noiseMultiplierFor({ targetEpsilon: privacy.targetEpsilon, samplingRate, steps: config.rounds, delta: privacy.targetDelta });
  // Per-layer clipping bounds the whole update by sqrt(Σ C_l²): that is the sensitivity the noise is scaled to.
  const clipNorm = config.plan.perLayerClipNorms.length > 0 ? perLayerSensitivity(config.plan.perLayerClipNorms) : config.plan.clipNorm;
  return { mechanism: 'central', clipNorm, noiseMultiplier, samplingRate, amplified, targetEpsilon: privacy.targetEpsilon, delta: privacy.targetDelta };
}

/** RDP (by default order) and ε after the ledger's rounds plus `extraRounds` more of `plan`. */
export function spendingAfter(ledger: readonly PrivacyLedgerRecord[], plan: DpRoundPlan, extraRounds: number): { rdp: Record<string, number>; epsilon: number; order: number } {
  const steps = ledger.map((e) => ({ samplingRate: e.samplingRate, noiseMultiplier: e.noiseMultiplier, steps: 1 }));
  if (extraRounds > 0) steps.push({ samplingRate: plan.samplingRate, noiseMultiplier: plan.noiseMultiplier, steps: extraRounds });
  const rdp = composeRdp(steps, DEFAULT_RDP_ORDERS);
  const { epsilon, order } = epsilonFromRdp(DEFAULT_RDP_ORDERS, rdp, plan.delta);
  const byOrder: Record<string, number> = {};
  DEFAULT_RDP_ORDERS.forEach((a, i) => (byOrder[String(a)] = rdp[i]!));
  return { rdp: byOrder, epsilon: Math.max(0, epsilon), order };
}
