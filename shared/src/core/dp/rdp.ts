/**
 * Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (Mironov, Talwar, Zhang 2019), the one DP-FedAvg
 * runs: each round samples every client independently with probability q and adds N(0, z²C²) to the clipped sum.
 *
 * - Integer orders α: the exact binomial sum A_α = Σ_k C(α,k) q^k (1−q)^(α−k) exp((k²−k)/(2z²)), in log space.
 * - Fractional orders: the exact two-sided series of Mironov et al. §3.3 (as in Opacus and TF Privacy), with signed
 *   binomial coefficients summed in log space. Where cancellation would make a partial sum negative the series is
 *   not trusted and the RDP at ⌈α⌉ is used instead: Rényi divergence does not decrease with the order, so that is an
 *   upper bound, never a lower value.
 * - RDP composes by addition over rounds, heterogeneous ones included (q or z changing).
 * - Conversion to (ε, δ): ε = min_α [ RDP(α) + log1p(−1/α) − log(δ·α)/(α−1) ] (Balle et al. 2020; Canonne, Kamath,
 *   Steinke 2020), the conversion Opacus and Google's dp_accounting use.
 */
import { CohortError } from '../errors.js';
import { logAdd, logErfc, logSub } from './special.js';

/** 1.1, 1.2, …, 10.9, then 11..63, then 128, 256, 512, 1024. */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => Math.round((1.1 + i * 0.1) * 10) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/** The terms of the fractional series stop once both fall below e^-30 relative to nothing: as in Opacus. */
const SERIES_CUTOFF = -30;
const MAX_SERIES_TERMS = 100_000;

function requireRate(q: number): void {
  if (!(Number.isFinite(q) && q >= 0 && q <= 1)) throw new CohortError('INVALID_ARGUMENT', `sampling rate q must be in [0, 1], got ${q}`);
}

function requireNoise(z: number): void {
  if (!(Number.isFinite(z) && z >= 0)) throw new CohortError('INVALID_ARGUMENT', `noise multiplier z must be a finite number >= 0, got ${z}`);
}

function requireOrder(alpha: number): void {
  if (!(alpha > 1)) throw new CohortError('INVALID_ARGUMENT', `Rényi order must be > 1, got ${alpha}`);
}

/** ln A_α for integer α (exact binomial expansion). */
function logAInteger(q: number, z: number, alpha: number): number {
  let logA = Number.NEGATIVE_INFINITY;
  let logBinom = 0;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoSigma2 = 2 * z * z;
  for (let k = 0; k <= alpha; k++) {
    if (k > 0) logBinom += Math.log(alpha - k + 1) - Math.log(k);
    const term = logBinom + k * logQ + (alpha - k) * log1mQ + (k * k - k) / twoSigma2;
    logA = logAdd(logA, term);
  }
  return logA;
}

/** ln A_α for fractional α by the signed series; null when cancellation makes it unreliable. */
function logAFractional(q: number, z: number, alpha: number): number | null {
  let logA0 = Number.NEGATIVE_INFINITY;
  let logA1 = Number.NEGATIVE_INFINITY;
  const sigma2 = z * z;
  const z0 = sigma2 * Math.log(1 / q - 1) + 0.5;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const sqrt2Sigma = Math.SQRT2 * z;
  let logCoef = 0;
  let sign = 1;
  for (let i = 0; i < MAX_SERIES_TERMS; i++) {
    if (i > 0) {
      const factor = (alpha - (i - 1)) / i;
      if (factor === 0) return logAdd(logA0, logA1);
      logCoef += Math.log(Math.abs(factor));
      if (factor < 0) sign = -sign;
    }
    const j = alpha - i;
    const logT0 = logCoef + i * logQ + j * log1mQ;
    const logT1 = logCoef + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / (2 * sigma2) + logE0;
    const logS1 = logT1 + (j * j - j) / (2 * sigma2) + logE1;
    if (sign > 0) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      const next0 = logSub(logA0, logS0);
      const next1 = logSub(logA1, logS1);
      if (next0 === null || next1 === null) return null;
      logA0 = next0;
      logA1 = next1;
    }
    if (Math.max(logS0, logS1) < SERIES_CUTOFF) return logAdd(logA0, logA1);
  }
  return null;
}

/**
 * RDP at order α of one step of the Poisson-subsampled Gaussian with sampling rate q and noise multiplier z
 * (noise standard deviation z·C for sensitivity C). 0 for q = 0, +∞ for z = 0, α/(2z²) for q = 1.
 */
export function rdpSubsampledGaussian(q: number, z: number, alpha: number): number {
  requireRate(q);
  requireNoise(z);
  requireOrder(alpha);
  if (q === 0) return 0;
  if (z === 0) return Number.POSITIVE_INFINITY;
  if (q === 1) return alpha / (2 * z * z);
  if (!Number.isFinite(alpha)) return Number.POSITIVE_INFINITY;
  if (Number.isInteger(alpha)) return logAInteger(q, z, alpha) / (alpha - 1);
  const logA = logAFractional(q, z, alpha);
  // Unreliable series: the next integer order bounds it from above.
  if (logA === null || !Number.isFinite(logA)) return logAInteger(q, z, Math.ceil(alpha)) / (Math.ceil(alpha) - 1);
  return logA / (alpha - 1);
}

/** One round (or a run of identical rounds) as the accountant sees it. */
export interface GaussianSteps {
  /** Poisson sampling rate in [0, 1]. */
  samplingRate: number;
  /** Noise standard deviation over the clip norm. */
  noiseMultiplier: number;
  /** How many such steps. */
  steps: number;
}

/** RDP of a composition of possibly different steps, at each order (addition over steps). */
export function composeRdp(steps: readonly GaussianSteps[], orders: readonly number[] = DEFAULT_RDP_ORDERS): Float64Array {
  requireOrders(orders);
  const out = new Float64Array(orders.length);
  for (const s of steps) {
    if (!(Number.isInteger(s.steps) && s.steps >= 0)) throw new CohortError('INVALID_ARGUMENT', `steps must be a non-negative integer, got ${s.steps}`);
    if (s.steps === 0) continue;
    for (let i = 0; i < orders.length; i++) out[i]! += s.steps * rdpSubsampledGaussian(s.samplingRate, s.noiseMultiplier, orders[i]!);
  }
  return out;
}

/** The tightest (ε, δ) guarantee an RDP curve gives: ε and the order that attains it. */
export function epsilonFromRdp(orders: readonly number[], rdp: ArrayLike<number>, delta: number): { epsilon: number; order: number } {
  requireOrders(orders);
  if (rdp.length !== orders.length) throw new CohortError('INVALID_ARGUMENT', `${rdp.length} RDP values for ${orders.length} orders`);
  if (!(delta > 0 && delta < 1)) throw new CohortError('INVALID_ARGUMENT', `delta must be in (0, 1), got ${delta}`);
  let best = Number.POSITIVE_INFINITY;
  let order = Number.NaN;
  const logDelta = Math.log(delta);
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i]!;
    const eps = rdp[i]! + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
    if (eps < best) {
      best = eps;
      order = a;
    }
  }
  return { epsilon: best, order };
}

/** ε after `steps` rounds of the Poisson-subsampled Gaussian, with the order that attains it. */
export function epsilonOf(input: GaussianSteps & { delta: number; orders?: readonly number[] }): { epsilon: number; order: number } {
  const orders = input.orders ?? DEFAULT_RDP_ORDERS;
  return epsilonFromRdp(orders, composeRdp([input], orders), input.delta);
}

/**
 * The smallest noise multiplier z whose `steps` rounds at rate q cost at most `targetEpsilon` at δ, by bisection
 * to a relative precision of 1e-10 (ε falls as z grows). Throws when no z up to 1e6 meets it.
 */
export function noiseMultiplierFor(input: { targetEpsilon: number; samplingRate: number; steps: number; delta: number; orders?: readonly number[] }): number {
  const { targetEpsilon, samplingRate, steps, delta } = input;
  if (!(Number.isFinite(targetEpsilon) && targetEpsilon > 0)) throw new CohortError('INVALID_ARGUMENT', `target epsilon must be > 0, got ${targetEpsilon}`);
  requireRate(samplingRate);
  const eps = (z: number): number => epsilonOf({ samplingRate, noiseMultiplier: z, steps, delta, orders: input.orders }).epsilon;
  return smallestNoiseMultiplier(eps, targetEpsilon, `epsilon ${targetEpsilon} at delta ${delta} in ${steps} steps of rate ${samplingRate}`);
}

/**
 * The smallest z with epsilonAt(z) <= targetEpsilon, by bisection to 1e-10 relative; epsilonAt must fall as z
 * grows. `what` completes "no noise multiplier up to 1e6 reaches ...".
 */
export function smallestNoiseMultiplier(epsilonAt: (z: number) => number, targetEpsilon: number, what: string): number {
  let hi = 1;
  while (epsilonAt(hi) > targetEpsilon) {
    hi *= 2;
    if (hi > 1e6) throw new CohortError('INVALID_ARGUMENT', `no noise multiplier up to 1e6 reaches ${what}`);
  }
  let lo = hi / 2;
  if (epsilonAt(lo) <= targetEpsilon) lo = 0;
  for (let i = 0; i < 200 && hi - lo > 1e-10 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (epsilonAt(mid) > targetEpsilon) lo = mid;
    else hi = mid;
  }
  return hi;
}

function requireOrders(orders: readonly number[]): void {
  if (orders.length === 0) throw new CohortError('INVALID_ARGUMENT', 'give at least one Rényi order');
  for (const a of orders) requireOrder(a);
}
