/**
 * Who pairs with whom. SecAgg+ (Bell et al. 2020) replaces the complete graph of SecAgg with a sparse k-regular
 * graph over a random ordering of the cohort, so each client masks with and shares to k = O(log n) neighbours; and
 * in bucketed mode the cohort is first split into independent secure sums by a committed random permutation.
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/rng.js';
import { createSeededRng, shuffleInPlace } from '../rng/rng.js';

/**
 * Default neighbour degree for n clients: 4·⌈log2 n⌉ rounded up to even, at most n − 1 (the complete graph). Bell
 * et al. show k = O(log n) suffices. With the default threshold, the chance that one client loses more than k − t
 * neighbours at a 20% dropout rate (binomial tail) is 1e-3 at n = 50, 4e-4 at 100, 2e-5 at 1000; small cohorts get
 * the complete graph, the most they can have, and still tolerate less (2e-2 at n = 10).
 */
export function defaultNeighbourDegree(n: number): number {
  if (n <= 1) return 0;
  const k = 4 * Math.ceil(Math.log2(n));
  return Math.min(n - 1, k + (k % 2));
}

/**
 * Default Shamir threshold for degree k: a strict majority ⌊k/2⌋ + 1. A majority is the least that keeps the
 * coordinator from collecting both a seed share set and a key share set of one client from honest neighbours
 * (two disjoint groups of t cannot exist among k), and the most dropouts it tolerates is k − t.
 */
export function defaultThreshold(k: number): number {
  return Math.floor(k / 2) + 1;
}

/** Resolved degree and threshold of one secure sum of m clients, from the federation's (optional) settings. */
export function resolveGraphParameters(m: number, settings: { neighbours?: number | undefined; threshold?: number | undefined }): { degree: number; threshold: number } {
  if (!Number.isInteger(m) || m < 2) throw new CohortError('CONFIG_INVALID', `a secure sum needs at least 2 clients, got ${m}`);
  if (settings.neighbours !== undefined && (!Number.isInteger(settings.neighbours) || settings.neighbours < 1)) {
    throw new CohortError('CONFIG_INVALID', `secagg.neighbours must be an integer >= 1, got ${settings.neighbours}`);
  }
  const degree = Math.min(m - 1, settings.neighbours ?? defaultNeighbourDegree(m));
  const threshold = settings.threshold ?? defaultThreshold(degree);
  // With both m and k odd one client has only k − 1 neighbours (see neighbourGraph); it must still reach t.
  const fewest = minimumDegree(m, degree);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > fewest) {
    throw new CohortError('CONFIG_INVALID', `secagg.threshold must be an integer in [1, ${fewest}] (the fewest neighbours a client has among ${m} with degree ${degree}), got ${threshold}`);
  }
  if (2 * threshold <= degree) {
    throw new CohortError('CONFIG_INVALID', `secagg.threshold ${threshold} must be more than half the neighbour degree ${degree}: otherwise a dishonest coordinator could collect both shares of one client`);
  }
  return { degree, threshold };
}

/** The fewest neighbours any client has in neighbourGraph(m members, degree): k, or k − 1 when m and k are both odd. */
export function minimumDegree(m: number, degree: number): number {
  return degree < m - 1 && degree % 2 === 1 && m % 2 === 1 ? degree - 1 : degree;
}

/**
 * A k-regular graph (Harary construction) over a random ordering of the members: each is joined to the ⌊k/2⌋
 * nearest on either side of the ring, and for odd k to the one opposite. When both n and k are odd no k-regular
 * graph exists; one client then has k − 1 neighbours. Returns each member's neighbours, sorted.
 */
export function neighbourGraph(memberIds: readonly string[], degree: number, rng: Rng): Map<string, string[]> {
  const n = memberIds.length;
  if (new Set(memberIds).size !== n) throw new CohortError('INVALID_ARGUMENT', 'member ids must be distinct');
  if (!Number.isInteger(degree) || degree < 0 || (n > 0 && degree > n - 1)) {
    throw new CohortError('CONFIG_INVALID', `neighbour degree must be an integer in [0, ${Math.max(0, n - 1)}] for ${n} clients, got ${degree}`);
  }
  const order = [...memberIds];
  shuffleInPlace(rng, order);
  const adjacency = new Map<string, Set<string>>(order.map((id) => [id, new Set<string>()]));
  const link = (i: number, j: number): void => {
    if (i === j) return;
    adjacency.get(order[i]!)!.add(order[j]!);
    adjacency.get(order[j]!)!.add(order[i]!);
  };
  if (degree === n - 1) {
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) link(i, j);
  } else {
    const half = Math.floor(degree / 2);
    for (let i = 0; i < n; i++) for (let s = 1; s <= half; s++) link(i, (i + s) % n);
    if (degree % 2 === 1) for (let i = 0; i < Math.floor(n / 2); i++) link(i, i + Math.floor(n / 2));
  }
  const out = new Map<string, string[]>();
  for (const id of memberIds) out.set(id, [...adjacency.get(id)!].sort());
  return out;
}

/** Number of buckets for n clients of at least minBucketSize each (explicit count validated), or 1 when unbucketed. */
export function bucketCount(n: number, settings: { minBucketSize: number; buckets?: number | undefined }): number {
  const { minBucketSize, buckets } = settings;
  if (minBucketSize <= 0 && buckets === undefined) return 1;
  if (buckets !== undefined) {
    if (!Number.isInteger(buckets) || buckets < 1) throw new CohortError('CONFIG_INVALID', `secagg.buckets must be an integer >= 1, got ${buckets}`);
    if (minBucketSize > 0 && Math.floor(n / buckets) < minBucketSize) {
      throw new CohortError('CONFIG_INVALID', `secagg.buckets ${buckets} with ${n} clients gives buckets of ${Math.floor(n / buckets)}, below secagg.minBucketSize ${minBucketSize}`);
    }
    return Math.min(buckets, Math.max(1, Math.floor(n / 2)));
  }
  return Math.max(1, Math.floor(n / minBucketSize));
}

/**
 * Splits the cohort into `count` buckets of near-equal size by a permutation drawn from the revealed seed: the same
 * seed and cohort give the same buckets on the coordinator and on every client, so clients can check theirs.
 * The cohort is sorted first, so the order the coordinator lists it in does not matter.
 */
export function assignBuckets(cohortIds: readonly string[], seed: Uint8Array, count: number): string[][] {
  if (!Number.isInteger(count) || count < 1 || count > Math.max(1, cohortIds.length)) {
    throw new CohortError('INVALID_ARGUMENT', `bucket count must be an integer in [1, ${Math.max(1, cohortIds.length)}], got ${count}`);
  }
  const sorted = [...cohortIds].sort();
  let hex = '';
  for (const byte of seed) hex += byte.toString(16).padStart(2, '0');
  shuffleInPlace(createSeededRng(`cohort/secagg/buckets/${hex}`), sorted);
  const out: string[][] = [];
  const n = sorted.length;
  for (let b = 0; b < count; b++) out.push(sorted.slice(Math.floor((b * n) / count), Math.floor(((b + 1) * n) / count)).sort());
  return out;
}
