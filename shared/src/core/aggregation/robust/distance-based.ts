/**
 * Robust rules that compare whole update vectors by Euclidean distance: Krum and Multi-Krum (Blanchard et al.
 * NeurIPS 2017), Bulyan over Krum (El Mhamdi, Guerraoui, Rouault ICML 2018) and the geometric median by RFA's
 * smoothed Weiszfeld iterations (Pillutla, Kakade, Harchaoui, IEEE TSP 2022).
 *
 * Selection and scoring treat contributions as equals, as the papers do; only the final average over what was kept
 * is weighted by contribution.weight (examples, or a bucket's total weight), so every rule reduces exactly to the
 * paper's definition when the weights are equal. Ties are broken by arrival order (the earlier contribution wins),
 * which is what numpy's argmin / stable argsort give on the same input order.
 *
 * Pairwise distances are computed once per round as an n × n float64 matrix of squared L2 distances from direct
 * differences Σ_j (a_j − b_j)², not the Gram form ‖a‖² + ‖b‖² − 2a·b: without BLAS both cost n(n−1)/2 · d
 * multiply-adds (measured: the Gram form is no faster in V8), and the direct form has no cancellation, so close
 * honest updates (exactly the ones Krum must tell apart) keep accurate distances and identical ones get exactly 0.
 * At n = 200, d = 10⁶ that is 2·10¹⁰ multiply-adds, tens of seconds in single-threaded JS: Krum-type rules are for
 * rounds of tens of contributions, or for bucket means.
 */
import { CohortError, requireConfig } from '../../errors.js';
import type { AggregationRule, RuleParams, RuleParamSpec } from '../rules.js';
import { resolveRuleParams } from '../rules.js';
import type { BufferedContribution, CombineResult, RuleDecision } from './buffered.js';
import { createBufferedAccumulator, weightedMean } from './buffered.js';

const isCount = (x: number): boolean => Number.isInteger(x) && x >= 0;
const isPositiveInteger = (x: number): boolean => Number.isInteger(x) && x >= 1;

const F_SPEC: RuleParamSpec = { valid: isCount, requirement: 'an integer >= 0 (the number of Byzantine contributions to tolerate)' };
const MAX_ABS_SPEC: RuleParamSpec = { valid: (x) => x > 0, requirement: 'a finite number > 0' };

/** Resolves `specs` and insists on `f`, which has no safe default (it is the operator's threat model). */
function resolveWithRequiredF(ruleName: string, params: RuleParams, specs: Readonly<Record<string, RuleParamSpec>>): RuleParams {
  const resolved = resolveRuleParams(ruleName, params, specs);
  requireConfig(resolved['f'] !== undefined, 'ruleParams.f', `required by ${ruleName}: the number of Byzantine contributions to tolerate, an integer >= 0`);
  return resolved;
}

function limitsOf(params: RuleParams): { maxAbs?: number } {
  return params['maxAbs'] === undefined ? {} : { maxAbs: params['maxAbs'] };
}

/** A number for a reason string: six significant digits, no trailing zeros. */
function fmt(x: number): string {
  return String(Number(x.toPrecision(6)));
}

/**
 * Squared L2 distances between all pairs, as a row-major n × n float64 matrix (zero diagonal, symmetric), from
 * direct differences accumulated in float64. Time O(n²·d), memory O(n²).
 */
export function pairwiseSquaredDistances(vectors: readonly Float32Array[]): Float64Array {
  const n = vectors.length;
  const out = new Float64Array(n * n);
  if (n === 0) return out;
  const d = vectors[0]!.length;
  for (let i = 1; i < n; i++) {
    if (vectors[i]!.length !== d) throw new RangeError(`pairwiseSquaredDistances: vector 0 has ${d} elements and vector ${i} has ${vectors[i]!.length}`);
  }
  for (let i = 0; i < n; i++) {
    const a = vectors[i]!;
    for (let j = i + 1; j < n; j++) {
      const b = vectors[j]!;
      // Four independent partial sums: V8 does not vectorize, and this halves the time by breaking the add chain.
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k + 3 < d; k += 4) {
        const t0 = a[k]! - b[k]!;
        const t1 = a[k + 1]! - b[k + 1]!;
        const t2 = a[k + 2]! - b[k + 2]!;
        const t3 = a[k + 3]! - b[k + 3]!;
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
      }
      for (; k < d; k++) {
        const t = a[k]! - b[k]!;
        s0 += t * t;
      }
      const s = s0 + s1 + (s2 + s3);
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/**
 * For each contribution, the others sorted by squared distance (ties by arrival order), so a Krum score over any
 * remaining subset is a scan of one row. Time O(n² log n) to build, memory O(n²).
 */
interface NeighbourTable {
  readonly n: number;
  readonly distances: Float64Array;
  /** neighbours[i] = every j ≠ i, nearest first. */
  readonly neighbours: readonly Int32Array[];
}

function neighbourTable(buffered: readonly BufferedContribution[]): NeighbourTable {
  const n = buffered.length;
  const distances = pairwiseSquaredDistances(buffered.map((b) => b.contribution.delta));
  const neighbours = buffered.map((_, i) => {
    const row = new Int32Array(n - 1);
    for (let j = 0, t = 0; j < n; j++) if (j !== i) row[t++] = j;
    row.sort((a, b) => distances[i * n + a]! - distances[i * n + b]! || a - b);
    return row;
  });
  return { n, distances, neighbours };
}

/**
 * Krum's score of contribution i within the contributions not yet `removed`: the sum of squared distances to its
 * `k` nearest remaining neighbours (Blanchard et al. 2017, §4: k = n − f − 2 for the set of size n it runs on).
 */
function krumScore(table: NeighbourTable, i: number, removed: Uint8Array, k: number): number {
  const row = table.neighbours[i]!;
  let sum = 0;
  for (let t = 0, taken = 0; taken < k && t < row.length; t++) {
    const j = row[t]!;
    if (removed[j] === 1) continue;
    sum += table.distances[i * table.n + j]!;
    taken++;
  }
  return sum;
}

/** Krum scores of all n contributions over the full set, and their ranking (lowest score first, ties by arrival). */
function krumScoresAndRanking(table: NeighbourTable, f: number): { scores: Float64Array; order: number[]; rank: Int32Array } {
  const n = table.n;
  const none = new Uint8Array(n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) scores[i] = krumScore(table, i, none, n - f - 2);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]! || a - b);
  const rank = new Int32Array(n);
  order.forEach((i, r) => (rank[i] = r + 1));
  return { scores, order, rank };
}

function requireKrumN(ruleName: string, n: number, f: number): void {
  if (!(n > 2 * f + 2)) {
    throw new CohortError('FAILED_PRECONDITION', `${ruleName} needs n > 2f + 2 contributions: n = ${n}, f = ${f}`, { n, f, required: 2 * f + 3 });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Krum

/**
 * Krum (Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning with Adversaries: Byzantine Tolerant Gradient
 * Descent", NeurIPS 2017). score(i) = Σ ‖x_i − x_j‖² over the n − f − 2 contributions j ≠ i nearest to x_i; the
 * aggregate is the single contribution with the lowest score (ties: the earliest), the others are rejected.
 * Assumes at most f of the n contributions are Byzantine and needs n > 2f + 2 (FAILED_PRECONDITION otherwise).
 * Params: `f` (required, integer ≥ 0), `maxAbs` (optional admission bound, model units).
 * Cost: O(n²·d) time for the distances plus O(n² log n) for the scores; O(n²) memory besides the frame's O(n·d).
 */
export const krumRule: AggregationRule = {
  name: 'krum',
  summary: 'the one contribution closest to its n − f − 2 nearest neighbours (Blanchard et al. 2017); tolerates f Byzantine of n > 2f + 2',
  resolveParams: (params) => resolveWithRequiredF('krum', params, { f: F_SPEC, maxAbs: MAX_ABS_SPEC }),
  createAccumulator: ({ dimension, params }) => {
    const p = krumRule.resolveParams(params);
    const f = p['f']!;
    return createBufferedAccumulator(dimension, { name: 'krum', ...limitsOf(p) }, (buffered): CombineResult => {
      const n = buffered.length;
      requireKrumN('krum', n, f);
      const { scores, order, rank } = krumScoresAndRanking(neighbourTable(buffered), f);
      const winner = order[0]!;
      const decisions = buffered.map((_, i): RuleDecision => {
        const s = { krumScore: scores[i]!, krumRank: rank[i]! };
        const why = `krum: score ${fmt(scores[i]!)} (sum of squared distances to its ${n - f - 2} nearest) ranks ${rank[i]} of ${n}; 1 kept`;
        return i === winner ? { verdict: 'accepted', reason: why, scores: s } : { verdict: 'rejected', reason: why, scores: s, effectiveWeight: 0 };
      });
      return { delta: buffered[winner]!.contribution.delta.slice(), decisions };
    });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Multi-Krum

/**
 * Multi-Krum (Blanchard et al. NeurIPS 2017, §5): Krum's scores are computed once over all n contributions and the
 * m lowest-scoring ones (ties: the earliest) are averaged, weighted by contribution.weight; m = 1 is Krum, m = n is
 * the mean. Assumes at most f Byzantine of n and needs n > 2f + 2; m ≤ n.
 * Params: `f` (required, integer ≥ 0), `m` (integer ≥ 1, default n − f), `maxAbs` (optional).
 * Cost: O(n²·d + n² log n + m·d) time; O(n²) memory besides the frame's O(n·d).
 */
export const multiKrumRule: AggregationRule = {
  name: 'multi-krum',
  summary: 'weighted mean of the m contributions with the lowest Krum scores (Blanchard et al. 2017); tolerates f Byzantine of n > 2f + 2',
  resolveParams: (params) =>
    resolveWithRequiredF('multi-krum', params, {
      f: F_SPEC,
      m: { valid: isPositiveInteger, requirement: 'an integer >= 1 (contributions to keep; default n − f)' },
      maxAbs: MAX_ABS_SPEC,
    }),
  createAccumulator: ({ dimension, params }) => {
    const p = multiKrumRule.resolveParams(params);
    const f = p['f']!;
    return createBufferedAccumulator(dimension, { name: 'multi-krum', ...limitsOf(p) }, (buffered): CombineResult => {
      const n = buffered.length;
      requireKrumN('multi-krum', n, f);
      const m = p['m'] ?? n - f;
      if (m > n) throw new CohortError('FAILED_PRECONDITION', `multi-krum needs m <= n: m = ${m}, n = ${n}`, { m, n });
      const { scores, order, rank } = krumScoresAndRanking(neighbourTable(buffered), f);
      const kept = new Set(order.slice(0, m));
      const delta = weightedMean(
        buffered[0]!.contribution.delta.length,
        order.slice(0, m).map((i) => buffered[i]!.contribution),
      );
      const decisions = buffered.map((_, i): RuleDecision => {
        const s = { krumScore: scores[i]!, krumRank: rank[i]! };
        const why = `multi-krum: score ${fmt(scores[i]!)} (sum of squared distances to its ${n - f - 2} nearest) ranks ${rank[i]} of ${n}; ${m} kept`;
        return kept.has(i) ? { verdict: 'accepted', reason: why, scores: s } : { verdict: 'rejected', reason: why, scores: s, effectiveWeight: 0 };
      });
      return { delta, decisions };
    });
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Bulyan

/**
 * Bulyan over Krum (El Mhamdi, Guerraoui, Rouault, "The Hidden Vulnerability of Distributed Learning in Byzantium",
 * ICML 2018, §4), as the paper defines it:
 * 1. Selection: θ = n − 2f rounds; each applies Krum, with the same f, to the contributions not yet selected
 *    (k = r − f − 2 neighbours on r remaining, floored at 0) and moves the winner (ties: the earliest) into S.
 *    In the last two rounds r = 2f + 2 and 2f + 1 are below Krum's own n > 2f + 2; the paper runs them anyway and so
 *    do we (with f = 1 the last round scores every candidate 0 and takes the earliest: step 2 is what bounds it).
 * 2. Per coordinate j: med_j = median of the θ values of S (the two middle values averaged when θ is even); M_j =
 *    the β = θ − 2f values closest to med_j, i.e. argmin over |R| = β of Σ_{X∈R} |X_j − med_j| (ties at the
 *    boundary: the earliest contribution); G_j = mean of M_j. This is NOT the trimmed mean of S (dropping the f
 *    largest and f smallest): when S is skewed the β closest to the median can all lie on one side of it.
 *    The mean of M_j is weighted by contribution.weight (the paper's plain mean when weights are equal); med_j
 *    and M_j are chosen as in the paper, counting contributions.
 * Assumes at most f Byzantine of n and needs n ≥ 4f + 3 (so β ≥ 3). Params: `f` (required), `maxAbs` (optional).
 * Verdicts: outside S rejected; inside S accepted with its selection round and the fraction of coordinates in which
 * it was averaged (rejected if that fraction is 0: it had no influence).
 * Cost: O(n²·d) distances + O(n³) selection + O(d·θ log θ) coordinate phase; O(n² + d) memory besides the buffer.
 */
export const bulyanRule: AggregationRule = {
  name: 'bulyan',
  summary: 'iterated Krum picks n − 2f, then per coordinate the mean of the n − 4f values closest to the median (El Mhamdi et al. 2018); needs n ≥ 4f + 3',
  resolveParams: (params) => resolveWithRequiredF('bulyan', params, { f: F_SPEC, maxAbs: MAX_ABS_SPEC }),
  createAccumulator: ({ dimension, params }) => {
    const p = bulyanRule.resolveParams(params);
    const f = p['f']!;
    return createBufferedAccumulator(dimension, { name: 'bulyan', ...limitsOf(p) }, (buffered) => combineBulyan(buffered, dimension, f));
  },
};

function combineBulyan(buffered: readonly BufferedContribution[], d: number, f: number): CombineResult {
  const n = buffered.length;
  if (!(n >= 4 * f + 3)) {
    throw new CohortError('FAILED_PRECONDITION', `bulyan needs n >= 4f + 3 contributions: n = ${n}, f = ${f}`, { n, f, required: 4 * f + 3 });
  }
  const theta = n - 2 * f;
  const beta = theta - 2 * f;
  const table = neighbourTable(buffered);
  const firstRound = krumScoresAndRanking(table, f);

  // 1. Iterated Krum.
  const removed = new Uint8Array(n);
  const round = new Int32Array(n); // 0 = never selected
  const selectionScore = new Float64Array(n);
  const lastScore = new Float64Array(n); // score in the latest round the contribution took part in
  for (let r = 1; r <= theta; r++) {
    const k = Math.max(0, n - (r - 1) - f - 2);
    let best = -1;
    let bestScore = Infinity;
    for (let i = 0; i < n; i++) {
      if (removed[i] === 1) continue;
      const s = krumScore(table, i, removed, k);
      lastScore[i] = s;
      if (s < bestScore) {
        best = i;
        bestScore = s;
      }
    }
    removed[best] = 1;
    round[best] = r;
    selectionScore[best] = bestScore;
  }

  // 2. Coordinate-wise average of the β values closest to the median, over S in arrival order.
  const members: number[] = [];
  for (let i = 0; i < n; i++) if (round[i]! > 0) members.push(i);
  const vectors = members.map((i) => buffered[i]!.contribution.delta);
  const weights = members.map((i) => buffered[i]!.contribution.weight);
  const values = new Float64Array(theta);
  const sorted = new Float64Array(theta);
  const taken = new Uint8Array(theta);
  const usedIn = new Float64Array(theta); // coordinates in which member t was averaged
  const shareSum = new Float64Array(theta); // Σ_j of member t's weight share in coordinate j
  const out = new Float32Array(d);
  const lowMiddle = (theta - 1) >> 1;
  for (let j = 0; j < d; j++) {
    for (let t = 0; t < theta; t++) values[t] = vectors[t]![j]!;
    sorted.set(values);
    sorted.sort();
    const med = theta % 2 === 1 ? sorted[lowMiddle]! : (sorted[lowMiddle]! + sorted[lowMiddle + 1]!) / 2;
    // τ = the β-th smallest |v − med|: merge outwards from the middle of the sorted values.
    let lo = lowMiddle;
    let hi = lowMiddle + 1;
    let tau = 0;
    for (let c = 0; c < beta; c++) {
      const below = lo >= 0 ? med - sorted[lo]! : Infinity;
      const above = hi < theta ? sorted[hi]! - med : Infinity;
      if (below <= above) {
        tau = below;
        lo--;
      } else {
        tau = above;
        hi++;
      }
    }
    // M_j: every value strictly closer than τ, then values at exactly τ in arrival order until β are taken.
    taken.fill(0);
    let count = 0;
    for (let t = 0; t < theta; t++) {
      if (Math.abs(values[t]! - med) < tau) {
        taken[t] = 1;
        count++;
      }
    }
    for (let t = 0; t < theta && count < beta; t++) {
      if (taken[t] === 0 && Math.abs(values[t]! - med) === tau) {
        taken[t] = 1;
        count++;
      }
    }
    let sum = 0;
    let total = 0;
    for (let t = 0; t < theta; t++) {
      if (taken[t] === 1) {
        sum += weights[t]! * values[t]!;
        total += weights[t]!;
      }
    }
    out[j] = sum / total;
    for (let t = 0; t < theta; t++) {
      if (taken[t] === 1) {
        usedIn[t]! += 1;
        shareSum[t]! += weights[t]! / total;
      }
    }
  }

  const selectedWeight = weights.reduce((a, b) => a + b, 0);
  const memberIndex = new Map(members.map((i, t) => [i, t]));
  const decisions = buffered.map((_, i): RuleDecision => {
    const t = memberIndex.get(i);
    if (t === undefined) {
      return {
        verdict: 'rejected',
        reason: `bulyan: not among the θ = ${theta} chosen by iterated Krum; Krum score ${fmt(firstRound.scores[i]!)} ranks ${firstRound.rank[i]} of ${n}`,
        scores: { krumScore: firstRound.scores[i]!, krumRank: firstRound.rank[i]!, lastRoundScore: lastScore[i]! },
        effectiveWeight: 0,
      };
    }
    const coordinateShare = usedIn[t]! / d;
    const scores = { krumScore: firstRound.scores[i]!, krumRank: firstRound.rank[i]!, selectionRound: round[i]!, selectionScore: selectionScore[i]!, coordinateShare };
    const chosen = `bulyan: chosen by Krum in round ${round[i]} of θ = ${theta} (score ${fmt(selectionScore[i]!)})`;
    if (usedIn[t] === 0) {
      return { verdict: 'rejected', reason: `${chosen} but never among the β = ${beta} values closest to a coordinate median`, scores, effectiveWeight: 0 };
    }
    return {
      verdict: 'accepted',
      reason: `${chosen}; among the β = ${beta} values closest to the median in ${fmt(100 * coordinateShare)}% of coordinates`,
      scores,
      // Its mean share of the aggregate over coordinates, in weight units; the frame turns it back into that share.
      effectiveWeight: (selectedWeight * shareSum[t]!) / d,
    };
  });
  return { delta: out, decisions };
}

// ---------------------------------------------------------------------------------------------------------------
// Geometric median

/** A contribution farther from the geometric median than this many times the median distance is down-weighted. */
export const GEOMETRIC_MEDIAN_OUTLIER_FACTOR = 3;

/**
 * Geometric median (RFA: Pillutla, Kakade, Harchaoui, "Robust Aggregation for Federated Learning", IEEE TSP 2022,
 * Algorithm 3, the smoothed Weiszfeld): z minimizing Σ w_i ‖x_i − z‖ with w_i = contribution.weight. Starting at
 * the weighted mean, z ← Σ β_i x_i / Σ β_i with β_i = w_i / max(ν, ‖x_i − z‖), until the objective
 * F(z) = Σ w_i ‖x_i − z‖ changes by at most `tolerance` · F (RFA's reference code stops on the same relative
 * objective change) or after `maxIterations` updates. The relative test is on F, which outliers dominate: with far
 * outliers it stops while z still moves by a small fraction of their distance (within the honest spread in tests).
 * Assumes the Byzantine contributions hold less than half the total weight (breakdown point 1/2).
 * Params: `tolerance` (> 0, default 1e-6), `maxIterations` (integer ≥ 1, default 100), `smoothing` ν (> 0, model
 * units, default 1e-6), `maxAbs` (optional). Every contribution keeps a positive weight β_i: it is down-weighted
 * when its distance to z exceeds GEOMETRIC_MEDIAN_OUTLIER_FACTOR (3) × the median of the n distances, else
 * accepted. Scores: weiszfeldWeight = (β_i / Σβ) / (w_i / Σw) from the last update (1 = its share in a plain
 * weighted mean), distanceToMedian, medianDistance, iterations, converged (1 or 0).
 * Cost: O(T·n·d) time for T iterations, O(n + d) memory besides the frame's buffer.
 */
export const geometricMedianRule: AggregationRule = {
  name: 'geometric-median',
  summary: 'weighted geometric median by smoothed Weiszfeld iterations (RFA, Pillutla et al. 2022); tolerates Byzantine contributions holding < 1/2 of the weight',
  resolveParams: (params) =>
    resolveRuleParams('geometric-median', params, {
      tolerance: { default: 1e-6, valid: (x) => x > 0, requirement: 'a finite number > 0 (relative change of the objective)' },
      maxIterations: { default: 100, valid: isPositiveInteger, requirement: 'an integer >= 1' },
      smoothing: { default: 1e-6, valid: (x) => x > 0, requirement: 'a finite number > 0 (distance floor ν, model units)' },
      maxAbs: MAX_ABS_SPEC,
    }),
  createAccumulator: ({ dimension, params }) => {
    const p = geometricMedianRule.resolveParams(params);
    const options = { tolerance: p['tolerance']!, maxIterations: p['maxIterations']!, smoothing: p['smoothing']! };
    return createBufferedAccumulator(dimension, { name: 'geometric-median', ...limitsOf(p) }, (buffered) => combineGeometricMedian(buffered, dimension, options));
  },
};

function distancesTo(vectors: readonly Float32Array[], z: Float64Array, out: Float64Array): void {
  for (let i = 0; i < vectors.length; i++) {
    const x = vectors[i]!;
    let s = 0;
    for (let j = 0; j < z.length; j++) {
      const t = x[j]! - z[j]!;
      s += t * t;
    }
    out[i] = Math.sqrt(s);
  }
}

function combineGeometricMedian(buffered: readonly BufferedContribution[], d: number, options: { tolerance: number; maxIterations: number; smoothing: number }): CombineResult {
  const n = buffered.length;
  const vectors = buffered.map((b) => b.contribution.delta);
  const w = buffered.map((b) => b.contribution.weight);
  const totalWeight = w.reduce((a, b) => a + b, 0);
  const objective = (dist: Float64Array): number => w.reduce((s, wi, i) => s + wi * dist[i]!, 0);

  const z = new Float64Array(d);
  const setToWeightedSum = (coefficients: ArrayLike<number>, total: number): void => {
    z.fill(0);
    for (let i = 0; i < n; i++) {
      const c = coefficients[i]!;
      const x = vectors[i]!;
      for (let j = 0; j < d; j++) z[j]! += c * x[j]!;
    }
    for (let j = 0; j < d; j++) z[j]! /= total;
  };
  setToWeightedSum(w, totalWeight);
  const dist = new Float64Array(n);
  distancesTo(vectors, z, dist);
  let value = objective(dist);

  const beta = new Float64Array(n);
  let betaTotal = totalWeight;
  beta.set(w);
  let iterations = 0;
  let converged = false;
  while (iterations < options.maxIterations) {
    betaTotal = 0;
    for (let i = 0; i < n; i++) {
      beta[i] = w[i]! / Math.max(options.smoothing, dist[i]!);
      betaTotal += beta[i]!;
    }
    setToWeightedSum(beta, betaTotal);
    iterations++;
    distancesTo(vectors, z, dist);
    const next = objective(dist);
    // ≤ rather than RFA's <, so an exact fixed point (F = 0: all contributions equal) stops at once.
    converged = Math.abs(value - next) <= options.tolerance * next;
    value = next;
    if (converged) break;
  }

  const medianDistance = medianOf(dist);
  const threshold = GEOMETRIC_MEDIAN_OUTLIER_FACTOR * medianDistance;
  const delta = Float32Array.from(z);
  const decisions = buffered.map((_, i): RuleDecision => {
    const share = beta[i]! / betaTotal;
    const weiszfeldWeight = share / (w[i]! / totalWeight);
    const scores = { weiszfeldWeight, distanceToMedian: dist[i]!, medianDistance, iterations, converged: converged ? 1 : 0 };
    const far = dist[i]! > threshold;
    const reason =
      `geometric-median: distance ${fmt(dist[i]!)} ${far ? '>' : '<='} ${GEOMETRIC_MEDIAN_OUTLIER_FACTOR} × median distance ${fmt(medianDistance)}; ` +
      `Weiszfeld weight ×${fmt(weiszfeldWeight)} of its data weight (${iterations} iterations${converged ? '' : ', not converged'})`;
    return { verdict: far ? 'down-weighted' : 'accepted', reason, scores, effectiveWeight: share * totalWeight };
  });
  return { delta, decisions };
}

/** The median of the values (the two middle values averaged for an even count). */
function medianOf(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** The rules of this file, for registration. */
export const DISTANCE_BASED_RULES: readonly AggregationRule[] = [krumRule, multiKrumRule, bulyanRule, geometricMedianRule];
