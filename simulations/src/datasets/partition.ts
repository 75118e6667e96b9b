/**
 * Splitting a dataset's examples among simulated clients: IID, Dirichlet label skew, and McMahan-style shards.
 * Pure and seeded: the same labels, arguments and generator state give the same split. Each partition is a list of
 * example indices per client; no index appears twice.
 */
import { CohortError, requireConfig } from '../../../shared/src/core/errors.js';
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import { gamma, permutation, shuffleInPlace, uniformInt } from '../../../shared/src/core/rng/rng.js';

/** Example indices per client. */
export type Partition = Uint32Array[];

/** A parsed partition spec: `iid`, `dirichlet:<alpha>` or `shards:<per client>`. */
export type PartitionSpec = { kind: 'iid' } | { kind: 'dirichlet'; alpha: number } | { kind: 'shards'; shardsPerClient: number };

/** Options of the Dirichlet partitioner. */
export interface DirichletOptions {
  /** Resample until every client holds at least this many examples (default 10, as in FedML). */
  minPerClient?: number;
  /** Give a class's share only to clients still below the average size (FedML's balancing; default true). */
  selfBalancing?: boolean;
  /** Resampling attempts before giving up with CONFIG_INVALID (default 1000). */
  maxAttempts?: number;
}

/** Shuffles all indices and deals them into numClients near-equal parts (sizes differ by at most one). */
export function partitionIid(labels: ArrayLike<number>, numClients: number, rng: Rng): Partition {
  checkClients(numClients, labels.length);
  const order = permutation(rng, labels.length);
  return splitEvenly(order, numClients);
}

/**
 * Label skew by Dirichlet(alpha): for each class, its (shuffled) examples are split among clients in proportions
 * drawn from Dirichlet(alpha, ..., alpha); the whole draw repeats until every client has at least minPerClient
 * examples. Small alpha: each client sees few classes; large alpha: close to IID.
 */
export function partitionDirichlet(
  labels: ArrayLike<number>,
  numClasses: number,
  numClients: number,
  alpha: number,
  rng: Rng,
  options: DirichletOptions = {},
): Partition {
  const minPerClient = options.minPerClient ?? 10;
  const selfBalancing = options.selfBalancing ?? true;
  const maxAttempts = options.maxAttempts ?? 1000;
  checkClients(numClients, labels.length);
  requireConfig(Number.isFinite(alpha) && alpha > 0, 'alpha', `must be a positive number, got ${alpha}`);
  requireConfig(Number.isInteger(minPerClient) && minPerClient >= 0, 'minPerClient', `must be a non-negative integer, got ${minPerClient}`);
  requireConfig(
    minPerClient * numClients <= labels.length,
    'minPerClient',
    `${numClients} clients x ${minPerClient} examples exceed the ${labels.length} examples`,
  );
  const byClass = indicesByClass(labels, numClasses);
  const target = labels.length / numClients;
  const proportions = new Float64Array(numClients);
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const clients: number[][] = Array.from({ length: numClients }, () => []);
    for (const classIndices of byClass) {
      const pool = Uint32Array.from(classIndices);
      shuffleInPlace(rng, pool);
      drawDirichlet(rng, alpha, proportions);
      if (selfBalancing) {
        for (let c = 0; c < numClients; c++) if (clients[c]!.length >= target) proportions[c] = 0;
      }
      normaliseOrPickOne(proportions, rng, selfBalancing ? (c) => clients[c]!.length < target : () => true);
      let start = 0;
      let cumulative = 0;
      for (let c = 0; c < numClients; c++) {
        cumulative += proportions[c]!;
        const end = c === numClients - 1 ? pool.length : Math.min(pool.length, Math.floor(cumulative * pool.length));
        for (let i = start; i < end; i++) clients[c]!.push(pool[i]!);
        start = Math.max(start, end);
      }
    }
    if (clients.every((list) => list.length >= minPerClient)) {
      return clients.map((list) => {
        const out = Uint32Array.from(list);
        shuffleInPlace(rng, out);
        return out;
      });
    }
  }
  throw new CohortError(
    'CONFIG_INVALID',
    `alpha: Dirichlet(${alpha}) gave some of ${numClients} clients fewer than ${minPerClient} examples in ${maxAttempts} attempts; raise alpha or lower minPerClient`,
    { field: 'alpha' },
  );
}

/**
 * Pathological non-IID (McMahan et al. 2017): sort examples by label, cut the sorted list into
 * numClients·shardsPerClient contiguous shards of near-equal size, deal shardsPerClient random shards to each
 * client. A client sees at most shardsPerClient classes when class sizes are multiples of the shard size; otherwise
 * a shard can straddle two classes.
 */
export function partitionShards(labels: ArrayLike<number>, numClients: number, shardsPerClient = 2, rng: Rng): Partition {
  checkClients(numClients, labels.length);
  requireConfig(Number.isInteger(shardsPerClient) && shardsPerClient >= 1, 'shardsPerClient', `must be a positive integer, got ${shardsPerClient}`);
  const numShards = numClients * shardsPerClient;
  requireConfig(numShards <= labels.length, 'shardsPerClient', `${numShards} shards need at least as many examples, have ${labels.length}`);
  const sorted = sortedByLabel(labels);
  const base = Math.floor(sorted.length / numShards);
  const extra = sorted.length % numShards;
  const shardStart = (s: number): number => s * base + Math.min(s, extra);
  const dealt = permutation(rng, numShards);
  const out: Partition = [];
  for (let c = 0; c < numClients; c++) {
    const parts: Uint32Array[] = [];
    for (let k = 0; k < shardsPerClient; k++) {
      const s = dealt[c * shardsPerClient + k]!;
      parts.push(sorted.subarray(shardStart(s), shardStart(s + 1)));
    }
    const client = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      client.set(p, offset);
      offset += p.length;
    }
    shuffleInPlace(rng, client);
    out.push(client);
  }
  return out;
}

/**
 * n example indices drawn without replacement, each class represented in proportion to its frequency (largest
 * remainder rounding), in shuffled order.
 */
export function stratifiedSample(labels: ArrayLike<number>, numClasses: number, n: number, rng: Rng): Uint32Array {
  requireConfig(Number.isInteger(n) && n >= 0 && n <= labels.length, 'n', `must be an integer in [0, ${labels.length}], got ${n}`);
  const byClass = indicesByClass(labels, numClasses);
  const total = labels.length;
  const quotas = byClass.map((pool) => Math.floor((pool.length * n) / Math.max(total, 1)));
  let left = n - quotas.reduce((a, b) => a + b, 0);
  // Largest remainder first; ties to the lower class id so the allocation is independent of the generator.
  const order = byClass
    .map((pool, k) => ({ k, remainder: (pool.length * n) / Math.max(total, 1) - quotas[k]! }))
    .sort((a, b) => b.remainder - a.remainder || a.k - b.k);
  for (const { k } of order) {
    if (left === 0) break;
    if (quotas[k]! < byClass[k]!.length) {
      quotas[k]!++;
      left--;
    }
  }
  const out = new Uint32Array(n);
  let offset = 0;
  byClass.forEach((pool, k) => {
    const copy = Uint32Array.from(pool);
    // Partial Fisher-Yates: only the first quota positions need to be random.
    for (let i = 0; i < quotas[k]!; i++) {
      const j = i + uniformInt(rng, copy.length - i);
      const tmp = copy[i]!;
      copy[i] = copy[j]!;
      copy[j] = tmp;
    }
    out.set(copy.subarray(0, quotas[k]!), offset);
    offset += quotas[k]!;
  });
  shuffleInPlace(rng, out);
  return out;
}

/** Parses `iid`, `dirichlet:<alpha>` (alpha > 0) or `shards:<per client>` (integer >= 1); CONFIG_INVALID names the spec. */
export function parsePartitionSpec(spec: string): PartitionSpec {
  const bad = (why: string): never => {
    throw new CohortError('CONFIG_INVALID', `partition spec "${spec}": ${why}; expected iid, dirichlet:<alpha> or shards:<n>`, { field: 'partition' });
  };
  const [kind, arg, ...rest] = spec.trim().split(':');
  if (rest.length > 0) bad('too many ":" parts');
  switch (kind) {
    case 'iid':
      if (arg !== undefined) bad('iid takes no argument');
      return { kind: 'iid' };
    case 'dirichlet': {
      const alpha = Number(arg);
      if (arg === undefined || arg.trim() === '' || !Number.isFinite(alpha) || alpha <= 0) bad('alpha must be a positive number');
      return { kind: 'dirichlet', alpha };
    }
    case 'shards': {
      const shardsPerClient = Number(arg ?? '2');
      if ((arg !== undefined && arg.trim() === '') || !Number.isInteger(shardsPerClient) || shardsPerClient < 1) bad('shards per client must be a positive integer');
      return { kind: 'shards', shardsPerClient };
    }
    default:
      return bad(`unknown partition kind "${kind ?? ''}"`);
  }
}

/** Applies a parsed spec (Dirichlet with its default options). */
export function partitionBySpec(spec: PartitionSpec, labels: ArrayLike<number>, numClasses: number, numClients: number, rng: Rng): Partition {
  switch (spec.kind) {
    case 'iid':
      return partitionIid(labels, numClients, rng);
    case 'dirichlet':
      return partitionDirichlet(labels, numClasses, numClients, spec.alpha, rng);
    case 'shards':
      return partitionShards(labels, numClients, spec.shardsPerClient, rng);
  }
}

function checkClients(numClients: number, numExamples: number): void {
  requireConfig(Number.isInteger(numClients) && numClients >= 1, 'numClients', `must be a positive integer, got ${numClients}`);
  requireConfig(numClients <= numExamples, 'numClients', `${numClients} clients but only ${numExamples} examples`);
}

function indicesByClass(labels: ArrayLike<number>, numClasses: number): number[][] {
  requireConfig(Number.isInteger(numClasses) && numClasses >= 1, 'numClasses', `must be a positive integer, got ${numClasses}`);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    const pool = byClass[y];
    if (pool === undefined || !Number.isInteger(y)) throw new CohortError('INVALID_ARGUMENT', `label ${y} of example ${i} is outside [0, ${numClasses})`);
    pool.push(i);
  }
  return byClass;
}

/** Indices sorted by label, stable (ties keep index order): a counting sort. */
function sortedByLabel(labels: ArrayLike<number>): Uint32Array {
  let maxLabel = -1;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0) throw new CohortError('INVALID_ARGUMENT', `label ${y} of example ${i} is not a class id`);
    if (y > maxLabel) maxLabel = y;
  }
  const starts = new Uint32Array(maxLabel + 2);
  for (let i = 0; i < labels.length; i++) starts[labels[i]! + 1]!++;
  for (let k = 1; k < starts.length; k++) starts[k]! += starts[k - 1]!;
  const out = new Uint32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[starts[labels[i]!]!++] = i;
  return out;
}

/** Splits `order` into `parts` contiguous near-equal pieces (copies). */
function splitEvenly(order: Uint32Array, parts: number): Partition {
  const base = Math.floor(order.length / parts);
  const extra = order.length % parts;
  const out: Partition = [];
  let start = 0;
  for (let p = 0; p < parts; p++) {
    const end = start + base + (p < extra ? 1 : 0);
    out.push(order.slice(start, end));
    start = end;
  }
  return out;
}

/** Fills `out` with a Dirichlet(alpha, ..., alpha) draw (normalised gamma variates). */
function drawDirichlet(rng: Rng, alpha: number, out: Float64Array): void {
  for (let c = 0; c < out.length; c++) out[c] = gamma(rng, alpha);
}

/**
 * Normalises `p` in place. When every eligible weight is zero (tiny alpha underflows, or balancing zeroed the
 * rest), puts all mass on one eligible client chosen uniformly: the limit of Dirichlet(alpha) as alpha -> 0.
 */
function normaliseOrPickOne(p: Float64Array, rng: Rng, eligible: (client: number) => boolean): void {
  let sum = 0;
  for (const v of p) sum += v;
  if (sum > 0 && Number.isFinite(sum)) {
    for (let c = 0; c < p.length; c++) p[c] = p[c]! / sum;
    return;
  }
  const candidates: number[] = [];
  for (let c = 0; c < p.length; c++) if (eligible(c)) candidates.push(c);
  const pool = candidates.length > 0 ? candidates : Array.from({ length: p.length }, (_, c) => c);
  p.fill(0);
  p[pool[uniformInt(rng, pool.length)]!] = 1;
}
