/**
 * Colluding attacks: the attackers pool their honest updates, estimate the benign updates' statistics from them, and
 * all send one crafted update. In the simulator the attackers see only their own honest updates (the "partial
 * knowledge" setting of Shejwalkar & Houmansadr; Baruch et al. also estimate μ and σ from the attackers' own data),
 * never the other clients'. Pure: typed arrays in, a new Float32Array out; sums in float64.
 */
import { CohortError, requireConfig } from '../../../shared/src/core/errors.js';
import { inverseNormalCdf } from './normal-quantile.js';

/** Coordinate-wise mean and standard deviation of a set of updates, in model units. */
export interface UpdateStatistics {
  readonly mean: Float64Array;
  /** Sample standard deviation (divisor k − 1, like torch.std in the papers' code); all zero for one update. */
  readonly std: Float64Array;
}

function checkUpdates(updates: readonly Float32Array[]): number {
  if (updates.length === 0) throw new CohortError('INVALID_ARGUMENT', 'a colluding attack needs at least one honest update');
  const d = updates[0]!.length;
  for (const [i, u] of updates.entries()) {
    if (u.length !== d) throw new CohortError('INVALID_ARGUMENT', `honest update ${i} has ${u.length} elements, update 0 has ${d}`);
  }
  return d;
}

/** Mean and sample standard deviation per coordinate. */
export function updateStatistics(updates: readonly Float32Array[]): UpdateStatistics {
  const d = checkUpdates(updates);
  const k = updates.length;
  const mean = new Float64Array(d);
  for (const u of updates) for (let j = 0; j < d; j++) mean[j]! += u[j]!;
  for (let j = 0; j < d; j++) mean[j]! /= k;
  const std = new Float64Array(d);
  if (k > 1) {
    for (const u of updates) {
      for (let j = 0; j < d; j++) {
        const e = u[j]! - mean[j]!;
        std[j]! += e * e;
      }
    }
    for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]! / (k - 1));
  }
  return { mean, std };
}

/**
 * ALIE's z_max (Baruch, Baruch, Goldberg, "A Little Is Enough: Circumventing Defenses For Distributed Learning",
 * NeurIPS 2019, Algorithm 1): s = ⌊n/2 + 1⌋ − f supporters the attackers need among the benign clients, and
 * z_max = Φ⁻¹((n − s)/n). Where the attackers hold a majority (s < 1) the formula is undefined; s = 1 is used.
 */
export function alieZMax(n: number, f: number): number {
  requireConfig(Number.isInteger(n) && n >= 2, 'n', `must be an integer >= 2 (clients in the round), got ${n}`);
  requireConfig(Number.isInteger(f) && f >= 0 && f <= n, 'f', `must be an integer in 0..${n} (attackers in the round), got ${f}`);
  const s = Math.max(1, Math.floor(n / 2 + 1) - f);
  return inverseNormalCdf((n - s) / n);
}

/** ALIE: μ − z·σ per coordinate (z = z_max unless given), a shift small enough to hide among the benign spread. */
export function alieUpdate(updates: readonly Float32Array[], options: { n: number; f: number; z?: number }): Float32Array {
  const z = options.z ?? alieZMax(options.n, options.f);
  requireConfig(Number.isFinite(z), 'z', `must be a finite number, got ${z}`);
  const { mean, std } = updateStatistics(updates);
  const out = new Float32Array(mean.length);
  for (let j = 0; j < mean.length; j++) out[j] = mean[j]! - z * std[j]!;
  return out;
}

/**
 * Inner product manipulation (Xie, Koyejo, Gupta, "Fall of Empires: Breaking Byzantine-tolerant SGD by Inner Product
 * Manipulation", UAI 2019): −ε·μ. A small ε hides near the benign cluster and still turns the aggregate's inner
 * product with the true direction negative under median- and Krum-style rules.
 */
export function ipmUpdate(updates: readonly Float32Array[], epsilon: number): Float32Array {
  requireConfig(Number.isFinite(epsilon) && epsilon > 0, 'epsilon', `must be a number > 0, got ${epsilon}`);
  const { mean } = updateStatistics(updates);
  const out = new Float32Array(mean.length);
  for (let j = 0; j < mean.length; j++) out[j] = -epsilon * mean[j]!;
  return out;
}

/** Perturbation direction ∇p of min-max / min-sum: the malicious update is μ − γ·∇p. */
export type Perturbation = 'std' | 'unit-vec' | 'sign';

/** The perturbations min-max and min-sum accept. */
export const PERTURBATIONS: readonly Perturbation[] = ['std', 'unit-vec', 'sign'];

/** Options of min-max and min-sum. */
export interface OptimizedAttackOptions {
  /** ∇p: the coordinate-wise std (default; the paper's strongest in most settings), μ/‖μ‖, or sign(μ). */
  perturbation?: Perturbation;
  /** Initial γ of the search (default 10, as in the authors' code); the search stays below 2·gamma0. */
  gamma0?: number;
  /** Stop when the bracket is narrower than this (default 1e-5, as in the authors' code). */
  tolerance?: number;
}

/** The crafted update and the γ the search settled on. */
export interface OptimizedAttack {
  readonly update: Float32Array;
  readonly gamma: number;
}

/**
 * Min-max (Shejwalkar & Houmansadr, "Manipulating the Byzantine: Optimizing Model Poisoning Attacks and Defenses for
 * Federated Learning", NDSS 2021, §IV-B, AGR-agnostic): the largest γ such that the malicious update's largest
 * distance to any benign update stays within the largest distance between two benign updates:
 * max_i ‖∇m − ∇i‖ ≤ max_{i,j} ‖∇i − ∇j‖ with ∇m = μ − γ·∇p.
 */
export function minMaxUpdate(updates: readonly Float32Array[], options: OptimizedAttackOptions = {}): OptimizedAttack {
  return optimizedAttack(updates, 'min-max', options);
}

/**
 * Min-sum (same paper): the largest γ such that the malicious update's sum of squared distances to the benign
 * updates stays within the largest such sum of any benign update: Σ_i ‖∇m − ∇i‖² ≤ max_i Σ_j ‖∇i − ∇j‖².
 */
export function minSumUpdate(updates: readonly Float32Array[], options: OptimizedAttackOptions = {}): OptimizedAttack {
  return optimizedAttack(updates, 'min-sum', options);
}

function optimizedAttack(updates: readonly Float32Array[], kind: 'min-max' | 'min-sum', options: OptimizedAttackOptions): OptimizedAttack {
  const perturbation = options.perturbation ?? 'std';
  const gamma0 = options.gamma0 ?? 10;
  const tolerance = options.tolerance ?? 1e-5;
  requireConfig(PERTURBATIONS.includes(perturbation), 'perturbation', `must be one of ${PERTURBATIONS.join(', ')}, got ${String(perturbation)}`);
  requireConfig(Number.isFinite(gamma0) && gamma0 > 0, 'gamma0', `must be a number > 0, got ${gamma0}`);
  requireConfig(Number.isFinite(tolerance) && tolerance > 0, 'tolerance', `must be a number > 0, got ${tolerance}`);
  const { mean, std } = updateStatistics(updates);
  const d = mean.length;
  const k = updates.length;
  const p = new Float64Array(d);
  if (perturbation === 'std') {
    p.set(std);
  } else if (perturbation === 'sign') {
    for (let j = 0; j < d; j++) p[j] = Math.sign(mean[j]!);
  } else {
    let norm = 0;
    for (let j = 0; j < d; j++) norm += mean[j]! * mean[j]!;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let j = 0; j < d; j++) p[j] = mean[j]! / norm;
  }
  // ‖μ − γp − g_i‖² = a_i − 2γ·b_i + γ²·c with a_i = ‖μ − g_i‖², b_i = ⟨μ − g_i, p⟩, c = ‖p‖²: each test of the
  // search is O(k) once these are known.
  const a = new Float64Array(k);
  const b = new Float64Array(k);
  let c = 0;
  for (let j = 0; j < d; j++) c += p[j]! * p[j]!;
  for (let i = 0; i < k; i++) {
    const g = updates[i]!;
    let ai = 0;
    let bi = 0;
    for (let j = 0; j < d; j++) {
      const e = mean[j]! - g[j]!;
      ai += e * e;
      bi += e * p[j]!;
    }
    a[i] = ai;
    b[i] = bi;
  }
  // Benign pairwise squared distances: the bound is their maximum (min-max) or the largest row sum (min-sum).
  const rowSums = new Float64Array(k);
  let maxPair = 0;
  for (let i = 0; i < k; i++) {
    for (let l = i + 1; l < k; l++) {
      const gi = updates[i]!;
      const gl = updates[l]!;
      let s = 0;
      for (let j = 0; j < d; j++) {
        const e = gi[j]! - gl[j]!;
        s += e * e;
      }
      maxPair = Math.max(maxPair, s);
      rowSums[i]! += s;
      rowSums[l]! += s;
    }
  }
  const bound = kind === 'min-max' ? maxPair : Math.max(0, ...rowSums);
  const fits = (gamma: number): boolean => {
    if (kind === 'min-max') {
      for (let i = 0; i < k; i++) if (a[i]! - 2 * gamma * b[i]! + gamma * gamma * c > bound) return false;
      return true;
    }
    let sum = 0;
    for (let i = 0; i < k; i++) sum += a[i]! - 2 * gamma * b[i]! + gamma * gamma * c;
    return sum <= bound;
  };
  // The authors' search: start at γ0, move by a step halved every time, keep the last γ that fit.
  let gamma = gamma0;
  let step = gamma0;
  let success = 0;
  for (let iteration = 0; Math.abs(success - gamma) > tolerance && iteration < 200; iteration++) {
    if (fits(gamma)) {
      success = gamma;
      gamma += step / 2;
    } else {
      gamma -= step / 2;
    }
    step /= 2;
  }
  const update = new Float32Array(d);
  for (let j = 0; j < d; j++) update[j] = mean[j]! - success * p[j]!;
  return { update, gamma: success };
}
