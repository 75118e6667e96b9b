/**
 * Distributed differential privacy for secure aggregation with the Skellam mechanism (Agarwal, Kairouz, Liu, "The
 * Skellam Mechanism for Differentially Private Federated Learning", NeurIPS 2021). Each client scales its clipped
 * update by s, rounds it to integers by conditional randomized rounding (Kairouz, Liu, Steinke, "The Distributed
 * Discrete Gaussian Mechanism for Federated Learning with Secure Aggregation", ICML 2021, §4), adds symmetric Skellam
 * noise and submits the result mod 2^b; the secure sum then carries the sum of all clients' noise, which is again
 * symmetric Skellam.
 *
 * - Sk(μ) here is Poisson(μ/2) − Poisson(μ/2): integer-valued, variance μ, and Sk(μ1) + Sk(μ2) = Sk(μ1 + μ2).
 * - Poisson sampling is exact: inversion below mean 10, above it Hörmann's PTRS (W. Hörmann, "The transformed rejection
 *   method for generating Poisson random variables", Insurance: Mathematics and Economics 12, 1993), whose acceptance
 *   test uses the log pmf in the saddle-point form of C. Loader ("Fast and accurate computation of binomial
 *   probabilities", 2000) so it stays accurate to ~1e-12 even at means near 2^40.
 * - RDP of the Skellam mechanism: Agarwal et al. Theorem 3.5 (multi-dimensional, integer orders), in the scaled
 *   integer domain. Amplification by Poisson subsampling: the general upper bound of Zhu & Wang, "Poisson Subsampled
 *   Rényi Differential Privacy", ICML 2019 (Theorem 5, general upper bound), as Google's distributed_dp
 *   accounting_utils `_compute_rdp_subsampled(upper_bound=True)` computes it.
 * - Modular wrap-around: see `planSkellam`.
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/index.js';
import { logAdd } from './special.js';

// ---------------------------------------------------------------------------------------------------------------
// Log factorial and the Poisson pmf.

/** Below this, ln k! comes from a table; from here on Stirling's series is exact to double precision. */
const STIRLING_FROM = 30;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln k! for k < 30: k! as a double is exact up to 22! and then rounded once per factor, so the log is within an ulp. */
const LOG_FACTORIAL_TABLE: Float64Array = (() => {
  const table = new Float64Array(STIRLING_FROM);
  let factorial = 1;
  for (let k = 0; k < STIRLING_FROM; k++) {
    if (k > 0) factorial *= k;
    table[k] = Math.log(factorial);
  }
  return table;
})();

/**
 * δ(k) = ln k! − (k ln k − k + ½ ln(2πk)), the Stirling remainder, for k ≥ 1. From k = 30 on, the series
 * 1/(12k) − 1/(360k³) + 1/(1260k⁵) − 1/(1680k⁷) is truncated after a term below 1/(1188·30⁹) ≈ 4e-17.
 */
function stirlingRemainder(k: number): number {
  if (k < STIRLING_FROM) return LOG_FACTORIAL_TABLE[k]! - (k * Math.log(k) - k + HALF_LOG_2PI + 0.5 * Math.log(k));
  const inv = 1 / k;
  const inv2 = inv * inv;
  return inv * (1 / 12 - inv2 * (1 / 360 - inv2 * (1 / 1260 - inv2 / 1680)));
}

/** ln k! for an integer k ≥ 0, to double precision (table below 30, Stirling's series above). */
export function logFactorial(k: number): number {
  if (!(Number.isInteger(k) && k >= 0)) throw new CohortError('INVALID_ARGUMENT', `logFactorial needs an integer k >= 0, got ${k}`);
  if (k < STIRLING_FROM) return LOG_FACTORIAL_TABLE[k]!;
  return k * Math.log(k) - k + HALF_LOG_2PI + 0.5 * Math.log(k) + stirlingRemainder(k);
}

/**
 * λ·bd0(k/λ − 1) = k ln(k/λ) − (k − λ) ≥ 0 (Loader 2000). Near k = λ the two terms cancel, so there it is summed as
 * the series λ·Σ_{n≥2} (−x)^n / (n(n−1)) with x = (k − λ)/λ, which converges fast for |x| < 0.1.
 */
function deviance(k: number, lambda: number): number {
  const diff = k - lambda;
  if (Math.abs(diff) < 0.1 * lambda) {
    const x = diff / lambda;
    let power = x * x;
    let sum = 0;
    for (let n = 2; n < 40; n++) {
      const term = power / (n * (n - 1));
      sum += n % 2 === 0 ? term : -term;
      if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
      power *= x;
    }
    return lambda * sum;
  }
  return k * Math.log(k / lambda) - diff;
}

/**
 * ln P(K = k) for K ~ Poisson(λ), k an integer ≥ 0 (or any float for the rejection test), λ > 0. Written as
 * −λ·bd0 − ½ ln(2πk) − δ(k) so that nothing of size k ln λ ~ 3e13 is ever subtracted from something of the same size.
 */
export function logPoissonPmf(k: number, lambda: number): number {
  if (k === 0) return -lambda;
  return -deviance(k, lambda) - HALF_LOG_2PI - 0.5 * Math.log(k) - stirlingRemainder(k);
}

// ---------------------------------------------------------------------------------------------------------------
// Sampling.

/** Largest Poisson mean sampled: draws stay far below 2^53, so every count is an exact double. */
export const MAX_POISSON_MEAN = 2 ** 40;
/** Hörmann's PTRS is valid (and faster than inversion) from mean 10. */
const PTRS_FROM = 10;
/** Inversion gives up on a draw past this count (the mass beyond it is < 1e-300 for means below 10) and redraws. */
const INVERSION_CUTOFF = 200;

function requirePoissonMean(mean: number): void {
  if (!(Number.isFinite(mean) && mean >= 0 && mean <= MAX_POISSON_MEAN)) {
    throw new CohortError('INVALID_ARGUMENT', `Poisson mean must be a finite number in [0, 2^40], got ${mean}`);
  }
}

/** Inversion: the smallest k with u < F(k), F the Poisson CDF built by the pmf recurrence. */
function poissonInversion(rng: Rng, mean: number): number {
  const p0 = Math.exp(-mean);
  for (;;) {
    const u = rng.nextFloat();
    let k = 0;
    let p = p0;
    let cdf = p;
    while (u >= cdf && k < INVERSION_CUTOFF) {
      k++;
      p *= mean / k;
      cdf += p;
    }
    // Only reachable when rounding left the summed CDF just under u ≈ 1: draw again rather than return a bad tail.
    if (k < INVERSION_CUTOFF) return k;
  }
}

/** Hörmann's PTRS: transformed rejection with a squeeze; constants from the paper (as numpy uses them). */
function poissonPtrs(rng: Rng, mean: number): number {
  const slam = Math.sqrt(mean);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const logInvAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.nextFloat() - 0.5;
    const v = rng.nextFloat();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + logInvAlpha - Math.log(a / (us * us) + b) <= logPoissonPmf(k, mean)) return k;
  }
}

/**
 * One exact Poisson(mean) draw, mean in [0, 2^40]: inversion below mean 10, Hörmann's PTRS above. Uses only
 * rng.nextFloat().
 */
export function samplePoisson(rng: Rng, mean: number): number {
  requirePoissonMean(mean);
  if (mean === 0) return 0;
  return mean < PTRS_FROM ? poissonInversion(rng, mean) : poissonPtrs(rng, mean);
}

function requireSkellamVariance(variance: number): void {
  if (!(Number.isFinite(variance) && variance >= 0 && variance / 2 <= MAX_POISSON_MEAN)) {
    throw new CohortError('INVALID_ARGUMENT', `Skellam variance must be a finite number in [0, 2^41], got ${variance}`);
  }
}

/** One symmetric Skellam draw with the given variance μ: Poisson(μ/2) − Poisson(μ/2). μ in [0, 2^41]. */
export function sampleSkellam(rng: Rng, variance: number): number {
  requireSkellamVariance(variance);
  if (variance === 0) return 0;
  const half = variance / 2;
  return samplePoisson(rng, half) - samplePoisson(rng, half);
}

/**
 * Adds an independent Sk(variance) draw to every element. On an Int32Array the sum is stored mod 2^32 (two's
 * complement), which is what a secure sum mod 2^b (b ≤ 32) sees anyway; on a Float64Array it is exact below 2^53.
 */
export function addSkellamNoiseInPlace(values: Int32Array | Float64Array, variance: number, rng: Rng): void {
  requireSkellamVariance(variance);
  if (variance === 0) return;
  const half = variance / 2;
  for (let i = 0; i < values.length; i++) values[i] = values[i]! + (samplePoisson(rng, half) - samplePoisson(rng, half));
}

// ---------------------------------------------------------------------------------------------------------------
// Privacy accounting.

function requireIntegerOrder(alpha: number): void {
  if (!(Number.isInteger(alpha) && alpha >= 2)) throw new CohortError('INVALID_ARGUMENT', `Rényi order must be an integer >= 2 for the Skellam bounds, got ${alpha}`);
}

/**
 * RDP at integer order α ≥ 2 of the multi-dimensional Skellam mechanism (Agarwal et al. 2021, Theorem 3.5 with
 * Sk(μ/2, μ/2)), in the integer domain: per-coordinate noise variance μ, integer-vector sensitivities Δ1 (L1) and
 * Δ2 (L2):
 *   ε(α) = α·Δ2²/(2μ) + min( ((2α−1)·Δ2² + 6·Δ1)/(4μ²), 3·Δ1/(2μ) ).
 * The first term is the Gaussian mechanism's; the min is the price of discreteness and vanishes as μ grows.
 * +∞ for μ = 0 with a nonzero sensitivity.
 */
export function skellamRdp(alpha: number, sensitivity: { l1: number; l2: number }, variance: number): number {
  requireIntegerOrder(alpha);
  const { l1, l2 } = sensitivity;
  if (!(Number.isFinite(l1) && l1 >= 0)) throw new CohortError('INVALID_ARGUMENT', `L1 sensitivity must be a finite number >= 0, got ${l1}`);
  if (!(Number.isFinite(l2) && l2 >= 0)) throw new CohortError('INVALID_ARGUMENT', `L2 sensitivity must be a finite number >= 0, got ${l2}`);
  if (!(Number.isFinite(variance) && variance >= 0)) throw new CohortError('INVALID_ARGUMENT', `Skellam variance must be a finite number >= 0, got ${variance}`);
  if (l1 === 0 && l2 === 0) return 0;
  if (variance === 0) return Number.POSITIVE_INFINITY;
  const l2sq = l2 * l2;
  return (alpha * l2sq) / (2 * variance) + Math.min(((2 * alpha - 1) * l2sq + 6 * l1) / (4 * variance * variance), (3 * l1) / (2 * variance));
}

const LOG_3 = Math.log(3);

/**
 * Upper bound on the RDP at integer order α ≥ 2 of a mechanism with RDP curve `rdpAt` run on a Poisson sample of
 * rate q (Zhu & Wang 2019, Theorem 5, the general upper bound):
 *   ε'(α) ≤ 1/(α−1) · ln( (1−q)^(α−1)·(αq − q + 1) + C(α,2)·q²·(1−q)^(α−2)·e^{ε(2)}
 *                         + 3·Σ_{ℓ=3..α} C(α,ℓ)·(1−q)^(α−ℓ)·q^ℓ·e^{(ℓ−1)·ε(ℓ)} ),
 * every term summed in log space, then capped at ε(α) (subsampling never costs more than the mechanism itself).
 * `rdpAt` is called at the integer orders 2..α and must return values >= 0. q = 0 gives 0, q = 1 gives ε(α).
 */
export function rdpPoissonSubsampled(alpha: number, q: number, rdpAt: (order: number) => number): number {
  requireIntegerOrder(alpha);
  if (!(Number.isFinite(q) && q >= 0 && q <= 1)) throw new CohortError('INVALID_ARGUMENT', `sampling rate q must be in [0, 1], got ${q}`);
  const eps = (order: number): number => {
    const e = rdpAt(order);
    if (!(e >= 0)) throw new CohortError('INVALID_ARGUMENT', `the RDP at order ${order} must be a number >= 0, got ${e}`);
    return e;
  };
  if (q === 0) return 0;
  const own = eps(alpha);
  if (q === 1) return own;
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const logFactAlpha = logFactorial(alpha);
  const logBinom = (l: number): number => logFactAlpha - logFactorial(l) - logFactorial(alpha - l);
  // ℓ = 0 and ℓ = 1 together: (1−q)^α + αq(1−q)^(α−1) = (1−q)^(α−1)·(1 + (α−1)q).
  let logSum = (alpha - 1) * log1mQ + Math.log1p((alpha - 1) * q);
  logSum = logAdd(logSum, logBinom(2) + 2 * logQ + (alpha - 2) * log1mQ + eps(2));
  for (let l = 3; l <= alpha; l++) {
    logSum = logAdd(logSum, LOG_3 + logBinom(l) + l * logQ + (alpha - l) * log1mQ + (l - 1) * eps(l));
  }
  // The sum is >= 1 exactly (it dominates the binomial expansion of 1); rounding must not make the bound negative.
  return Math.min(Math.max(0, logSum / (alpha - 1)), own);
}

/** Integer orders 2..63, then 128, 256, 512, 1024: Theorem 3.5 holds at integer orders only. */
export const SKELLAM_RDP_ORDERS: readonly number[] = Object.freeze([...Array.from({ length: 62 }, (_, i) => 2 + i), 128, 256, 512, 1024]);

/**
 * RDP of one round at each (integer, >= 2) order: each client joins with probability `samplingRate`, its rounded
 * scaled update has L2 norm <= l2Bound and L1 norm <= l1Bound, and the secure sum carries Skellam noise of
 * variance >= centralVariance per coordinate, all in the scaled integer domain.
 */
export function skellamRoundRdp(
  orders: readonly number[],
  input: { samplingRate: number; l2Bound: number; l1Bound: number; centralVariance: number },
): Float64Array {
  if (orders.length === 0) throw new CohortError('INVALID_ARGUMENT', 'give at least one Rényi order');
  for (const a of orders) requireIntegerOrder(a);
  const { samplingRate, l2Bound, l1Bound, centralVariance } = input;
  if (!(Number.isFinite(samplingRate) && samplingRate >= 0 && samplingRate <= 1)) throw new CohortError('INVALID_ARGUMENT', `samplingRate must be in [0, 1], got ${samplingRate}`);
  if (!(Number.isFinite(l2Bound) && l2Bound >= 0)) throw new CohortError('INVALID_ARGUMENT', `l2Bound must be a finite number >= 0, got ${l2Bound}`);
  if (!(Number.isFinite(l1Bound) && l1Bound >= 0)) throw new CohortError('INVALID_ARGUMENT', `l1Bound must be a finite number >= 0, got ${l1Bound}`);
  if (!(Number.isFinite(centralVariance) && centralVariance > 0)) throw new CohortError('INVALID_ARGUMENT', `centralVariance must be a finite number > 0, got ${centralVariance}`);
  const sensitivity = { l1: l1Bound, l2: l2Bound };
  const rdpAt = (a: number): number => skellamRdp(a, sensitivity, centralVariance);
  const out = new Float64Array(orders.length);
  for (let i = 0; i < orders.length; i++) out[i] = rdpPoissonSubsampled(orders[i]!, samplingRate, rdpAt);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Conditional randomized rounding.

/**
 * The L2 norm that conditional randomized rounding of a vector x ∈ R^d with ‖x‖ = scaledNorm enforces (Kairouz, Liu,
 * Steinke 2021, §4; Agarwal et al. 2021, §4):
 *   min( sqrt(‖x‖² + d/4 + sqrt(2·ln(1/β))·(‖x‖ + sqrt(d)/2)), ‖x‖ + sqrt(d) ).
 * An unconditioned stochastic rounding lands within the first term with probability >= 1 − β, so each attempt
 * succeeds with probability >= 1 − β; the second holds always (each coordinate moves by less than 1).
 */
export function conditionalRoundingBound(scaledNorm: number, dimension: number, beta: number): number {
  if (!(Number.isFinite(scaledNorm) && scaledNorm >= 0)) throw new CohortError('INVALID_ARGUMENT', `scaledNorm must be a finite number >= 0, got ${scaledNorm}`);
  if (!(Number.isSafeInteger(dimension) && dimension >= 1)) throw new CohortError('INVALID_ARGUMENT', `dimension must be an integer >= 1, got ${dimension}`);
  if (!(beta > 0 && beta < 1)) throw new CohortError('INVALID_ARGUMENT', `rounding beta must be in (0, 1), got ${beta}`);
  const sqrtD = Math.sqrt(dimension);
  const c = scaledNorm;
  const probabilistic = Math.sqrt(c * c + dimension / 4 + Math.sqrt(2 * Math.log(1 / beta)) * (c + sqrtD / 2));
  return Math.min(probabilistic, c + sqrtD);
}

/**
 * L1 bound of an integer vector in Z^d with L2 norm <= l2Bound: min(l2Bound·sqrt(d), l2Bound²). The first is
 * Cauchy–Schwarz; the second holds because every nonzero integer has |x_i| >= 1, hence |x_i| <= x_i², and
 * Σ|x_i| <= Σx_i² <= l2Bound².
 */
export function integerL1Bound(l2Bound: number, dimension: number): number {
  if (!(Number.isFinite(l2Bound) && l2Bound >= 0)) throw new CohortError('INVALID_ARGUMENT', `l2Bound must be a finite number >= 0, got ${l2Bound}`);
  if (!(Number.isSafeInteger(dimension) && dimension >= 1)) throw new CohortError('INVALID_ARGUMENT', `dimension must be an integer >= 1, got ${dimension}`);
  return Math.min(l2Bound * Math.sqrt(dimension), l2Bound * l2Bound);
}

/** Largest magnitude a rounded element may have: floor + 1 must still be an int32. */
const MAX_SCALED = 2 ** 31 - 1;

/**
 * Conditional randomized rounding: unbiased stochastic rounding of every element (floor + Bernoulli(frac), one
 * rng.nextFloat() each) into `out`, redrawn as a whole until ‖out‖₂ <= l2Bound. Returns the number of attempts.
 * Throws UPDATE_NOT_FINITE naming the first non-finite element, INVALID_ARGUMENT when |scaled| > 2^31 − 1 or the
 * lengths differ, FAILED_PRECONDITION after maxAttempts failures.
 * (Conditioning on the norm biases the result slightly toward 0; with the bound of `conditionalRoundingBound` the
 * rejection probability is <= β, so the bias is small.)
 */
export function roundConditionallyInto(out: Int32Array, scaled: Float32Array | Float64Array, l2Bound: number, rng: Rng, maxAttempts = 1000): number {
  if (out.length !== scaled.length) throw new CohortError('INVALID_ARGUMENT', `output has ${out.length} elements for ${scaled.length} inputs`);
  if (!(Number.isFinite(l2Bound) && l2Bound >= 0)) throw new CohortError('INVALID_ARGUMENT', `l2Bound must be a finite number >= 0, got ${l2Bound}`);
  if (!(Number.isSafeInteger(maxAttempts) && maxAttempts >= 1)) throw new CohortError('INVALID_ARGUMENT', `maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  // Checked before any draw, so a bad input fails the same way whatever the rng.
  for (let i = 0; i < scaled.length; i++) {
    const x = scaled[i]!;
    // x - x is NaN for NaN and ±Infinity, 0 otherwise: one test for both.
    if (x - x !== 0) throw new CohortError('UPDATE_NOT_FINITE', `update element ${i} is not finite (${x})`, { index: i });
    if (Math.abs(x) > MAX_SCALED) throw new CohortError('INVALID_ARGUMENT', `scaled element ${i} = ${x} is outside ±(2^31 − 1): lower the scale`);
  }
  const boundSq = l2Bound * l2Bound;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let normSq = 0;
    for (let i = 0; i < scaled.length; i++) {
      const x = scaled[i]!;
      const floor = Math.floor(x);
      const r = rng.nextFloat() < x - floor ? floor + 1 : floor;
      out[i] = r;
      normSq += r * r;
    }
    if (normSq <= boundSq) return attempt;
  }
  throw new CohortError('FAILED_PRECONDITION', `conditional rounding found no rounding with L2 norm <= ${l2Bound} in ${maxAttempts} attempts: the bound is too tight for this input`, { l2Bound, maxAttempts });
}

// ---------------------------------------------------------------------------------------------------------------
// Tails and the plan.

/** ln of the one-sided Chernoff bound on P(X >= t), X ~ Sk(μ), μ > 0, t > 0 (see skellamTailBound). */
function logOneSidedTail(variance: number, t: number): number {
  const u = t / variance;
  // μ(cosh λ − 1) at λ = asinh(u) is μ(sqrt(1+u²) − 1) = t·u/(1 + sqrt(1+u²)): no cancellation for small u.
  if (u < 1e8) return t * (u / (1 + Math.hypot(1, u)) - Math.asinh(u));
  // Far out t/μ may overflow: sqrt(1+u²) = u + 1/(2u) and asinh u = ln 2 + ln t − ln μ (dropping +1/(4u²) only
  // loosens the bound), all without forming u.
  return t - variance + variance / (2 * u) - t * (Math.LN2 + Math.log(t) - Math.log(variance));
}

/**
 * Chernoff bound on P(|X| >= t) for X ~ Sk(μ) (symmetric Skellam with variance μ). The MGF is E e^{λX} =
 * exp(μ(cosh λ − 1)); at the optimal λ = asinh(t/μ),
 *   P(X >= t) <= exp(μ(sqrt(1 + (t/μ)²) − 1) − t·asinh(t/μ)),
 * and by symmetry P(|X| >= t) <= min(1, 2× that). 1 for t <= 0; for μ = 0, 0 when t > 0.
 */
export function skellamTailBound(variance: number, t: number): number {
  if (!(Number.isFinite(variance) && variance >= 0)) throw new CohortError('INVALID_ARGUMENT', `Skellam variance must be a finite number >= 0, got ${variance}`);
  if (Number.isNaN(t)) throw new CohortError('INVALID_ARGUMENT', 'tail point t must be a number, got NaN');
  if (t <= 0) return 1;
  if (variance === 0) return 0;
  if (t === Number.POSITIVE_INFINITY) return 0;
  return Math.min(1, 2 * Math.exp(logOneSidedTail(variance, t)));
}

/** The smallest t with d·P(|Sk(μ)| >= t) <= w by the Chernoff bound, by bisection in log space (no underflow). */
function noiseTailFor(variance: number, dimension: number, wrapProbability: number): number {
  const logTarget = Math.log(wrapProbability) - Math.log(dimension) - Math.LN2;
  const ok = (t: number): boolean => logOneSidedTail(variance, t) <= logTarget;
  let hi = Math.max(1, Math.sqrt(variance));
  while (!ok(hi)) hi *= 2;
  let lo = 0;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Inputs of `planSkellam`. */
export interface SkellamPlanInput {
  /** C: clients clip their update to L2 norm C (model units) before encoding; > 0. */
  clipNorm: number;
  /** d: model parameters per update; integer >= 1. */
  dimension: number;
  /** b: the secure sum is taken mod 2^b; integer in [8, 32]. */
  modulusBits: number;
  /** Most inputs one secure sum may add; integer >= minSurvivors. */
  maxInputs: number;
  /** Fewest inputs a round may commit with; integer >= 1. The noise is sized for exactly this many. */
  minSurvivors: number;
  /** z: central noise standard deviation over the (rounded, scaled) L2 sensitivity; > 0. */
  noiseMultiplier: number;
  /** Allowed probability that any coordinate of the sum wraps around mod 2^b; in (0, 1), default 1e-9. */
  wrapProbability?: number;
  /** β of conditional rounding (each attempt fails with probability <= β); in (0, 1), default e^-0.5. */
  roundingBeta?: number;
  /** Largest Poisson mean a client may need to sample; in (0, 2^40], default 2^40. */
  maxPoissonMean?: number;
}

/** Derived parameters of distributed Skellam DP for one secure sum; build with `planSkellam`, never by hand. */
export interface SkellamPlan {
  /** C, model units (encode checks each delta against it). */
  readonly clipNorm: number;
  /** s: integers per model unit. */
  readonly scale: number;
  /** L2 bound (= L2 sensitivity) of one rounded, scaled update. */
  readonly l2Bound: number;
  /** L1 bound (= L1 sensitivity) of one rounded, scaled update. */
  readonly l1Bound: number;
  /** Noise variance per coordinate of a sum of exactly minSurvivors inputs: (z·l2Bound)². */
  readonly centralVariance: number;
  /** Skellam variance each client adds per coordinate: centralVariance / minSurvivors. */
  readonly perClientVariance: number;
  /** t with dimension·P(|noise of maxInputs clients| >= t) <= the requested wrap probability. */
  readonly noiseTail: number;
  /** maxInputs·l2Bound + noiseTail: no coordinate of the sum exceeds it except with the wrap probability; < 2^(b−1). */
  readonly maxAbsSum: number;
  /** Union bound on the probability that any coordinate wraps at this scale (<= the requested one). */
  readonly wrapProbability: number;
}

function invalidPlan(field: string, message: string): CohortError {
  return new CohortError('CONFIG_INVALID', `dp: ${field} ${message}`, { field });
}

/**
 * Chooses the quantization scale s for distributed Skellam DP, so that modular wrap-around is negligible:
 *
 * 1. Sensitivity. A client's clipped update has ‖x‖ <= C, so ‖s·x‖ <= sC; conditional rounding redraws until the
 *    integer vector r satisfies ‖r‖ <= l2Bound = conditionalRoundingBound(sC, d, β), and then ‖r‖₁ <= l1Bound =
 *    integerL1Bound(l2Bound, d). Both are the sensitivities of the secure sum, in integer units.
 * 2. Noise. centralVariance = (z·l2Bound)² is what a sum of exactly minSurvivors inputs carries; each client adds
 *    perClientVariance = centralVariance / minSurvivors, so every round that commits (>= minSurvivors inputs) has at
 *    least the planned noise, and at most maxInputs·perClientVariance.
 * 3. No wrap. Per coordinate the sum is Σ_i r_i + N with |Σ_i r_i| <= maxInputs·l2Bound always (|r_ij| <= ‖r_i‖₂),
 *    and N ~ Sk(k·perClientVariance), k <= maxInputs. noiseTail is the smallest t with
 *    d·skellamTailBound(maxInputs·perClientVariance, t) <= wrapProbability (Chernoff bound, union over the d
 *    coordinates; the tail only grows with the variance, so fewer inputs are safer). Then every coordinate lies
 *    strictly inside ±maxAbsSum = ±(maxInputs·l2Bound + noiseTail) except with probability <= wrapProbability, and
 *    maxAbsSum < 2^(b−1) makes the centered residue mod 2^b equal to the true integer sum.
 * 4. Scale. All of l2Bound, the noise, noiseTail and maxAbsSum grow with s, so the feasible scales form an interval;
 *    bisection finds the LARGEST s with maxAbsSum < 2^(b−1) and perClientVariance/2 <= maxPoissonMean (the exact
 *    range of the Poisson sampler), starting from s = sqrt(d)/C, where rounding inflates the norm by at most ~2x.
 *    The largest s makes rounding error smallest relative to the signal. If even s = sqrt(d)/C does not fit, the
 *    configuration is refused (CONFIG_INVALID naming the field to change).
 *
 * The modulus b itself is the operator's (secagg.modulusBits); the error says the smallest b that would fit.
 */
export function planSkellam(input: SkellamPlanInput): SkellamPlan {
  const { clipNorm, dimension, modulusBits, maxInputs, minSurvivors, noiseMultiplier } = input;
  const wrapProbability = input.wrapProbability ?? 1e-9;
  const roundingBeta = input.roundingBeta ?? Math.exp(-0.5);
  const maxPoissonMean = input.maxPoissonMean ?? MAX_POISSON_MEAN;
  if (!(Number.isFinite(clipNorm) && clipNorm > 0)) throw invalidPlan('clipNorm', `must be a finite number > 0, got ${clipNorm}`);
  if (!(Number.isSafeInteger(dimension) && dimension >= 1)) throw invalidPlan('dimension', `must be an integer >= 1, got ${dimension}`);
  if (!(Number.isInteger(modulusBits) && modulusBits >= 8 && modulusBits <= 32)) throw invalidPlan('modulusBits', `must be an integer in [8, 32], got ${modulusBits}`);
  if (!(Number.isSafeInteger(minSurvivors) && minSurvivors >= 1)) throw invalidPlan('minSurvivors', `must be an integer >= 1, got ${minSurvivors}`);
  if (!(Number.isSafeInteger(maxInputs) && maxInputs >= minSurvivors)) throw invalidPlan('maxInputs', `must be an integer >= minSurvivors (${minSurvivors}), got ${maxInputs}`);
  if (!(Number.isFinite(noiseMultiplier) && noiseMultiplier > 0)) throw invalidPlan('noiseMultiplier', `must be a finite number > 0, got ${noiseMultiplier}`);
  if (!(wrapProbability > 0 && wrapProbability < 1)) throw invalidPlan('wrapProbability', `must be in (0, 1), got ${wrapProbability}`);
  if (!(roundingBeta > 0 && roundingBeta < 1)) throw invalidPlan('roundingBeta', `must be in (0, 1), got ${roundingBeta}`);
  if (!(maxPoissonMean > 0 && maxPoissonMean <= MAX_POISSON_MEAN)) throw invalidPlan('maxPoissonMean', `must be in (0, 2^40], got ${maxPoissonMean}`);

  const half = 2 ** (modulusBits - 1);
  const at = (scale: number): SkellamPlan => {
    const l2Bound = conditionalRoundingBound(scale * clipNorm, dimension, roundingBeta);
    const centralVariance = (noiseMultiplier * l2Bound) ** 2;
    const perClientVariance = centralVariance / minSurvivors;
    const worstVariance = maxInputs * perClientVariance;
    const noiseTail = noiseTailFor(worstVariance, dimension, wrapProbability);
    const deterministic = maxInputs * l2Bound;
    const slack = half - deterministic;
    return {
      clipNorm,
      scale,
      l2Bound,
      l1Bound: integerL1Bound(l2Bound, dimension),
      centralVariance,
      perClientVariance,
      noiseTail,
      maxAbsSum: deterministic + noiseTail,
      // With the whole slack to 2^(b−1) as the tail point; only meaningful when the plan fits.
      wrapProbability: slack > 0 ? Math.min(1, dimension * skellamTailBound(worstVariance, slack)) : 1,
    };
  };
  const fits = (p: SkellamPlan): boolean => p.maxAbsSum < half && p.perClientVariance / 2 <= maxPoissonMean;

  const minScale = Math.sqrt(dimension) / clipNorm;
  const smallest = at(minScale);
  if (smallest.perClientVariance / 2 > maxPoissonMean) {
    throw invalidPlan(
      'noiseMultiplier',
      `= ${noiseMultiplier} needs a per-client Poisson mean of ${smallest.perClientVariance / 2} even at the smallest usable scale, ` +
        `above maxPoissonMean (${maxPoissonMean}): lower the noise multiplier or raise minSurvivors`,
    );
  }
  if (!fits(smallest)) {
    const needed = Math.floor(Math.log2(smallest.maxAbsSum)) + 2;
    throw invalidPlan(
      'modulusBits',
      `= ${modulusBits} is too small: a ${modulusBits}-bit modulus cannot hold the sum of ${maxInputs} inputs with Skellam noise: even at the smallest usable ` +
        `scale (s·clipNorm = sqrt(${dimension})) a coordinate may reach ${Math.ceil(smallest.maxAbsSum)} >= 2^${modulusBits - 1}; ` +
        (needed <= 32 ? `choose secagg.modulusBits >= ${needed} or fewer clients per secure sum` : 'no modulus up to 32 bits fits: use fewer clients per secure sum'),
    );
  }
  let lo = minScale;
  let hi = 2 * minScale;
  while (fits(at(hi))) {
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (fits(at(mid))) lo = mid;
    else hi = mid;
  }
  return at(lo);
}

// ---------------------------------------------------------------------------------------------------------------
// Client encoding and server decoding.

/** What a client needs of the plan to encode (what the round's training plan carries to it). */
export type SkellamEncoding = Pick<SkellamPlan, 'clipNorm' | 'scale' | 'l2Bound' | 'perClientVariance'>;

function requireModulusBits(modulusBits: number): void {
  if (!(Number.isInteger(modulusBits) && modulusBits >= 8 && modulusBits <= 32)) throw new CohortError('INVALID_ARGUMENT', `modulusBits must be an integer in [8, 32], got ${modulusBits}`);
}

function requireScale(scale: number): void {
  if (!(Number.isFinite(scale) && scale > 0)) throw new CohortError('INVALID_ARGUMENT', `Skellam scale must be a finite number > 0, got ${scale}`);
}

/**
 * A client's input to the secure sum, length d+1: element i < d is the conditional rounding of delta[i]·scale plus
 * an independent Sk(perClientVariance) draw, as two's complement mod 2^b; the last word is 1 (this client's count,
 * without noise). The delta must already be clipped to plan.clipNorm (tolerance 1e-5 relative for float error).
 * The plan's numbers arrive over the wire, so each is checked.
 */
export function encodeSkellamInput(delta: Float32Array, plan: SkellamEncoding, modulusBits: number, rng: Rng): Uint32Array {
  requireModulusBits(modulusBits);
  requireScale(plan.scale);
  if (!(Number.isFinite(plan.clipNorm) && plan.clipNorm > 0)) throw new CohortError('INVALID_ARGUMENT', `Skellam clipNorm must be a finite number > 0, got ${plan.clipNorm}`);
  requireSkellamVariance(plan.perClientVariance);
  const d = delta.length;
  const scaled = new Float64Array(d);
  let normSq = 0;
  for (let i = 0; i < d; i++) {
    const x = delta[i]!;
    if (x - x !== 0) throw new CohortError('UPDATE_NOT_FINITE', `update element ${i} is not finite (${x})`, { index: i });
    normSq += x * x;
    scaled[i] = x * plan.scale;
  }
  const norm = Math.sqrt(normSq);
  if (norm > plan.clipNorm * (1 + 1e-5)) {
    throw new CohortError('INVALID_ARGUMENT', `update L2 norm ${norm} exceeds the clip norm ${plan.clipNorm}: clients must clip before encoding`);
  }
  const rounded = new Int32Array(d);
  roundConditionallyInto(rounded, scaled, plan.l2Bound, rng);
  const out = new Uint32Array(d + 1);
  // Written through a signed view; `& mask` is ToInt32 (mod 2^32) and then mod 2^b, so negative values land as
  // two's complement residues exactly as quantizeWeighted stores them.
  const view = new Int32Array(out.buffer, out.byteOffset, out.length);
  const mask = modulusBits === 32 ? -1 : (2 ** modulusBits - 1) | 0;
  const variance = plan.perClientVariance;
  for (let i = 0; i < d; i++) view[i] = (rounded[i]! + sampleSkellam(rng, variance)) & mask;
  view[d] = 1;
  return out;
}

/**
 * Decodes a modular sum of Skellam inputs (length d+1, values mod 2^b; reduced mod 2^b, then residues >= 2^(b−1) are
 * negative): sum[i] = residue/scale, in model units the sum of the clipped updates plus noise/scale (plus rounding
 * error); count = the number of inputs summed. Does not modify `sum`.
 */
export function decodeSkellamSum(sum: Uint32Array, plan: Pick<SkellamPlan, 'scale'>, modulusBits: number): { sum: Float32Array; count: number } {
  requireModulusBits(modulusBits);
  requireScale(plan.scale);
  if (sum.length < 1) throw new CohortError('INVALID_ARGUMENT', 'Skellam sum must have at least 1 element (the count), got 0');
  const d = sum.length - 1;
  const view = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
  const out = new Float32Array(d);
  const scale = plan.scale;
  const signed = (word: number): number => {
    if (modulusBits === 32) return word;
    const u = word & ((2 ** modulusBits - 1) | 0);
    return u >= 2 ** (modulusBits - 1) ? u - 2 ** modulusBits : u;
  };
  for (let i = 0; i < d; i++) out[i] = signed(view[i]!) / scale;
  return { sum: out, count: signed(view[d]!) };
}
