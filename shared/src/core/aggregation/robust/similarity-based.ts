/**
 * Robust rules that decide from the directions of the updates: FLTrust (cosine to a server-side reference update),
 * FoolsGold (pairwise cosine similarity of the clients' update histories, against sybils) and FLAME (majority
 * cluster by cosine distance, then median-norm clipping and Gaussian noise). Each runs inside the buffered frame
 * (buffered.ts), which adds the common scores to every verdict.
 */
import { CohortError } from '../../errors.js';
import { normal } from '../../rng/index.js';
import type { AccumulatorContext, AggregationRule, RuleParams, RuleParamSpec } from '../rules.js';
import { resolveRuleParams } from '../rules.js';
import type { AggregationAccumulator } from '../types.js';
import type { BufferedContribution, CombineResult, RuleDecision } from './buffered.js';
import { createBufferedAccumulator } from './buffered.js';

const MAX_ABS_SPEC: RuleParamSpec = { valid: (x) => x > 0, requirement: 'a finite number > 0 (model units)' };

function limitsOf(params: RuleParams): { maxAbs?: number } {
  const maxAbs = params['maxAbs'];
  return maxAbs === undefined ? {} : { maxAbs };
}

/** A number for a reason string: 3 significant digits, no trailing zeros. */
function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(3)));
}

function percent(share: number): string {
  return `${String(Number((share * 100).toPrecision(3)))}%`;
}

/**
 * Inner products of every pair of vectors, n×n row-major, in float64. Every entry, the diagonal included, is summed
 * in the same order, so two identical vectors get a cosine of exactly 1 (sqrt(s·s) = s in IEEE arithmetic).
 */
function gramMatrix(vectors: readonly Float32Array[]): Float64Array {
  const n = vectors.length;
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const a = vectors[i]!;
    for (let j = i; j < n; j++) {
      const b = vectors[j]!;
      let sum = 0;
      for (let k = 0; k < a.length; k++) sum += a[k]! * b[k]!;
      gram[i * n + j] = sum;
      gram[j * n + i] = sum;
    }
  }
  return gram;
}

/** Pairwise cosine similarities from a Gram matrix; 0 when either vector is zero (as scikit-learn's cosine_similarity). */
function cosineMatrix(vectors: readonly Float32Array[]): Float64Array {
  const n = vectors.length;
  const gram = gramMatrix(vectors);
  const cos = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const scale = Math.sqrt(gram[i * n + i]! * gram[j * n + j]!);
      cos[i * n + j] = scale > 0 ? Math.min(1, Math.max(-1, gram[i * n + j]! / scale)) : 0;
    }
  }
  return cos;
}

// ---------------------------------------------------------------------------------------------------------------
// FLTrust
// ---------------------------------------------------------------------------------------------------------------

/** Supplies the server's update on its root dataset for the round being aggregated (length d), or null if none. */
export type FlTrustServerUpdate = () => Float32Array | null;

const FLTRUST_MISSING = "fltrust needs the server's root-dataset update for this round";

const FLTRUST_SUMMARY = "FLTrust: trust = ReLU(cosine with the server's root-dataset update), each update rescaled to that update's norm, trust-weighted mean (needs a clean root dataset on the server)";

function resolveFlTrustParams(params: RuleParams): RuleParams {
  return resolveRuleParams('fltrust', params, { maxAbs: MAX_ABS_SPEC });
}

function checkServerUpdate(update: Float32Array | null, dimension: number): { g0: Float32Array; norm: number } {
  if (update === null || update === undefined) throw new CohortError('FAILED_PRECONDITION', `${FLTRUST_MISSING}: none was supplied`);
  if (!(update instanceof Float32Array) || update.length !== dimension) {
    const length = update instanceof Float32Array ? `${update.length} elements` : 'not a Float32Array';
    throw new CohortError('FAILED_PRECONDITION', `${FLTRUST_MISSING}: the one supplied has ${length}, expected ${dimension}`, { expected: dimension });
  }
  let sumSquares = 0;
  for (let k = 0; k < update.length; k++) {
    const x = update[k]!;
    if (!Number.isFinite(x)) throw new CohortError('FAILED_PRECONDITION', `${FLTRUST_MISSING}: the one supplied has element ${k} = ${x}, expected a finite number`, { index: k });
    sumSquares += x * x;
  }
  const norm = Math.sqrt(sumSquares);
  if (!(norm > 0)) {
    throw new CohortError('FAILED_PRECONDITION', "fltrust: the server's root-dataset update is the zero vector, so trust (cosine with it) is undefined");
  }
  return { g0: update, norm };
}

/** FLTrust's combine step over the buffered contributions, given the server update g0. */
function combineFlTrust(dimension: number, all: readonly BufferedContribution[], serverUpdate: Float32Array | null): CombineResult {
  const { g0, norm: g0Norm } = checkServerUpdate(serverUpdate, dimension);
  const n = all.length;
  const cosines = new Float64Array(n);
  const trust = new Float64Array(n);
  let trustSum = 0;
  let trusted = 0;
  for (let i = 0; i < n; i++) {
    const { contribution, l2Norm } = all[i]!;
    let product = 0;
    for (let k = 0; k < dimension; k++) product += contribution.delta[k]! * g0[k]!;
    // A zero update has no direction: cosine 0, so trust 0 (the paper's formula would divide by zero).
    const cos = l2Norm > 0 ? Math.min(1, Math.max(-1, product / (l2Norm * g0Norm))) : 0;
    cosines[i] = cos;
    trust[i] = Math.max(0, cos);
    trustSum += trust[i]!;
    if (trust[i]! > 0) trusted++;
  }
  const delta = new Float32Array(dimension);
  if (trustSum > 0) {
    const sum = new Float64Array(dimension);
    for (let i = 0; i < n; i++) {
      if (!(trust[i]! > 0)) continue;
      const { contribution, l2Norm } = all[i]!;
      // TS_i · (‖g0‖/‖g_i‖) g_i / Σ TS: trust weight times the update rescaled to the server update's norm.
      const coefficient = (trust[i]! * (g0Norm / l2Norm)) / trustSum;
      for (let k = 0; k < dimension; k++) sum[k]! += coefficient * contribution.delta[k]!;
    }
    for (let k = 0; k < dimension; k++) delta[k] = sum[k]!;
  }
  const equalShare = trusted > 0 ? 1 / trusted : 0;
  const decisions: RuleDecision[] = all.map(({ l2Norm }, i) => {
    const cos = cosines[i]!;
    const ts = trust[i]!;
    const rescale = l2Norm > 0 ? g0Norm / l2Norm : 0;
    const scores = { trust: ts, cosineToServer: cos, rescale };
    if (!(ts > 0)) {
      const why = l2Norm > 0 ? `cosine ${fmt(cos)} with the server update, trust 0` : 'zero update, no direction to compare with the server update, trust 0';
      const none = trustSum > 0 ? '' : '; no contribution agrees with the server update, so the aggregate is the zero vector';
      return { verdict: 'rejected', reason: `fltrust: ${why}${none}`, scores, effectiveWeight: 0 };
    }
    const share = ts / trustSum;
    // Trust varies from client to client; only a share under half the equal one counts as held down.
    const below = share < 0.5 * equalShare * (1 - 1e-12);
    const reason = `fltrust: cosine ${fmt(cos)} with the server update, trust ${fmt(ts)}, share ${percent(share)} (equal share ${percent(equalShare)}); rescaled ×${fmt(rescale)} to the server update's norm ${fmt(g0Norm)}`;
    return { verdict: below ? 'down-weighted' : 'accepted', reason, scores, effectiveWeight: ts };
  });
  return { delta, decisions };
}

/**
 * FLTrust (Cao, Fang, Liu, Gong, "FLTrust: Byzantine-robust Federated Learning via Trust Bootstrapping", NDSS 2021).
 * The server trains on a small clean root dataset each round; its update g0 is the reference. Trust
 * TS_i = ReLU(cos(g_i, g0)); each update is rescaled to ‖g0‖; aggregate = Σ TS_i (‖g0‖/‖g_i‖) g_i / Σ TS_i.
 *
 * Assumption: the root dataset is clean and drawn from (close to) the task's distribution; no bound on the number of
 * malicious clients (the paper's claim), any n ≥ 1. Example counts are ignored, as in the paper: the weights are
 * the trust scores alone (a client cannot buy influence by claiming many examples). When Σ TS_i = 0 (no
 * contribution has a positive cosine with g0) the formula would divide by zero: the aggregate is the zero vector
 * and every contribution is rejected. A zero update has no direction: trust 0. Verdicts: trust 0 → rejected; a
 * share TS_i/Σ TS below half the equal share 1/m of the m trusted contributions → down-weighted; otherwise accepted.
 * Scores: trust, cosineToServer, rescale (‖g0‖/‖g_i‖). effectiveWeight is TS_i, so the frame's share is
 * TS_i/Σ TS (the magnitude rescaling is reported separately).
 * Cost: O(n·d) time, O(n·d) memory (buffered).
 *
 * `serverUpdate` is called once, at finish(); null, a wrong length, a non-finite element or a zero vector fail the
 * round with FAILED_PRECONDITION.
 */
export function createFlTrustRule(serverUpdate: FlTrustServerUpdate): AggregationRule {
  return {
    name: 'fltrust',
    summary: FLTRUST_SUMMARY,
    resolveParams: resolveFlTrustParams,
    createAccumulator: ({ dimension, params }: AccumulatorContext): AggregationAccumulator =>
      createBufferedAccumulator(dimension, { name: 'fltrust', ...limitsOf(params) }, (all) => combineFlTrust(dimension, all, serverUpdate())),
  };
}

/**
 * FLTrust registered by name: the reference is the context's `referenceUpdate`, which the coordinator trains on the
 * federation's root dataset (`aggregation.rootDataset`) each round. Without one, createAccumulator throws
 * CONFIG_INVALID naming `aggregation.rootDataset`: it never aggregates without the reference.
 */
export const fltrustRule: AggregationRule = {
  name: 'fltrust',
  summary: FLTRUST_SUMMARY,
  resolveParams: resolveFlTrustParams,
  createAccumulator: (context: AccumulatorContext): AggregationAccumulator => {
    const reference = context.referenceUpdate;
    if (reference === undefined) {
      throw new CohortError(
        'CONFIG_INVALID',
        "aggregation.rootDataset: fltrust needs the server's update on a clean root dataset every round, and none is trained: name the root dataset in the federation's aggregation.rootDataset",
        { field: 'aggregation.rootDataset' },
      );
    }
    return createFlTrustRule(reference).createAccumulator(context);
  },
};

// ---------------------------------------------------------------------------------------------------------------
// FoolsGold
// ---------------------------------------------------------------------------------------------------------------

/** Where stateful FoolsGold keeps each client's historical update H_i = Σ_t Δ_{i,t} between rounds. */
export interface FoolsGoldHistory {
  /** The client's summed updates so far (model units, length d), or undefined for a client not seen yet. */
  get(clientId: string): Float32Array | undefined;
  /** Stores the client's new sum after a round (a fresh array the rule no longer touches). */
  set(clientId: string, sum: Float32Array): void;
}

/** A FoolsGoldHistory in a Map (one float32 vector of length d per client ever seen). */
export function createInMemoryFoolsGoldHistory(): FoolsGoldHistory & { readonly size: number } {
  const sums = new Map<string, Float32Array>();
  return {
    get: (clientId) => sums.get(clientId),
    set: (clientId, sum) => {
      sums.set(clientId, sum);
    },
    get size() {
      return sums.size;
    },
  };
}

/** FoolsGold's per-contribution outcome (Algorithm 1 of the paper). */
export interface FoolsGoldWeights {
  /** α_i in [0, 1] after the logit and clipping: the contribution's learning rate. */
  readonly learningRates: number[];
  /** v_i = max_j cs_ij before pardoning (the diagonal counts as 0, so v_i ≥ 0). */
  readonly maxSimilarity: number[];
  /** max_j cs_ij after pardoning (1 − this is α_i before normalisation). */
  readonly pardonedSimilarity: number[];
  /** Index of the contribution that gave pardonedSimilarity, or −1 when it is the 0 of the diagonal. */
  readonly closest: number[];
  /** True when every α_i was 0 before normalisation (everyone has a twin): all learning rates are set to 1. */
  readonly indistinguishable: boolean;
}

/**
 * FoolsGold's learning rates from the clients' histories (Fung, Yoon, Beschastnikh, RAID 2020, Algorithm 1, with
 * the details of the authors' reference code): cs = cosine similarity matrix with a zero diagonal (cs − I);
 * v_i = max_j cs_ij; pardoning cs_ij ·= v_i/v_j when v_j > v_i (i ≠ j); α_i = 1 − max_j cs_ij clipped to [0, 1];
 * α_i /= max α; α_i = 1 exactly becomes 0.99; α_i = κ(ln(α_i/(1 − α_i)) + 0.5) clipped to [0, 1] (ln 0 = −∞ → 0).
 * When max α = 0 (every contribution has an identical twin) the reference code divides 0 by 0; here every α is
 * equal, and equal values normalise to 1, so every learning rate is 1.
 */
export function foolsGoldLearningRates(histories: readonly Float32Array[], kappa = 1): FoolsGoldWeights {
  if (!(kappa > 0 && Number.isFinite(kappa))) throw new RangeError(`kappa must be a finite number > 0, got ${kappa}`);
  const n = histories.length;
  const cs = cosineMatrix(histories);
  for (let i = 0; i < n; i++) cs[i * n + i] = 0;
  const maxSimilarity: number[] = [];
  for (let i = 0; i < n; i++) {
    let v = -Infinity;
    for (let j = 0; j < n; j++) v = Math.max(v, cs[i * n + j]!);
    maxSimilarity.push(v);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j && maxSimilarity[i]! < maxSimilarity[j]!) cs[i * n + j]! *= maxSimilarity[i]! / maxSimilarity[j]!;
    }
  }
  const pardonedSimilarity: number[] = [];
  const closest: number[] = [];
  const alpha: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    let at = -1;
    for (let j = 0; j < n; j++) {
      if (j !== i && cs[i * n + j]! > best) {
        best = cs[i * n + j]!;
        at = j;
      }
    }
    pardonedSimilarity.push(best);
    closest.push(at);
    alpha.push(Math.min(1, Math.max(0, 1 - best)));
  }
  const maxAlpha = Math.max(...alpha);
  if (!(maxAlpha > 0)) {
    return { learningRates: alpha.map(() => 1), maxSimilarity, pardonedSimilarity, closest, indistinguishable: true };
  }
  const learningRates = alpha.map((a) => {
    let x = a / maxAlpha;
    if (x === 1) x = 0.99;
    const logit = kappa * (Math.log(x / (1 - x)) + 0.5);
    if (logit > 1 || logit === Infinity) return 1;
    if (!(logit > 0)) return 0;
    return logit;
  });
  return { learningRates, maxSimilarity, pardonedSimilarity, closest, indistinguishable: false };
}

const FOOLSGOLD_SUMMARY = 'FoolsGold: per-client learning rates from pairwise cosine similarity of update histories (pardoning, logit), weighted mean; against sybils pushing one goal';

function resolveFoolsGoldParams(params: RuleParams): RuleParams {
  return resolveRuleParams('foolsgold', params, {
    kappa: { default: 1, valid: (x) => x > 0, requirement: 'a finite number > 0 (confidence of the logit)' },
    maxAbs: MAX_ABS_SPEC,
  });
}

function combineFoolsGold(dimension: number, all: readonly BufferedContribution[], histories: readonly Float32Array[], kappa: number, scope: string): CombineResult {
  const weights = foolsGoldLearningRates(histories, kappa);
  const { learningRates } = weights;
  const sum = new Float64Array(dimension);
  let total = 0;
  for (let i = 0; i < all.length; i++) {
    const w = learningRates[i]! * all[i]!.contribution.weight;
    if (!(w > 0)) continue;
    const delta = all[i]!.contribution.delta;
    for (let k = 0; k < dimension; k++) sum[k]! += w * delta[k]!;
    total += w;
  }
  // At least one learning rate is 1 (the largest α normalises to 1 → 0.99 → logit ≥ 1), so total > 0.
  const delta = new Float32Array(dimension);
  for (let k = 0; k < dimension; k++) delta[k] = sum[k]! / total;
  const decisions: RuleDecision[] = all.map((b, i) => {
    const lr = learningRates[i]!;
    const scores = { learningRate: lr, maxSimilarity: weights.maxSimilarity[i]!, pardonedSimilarity: weights.pardonedSimilarity[i]! };
    const j = weights.closest[i]!;
    const partner = j >= 0 ? ` with "${all[j]!.contribution.id}"` : '';
    const similarity = `max cosine similarity ${fmt(weights.pardonedSimilarity[i]!)}${partner} after pardoning (${fmt(weights.maxSimilarity[i]!)} before) ${scope}`;
    if (weights.indistinguishable) {
      return { verdict: 'accepted', reason: `foolsgold: learning rate 1: every contribution has an identical twin (${similarity}), so sybils cannot be told apart and all count equally`, scores };
    }
    const effectiveWeight = lr * b.contribution.weight;
    if (!(lr > 0)) return { verdict: 'rejected', reason: `foolsgold: learning rate 0: ${similarity} marks it as a likely sybil`, scores, effectiveWeight: 0 };
    if (lr < 1) return { verdict: 'down-weighted', reason: `foolsgold: learning rate ${fmt(lr)}: ${similarity}`, scores, effectiveWeight };
    return { verdict: 'accepted', reason: `foolsgold: learning rate 1: ${similarity}`, scores, effectiveWeight };
  });
  return { delta, decisions };
}

/**
 * FoolsGold with the paper's memory (Fung, Yoon, Beschastnikh, "The Limitations of Federated Learning in Sybil
 * Settings", RAID 2020): similarities are computed on each client's historical update H_i = Σ_t Δ_{i,t}, kept in
 * `history` under the contribution id (the client id in plaintext mode) and updated once the round's weights are
 * known (nothing is written when finish() fails). Learning rates: see foolsGoldLearningRates.
 *
 * Aggregate = Σ α_i w_i Δ_i / Σ α_i w_i, w_i the example count: the α-weighted mean of this round's updates,
 * normalised (the paper's Algorithm 1 adds Σ α_i Δ_i unnormalised, the authors' deep-learning code divides
 * Σ α_i Δ_i by n; all three agree when every α_i = 1 and weights are equal; normalising keeps the step's size
 * independent of how many sybils were zeroed). Verdicts: α = 0 → rejected, α < 1 → down-weighted, else accepted;
 * scores learningRate (α), maxSimilarity, pardonedSimilarity; effectiveWeight α_i·w_i.
 *
 * Deviations from the paper: only this round's participants are compared (clients absent this round are not);
 * similarity uses the whole update vector (the paper can restrict it to indicative features; the authors' deep
 * learning code uses the output layer only). Contributions that merge several clients (bucketed secure mode, where
 * buckets are redrawn every round) have no history: FAILED_PRECONDITION, use `foolsgold` (this round only).
 *
 * Assumption: sybils share a goal, so their histories are more alike than honest clients' (non-IID) ones; no bound
 * on the number of sybils, but a single attacker, or attackers that diversify their updates, are not caught.
 * Cost: O(n²·d) time, O(n² + n·d) memory per round, plus O(d) stored per client ever seen.
 */
export function createFoolsGoldRule(history: FoolsGoldHistory): AggregationRule {
  return {
    name: 'foolsgold',
    summary: FOOLSGOLD_SUMMARY,
    resolveParams: resolveFoolsGoldParams,
    createAccumulator: ({ dimension, params }: AccumulatorContext): AggregationAccumulator =>
      createBufferedAccumulator(dimension, { name: 'foolsgold', ...limitsOf(params) }, (all) => {
        const sums = all.map(({ contribution: c }) => {
          if (c.clientIds.length !== 1) {
            throw new CohortError(
              'FAILED_PRECONDITION',
              `foolsgold: keeps a history per client, but contribution "${c.id}" merges ${c.clientIds.length} clients (bucketed mode redraws buckets every round); use the per-round foolsgold rule`,
              { contributionId: c.id },
            );
          }
          const previous = history.get(c.id);
          if (previous !== undefined && previous.length !== dimension) {
            throw new CohortError('FAILED_PRECONDITION', `foolsgold: the stored history of "${c.id}" has ${previous.length} elements, expected ${dimension} (the model changed shape; start a new history)`, {
              contributionId: c.id,
            });
          }
          const sum = new Float32Array(dimension);
          for (let k = 0; k < dimension; k++) sum[k] = (previous === undefined ? 0 : previous[k]!) + c.delta[k]!;
          return sum;
        });
        const result = combineFoolsGold(dimension, all, sums, params['kappa'] ?? 1, 'over its update history');
        for (let i = 0; i < all.length; i++) history.set(all[i]!.contribution.id, sums[i]!);
        return result;
      }),
  };
}

/**
 * FoolsGold without memory: the history of every contribution is this round's update alone (H_i = Δ_i). This is a
 * deviation from the paper, whose memory lets sybils that look diverse in one round be caught over many; it is the
 * variant that works on contributions without stable ids (bucket means). Otherwise as createFoolsGoldRule.
 * Params: kappa (default 1, > 0), maxAbs (optional). Any n ≥ 1 (n = 1: learning rate 1).
 * Cost: O(n²·d) time, O(n² + n·d) memory.
 */
export const foolsgoldRule: AggregationRule = {
  name: 'foolsgold',
  summary: `${FOOLSGOLD_SUMMARY} (this round's updates only)`,
  resolveParams: resolveFoolsGoldParams,
  createAccumulator: ({ dimension, params }: AccumulatorContext): AggregationAccumulator =>
    createBufferedAccumulator(dimension, { name: 'foolsgold', ...limitsOf(params) }, (all) =>
      combineFoolsGold(
        dimension,
        all,
        all.map((b) => b.contribution.delta),
        params['kappa'] ?? 1,
        'this round',
      ),
    ),
};

// ---------------------------------------------------------------------------------------------------------------
// FLAME
// ---------------------------------------------------------------------------------------------------------------

/** The majority cluster FLAME admits, with the single-linkage distance at which it forms. */
interface MajorityCluster {
  readonly members: boolean[];
  readonly size: number;
  /** d*: the smallest cosine distance at which a single-linkage component reaches the minimum cluster size. */
  readonly linkage: number;
}

/**
 * The cluster HDBSCAN(min_cluster_size = m = ⌊n/2⌋ + 1, min_samples = 1, allow_single_cluster = true,
 * metric = 'precomputed') labels, computed directly. With min_samples = 1 the mutual-reachability distance equals
 * the distance itself, so the hierarchy is single linkage. Since 2m > n, no split of it can leave two parts of ≥ m
 * points: the condensed tree is the root cluster alone, which points leave as the distance shrinks, and the
 * hdbscan library's labelling of a single selected cluster keeps exactly the points that leave last, at the
 * largest λ = 1/distance. Those are the points of the single-linkage component (all edges ≤ d*) that first
 * reaches m points as the threshold d* grows (Kruskal, ties at d* included). It always has ≥ ⌊n/2⌋ + 1 members.
 */
function majorityCluster(distance: Float64Array, n: number): MajorityCluster {
  const minSize = Math.floor(n / 2) + 1;
  if (n === 1) return { members: [true], size: 1, linkage: 0 };
  const edges: { i: number; j: number; d: number }[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) edges.push({ i, j, d: distance[i * n + j]! });
  edges.sort((a, b) => a.d - b.d);
  const parent = Array.from({ length: n }, (_, i) => i);
  const size = new Array<number>(n).fill(1);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  for (let e = 0; e < edges.length; ) {
    const level = edges[e]!.d;
    // Add every edge at this distance before looking: points tied at d* leave the cluster at the same λ.
    for (; e < edges.length && edges[e]!.d === level; e++) {
      const a = find(edges[e]!.i);
      const b = find(edges[e]!.j);
      if (a === b) continue;
      const [big, small] = size[a]! >= size[b]! ? [a, b] : [b, a];
      parent[small] = big;
      size[big]! += size[small]!;
    }
    for (let x = 0; x < n; x++) {
      const root = find(x);
      if (size[root]! >= minSize) {
        const members = Array.from({ length: n }, (_, y) => find(y) === root);
        return { members, size: size[root]!, linkage: level };
      }
    }
  }
  throw new CohortError('INTERNAL', 'flame: single linkage never joined a majority');
}

/** The standard median (mean of the two middle values for an even count). */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function combineFlame(dimension: number, all: readonly BufferedContribution[], lambda: number, context: AccumulatorContext): CombineResult {
  const n = all.length;
  const cos = cosineMatrix(all.map((b) => b.contribution.delta));
  const distance = new Float64Array(n * n);
  for (let x = 0; x < n * n; x++) distance[x] = Math.max(0, 1 - cos[x]!);
  for (let i = 0; i < n; i++) distance[i * n + i] = 0;
  const cluster = majorityCluster(distance, n);
  // S_t: the median L2 norm over all n updates (Algorithm 1, line 9: MEDIAN(e_1, ..., e_n)).
  const bound = median(all.map((b) => b.l2Norm));
  const factors = all.map((b) => (b.l2Norm > bound ? bound / b.l2Norm : 1));
  const sum = new Float64Array(dimension);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (!cluster.members[i]) continue;
    const { contribution } = all[i]!;
    const coefficient = contribution.weight * factors[i]!;
    for (let k = 0; k < dimension; k++) sum[k]! += coefficient * contribution.delta[k]!;
    total += contribution.weight;
  }
  const sigma = lambda * bound;
  // createAccumulator already refused lambda > 0 without an rng; σ = 0 (lambda 0, or every update zero) draws nothing.
  const rng = sigma > 0 ? context.rng : undefined;
  if (sigma > 0 && rng === undefined) throw new CohortError('FAILED_PRECONDITION', 'flame: adding noise needs a random number generator and none was supplied');
  const delta = new Float32Array(dimension);
  for (let k = 0; k < dimension; k++) delta[k] = sum[k]! / total + (rng === undefined ? 0 : sigma * normal(rng));

  const admitted = `${cluster.size} of ${n} admitted, minimum cluster size ${Math.floor(n / 2) + 1}`;
  const decisions: RuleDecision[] = all.map((b, i) => {
    let nearest = Infinity;
    for (let j = 0; j < n; j++) if (j !== i && cluster.members[j]) nearest = Math.min(nearest, distance[i * n + j]!);
    if (n === 1) nearest = 0;
    const scores = { cluster: cluster.members[i] ? 1 : 0, clusterSize: cluster.size, nearestAdmittedDistance: nearest, clipBound: bound, clipFactor: factors[i]! };
    if (!cluster.members[i]) {
      return {
        verdict: 'rejected',
        reason: `flame: outside the majority cluster: cosine distance ${fmt(nearest)} to the nearest admitted update, above the cluster's linkage distance ${fmt(cluster.linkage)} (${admitted})`,
        scores,
        effectiveWeight: 0,
      };
    }
    if (factors[i]! < 1) {
      return { verdict: 'down-weighted', reason: `flame: in the majority cluster; L2 norm ${fmt(b.l2Norm)} clipped to the median norm ${fmt(bound)} (×${fmt(factors[i]!)})`, scores };
    }
    return { verdict: 'accepted', reason: `flame: in the majority cluster; L2 norm ${fmt(b.l2Norm)} within the median norm ${fmt(bound)}`, scores };
  });
  return { delta, decisions };
}

/**
 * FLAME (Nguyen et al., "FLAME: Taming Backdoors in Federated Learning", USENIX Security 2022), Algorithm 1 on
 * updates: (1) pairwise cosine distances 1 − cos(g_i, g_j) and the majority cluster that HDBSCAN with minimum
 * cluster size ⌊n/2⌋ + 1, min_samples 1 and allow_single_cluster labels (computed exactly, see majorityCluster;
 * the others are rejected); (2) clipping bound S = median of ‖g_i‖ over all n updates (the paper's line 9), each
 * admitted g_i scaled by min(1, S/‖g_i‖); (3) the example-weighted mean of the clipped admitted updates (the
 * paper's plain mean when weights are equal); (4) Gaussian noise N(0, (λ·S)²) on every coordinate.
 *
 * Differences from the paper: it measures cosine distance between local models W_i = G + g_i, we between updates
 * g_i (the core sees only updates; the distance between full models is dominated by the shared global model);
 * min_samples is not given in the paper (1 is what published reimplementations use). Cosine with a zero update is
 * taken as 0 (distance 1), as scikit-learn does.
 *
 * Params: lambda (≥ 0, default 0.001, the paper's value for image classification; 0 turns noise off), maxAbs
 * (optional). Noise draws from context.rng: with lambda > 0 and no rng, createAccumulator fails with
 * FAILED_PRECONDITION. Verdicts: outside the cluster → rejected; admitted and clipped → down-weighted; else accepted.
 * Scores: cluster (1/0), clusterSize, nearestAdmittedDistance, clipBound (S), clipFactor.
 *
 * Assumption: fewer than n/2 malicious updates (the honest ones form the majority cluster); any n ≥ 1.
 * Cost: O(n²·d + n² log n) time, O(n² + n·d) memory.
 */
export const flameRule: AggregationRule = {
  name: 'flame',
  summary: 'FLAME: majority cluster by cosine distance (HDBSCAN, min size n/2 + 1), clip to the median norm, mean, Gaussian noise λ·median norm (tolerates < n/2 malicious)',
  resolveParams: (params) =>
    resolveRuleParams('flame', params, {
      lambda: { default: 0.001, valid: (x) => x >= 0, requirement: 'a finite number >= 0 (noise level relative to the clipping bound)' },
      maxAbs: MAX_ABS_SPEC,
    }),
  createAccumulator: (context: AccumulatorContext): AggregationAccumulator => {
    const lambda = context.params['lambda'] ?? 0.001;
    if (lambda > 0 && context.rng === undefined) {
      throw new CohortError(
        'FAILED_PRECONDITION',
        `flame: noise with lambda = ${lambda} needs a random number generator, and the strategy was created without one (pass rng, or set ruleParams.lambda = 0)`,
      );
    }
    return createBufferedAccumulator(context.dimension, { name: 'flame', ...limitsOf(context.params) }, (all) => combineFlame(context.dimension, all, lambda, context));
  },
};
