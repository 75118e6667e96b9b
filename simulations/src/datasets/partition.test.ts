import { describe, expect, it } from 'vitest';
import { isCohortError } from '../../../shared/src/core/errors.js';
import { createSeededRng } from '../../../shared/src/core/rng/rng.js';
import type { Partition } from './partition.js';
import { parsePartitionSpec, partitionBySpec, partitionDirichlet, partitionIid, partitionShards, stratifiedSample } from './partition.js';

const NUM_CLASSES = 10;
/** 10 classes x 120 examples, interleaved like a real dataset. */
const labels = Int32Array.from({ length: 1200 }, (_, i) => (i * 7) % NUM_CLASSES);

function expectDisjoint(partition: Partition, total: number, covering: boolean): void {
  const seen = new Uint8Array(total);
  let used = 0;
  let outOfRange = 0;
  let repeated = 0;
  for (const client of partition) {
    for (const i of client) {
      if (i >= total) outOfRange++;
      else if (seen[i] === 1) repeated++;
      seen[i] = 1;
      used++;
    }
  }
  expect({ outOfRange, repeated }).toEqual({ outOfRange: 0, repeated: 0 });
  if (covering) expect(used).toBe(total);
}

function classesPerClient(partition: Partition): number[] {
  return partition.map((client) => new Set(Array.from(client, (i) => labels[i])).size);
}

/** Mean over clients of the total-variation distance between the client's label histogram and the global one. */
function labelSkew(partition: Partition): number {
  let sum = 0;
  for (const client of partition) {
    const counts = new Float64Array(NUM_CLASSES);
    for (const i of client) counts[labels[i]!]!++;
    let tv = 0;
    for (const c of counts) tv += Math.abs(c / client.length - 1 / NUM_CLASSES);
    sum += tv / 2;
  }
  return sum / partition.length;
}

const same = (a: Partition, b: Partition): boolean => a.length === b.length && a.every((x, i) => x.join() === b[i]!.join());

describe('partitionIid', () => {
  it('uses every index exactly once in near-equal parts', () => {
    const p = partitionIid(labels, 7, createSeededRng(1));
    expectDisjoint(p, labels.length, true);
    const sizes = p.map((c) => c.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('replays per seed and differs across seeds', () => {
    expect(same(partitionIid(labels, 5, createSeededRng(3)), partitionIid(labels, 5, createSeededRng(3)))).toBe(true);
    expect(same(partitionIid(labels, 5, createSeededRng(3)), partitionIid(labels, 5, createSeededRng(4)))).toBe(false);
  });

  it('rejects more clients than examples, naming the field', () => {
    expect(() => partitionIid(labels.subarray(0, 3), 4, createSeededRng(1))).toThrow(/numClients/);
  });
});

describe('partitionDirichlet', () => {
  it('covers every index once and gives every client at least minPerClient', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const p = partitionDirichlet(labels, NUM_CLASSES, 10, 0.3, createSeededRng(seed), { minPerClient: 20 });
      expectDisjoint(p, labels.length, true);
      for (const client of p) expect(client.length).toBeGreaterThanOrEqual(20);
    }
  });

  it('replays per seed', () => {
    const a = partitionDirichlet(labels, NUM_CLASSES, 8, 0.5, createSeededRng(9));
    const b = partitionDirichlet(labels, NUM_CLASSES, 8, 0.5, createSeededRng(9));
    expect(same(a, b)).toBe(true);
  });

  it('has label skew that falls as alpha grows', () => {
    const skewAt = (alpha: number): number => {
      let s = 0;
      for (const seed of [1, 2, 3]) s += labelSkew(partitionDirichlet(labels, NUM_CLASSES, 10, alpha, createSeededRng(seed), { minPerClient: 5 }));
      return s / 3;
    };
    const skews = [0.05, 0.5, 5, 100].map(skewAt);
    for (let i = 1; i < skews.length; i++) expect(skews[i]!).toBeLessThan(skews[i - 1]!);
    expect(skews[0]!).toBeGreaterThan(0.5);
    expect(skews[3]!).toBeLessThan(0.15);
  });

  it('fails clearly when minPerClient cannot be met', () => {
    let caught: unknown;
    try {
      partitionDirichlet(labels, NUM_CLASSES, 10, 0.5, createSeededRng(1), { minPerClient: 200 });
    } catch (error) {
      caught = error;
    }
    expect(isCohortError(caught, 'CONFIG_INVALID')).toBe(true);
    expect(String(caught)).toMatch(/minPerClient/);
  });
});

describe('partitionShards', () => {
  it('gives each client at most shardsPerClient classes when classes align with shards', () => {
    for (const seed of [1, 2, 3]) {
      const p = partitionShards(labels, 12, 2, createSeededRng(seed)); // 24 shards of 50; classes of 120 do not align
      expectDisjoint(p, labels.length, true);
      const aligned = partitionShards(labels, 10, 2, createSeededRng(seed)); // 20 shards of 60 = half a class each
      expectDisjoint(aligned, labels.length, true);
      for (const k of classesPerClient(aligned)) expect(k).toBeLessThanOrEqual(2);
      for (const k of classesPerClient(p)) expect(k).toBeLessThanOrEqual(4);
    }
  });

  it('defaults to two shards per client and replays per seed', () => {
    const a = partitionShards(labels, 10, undefined, createSeededRng(5));
    const b = partitionShards(labels, 10, 2, createSeededRng(5));
    expect(same(a, b)).toBe(true);
    expect(a.every((c) => c.length === 120)).toBe(true);
  });
});

describe('stratifiedSample', () => {
  it('draws distinct indices with class proportions kept', () => {
    const skewed = Int32Array.from({ length: 1000 }, (_, i) => (i < 700 ? 0 : i < 900 ? 1 : 2));
    const s = stratifiedSample(skewed, 3, 100, createSeededRng(2));
    expect(new Set(s).size).toBe(100);
    const counts = [0, 0, 0];
    for (const i of s) counts[skewed[i]!]!++;
    expect(counts).toEqual([70, 20, 10]);
  });

  it('allocates rounding remainders to the largest fractions', () => {
    const s = stratifiedSample(labels, NUM_CLASSES, 15, createSeededRng(4));
    const counts = new Array<number>(NUM_CLASSES).fill(0);
    for (const i of s) counts[labels[i]!]!++;
    expect(counts.reduce((a, b) => a + b, 0)).toBe(15);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });

  it('rejects n larger than the dataset', () => {
    expect(() => stratifiedSample(labels, NUM_CLASSES, 5000, createSeededRng(1))).toThrow(/n: must be an integer/);
  });
});

describe('parsePartitionSpec', () => {
  it('parses the three kinds', () => {
    expect(parsePartitionSpec('iid')).toEqual({ kind: 'iid' });
    expect(parsePartitionSpec('dirichlet:0.5')).toEqual({ kind: 'dirichlet', alpha: 0.5 });
    expect(parsePartitionSpec('shards:2')).toEqual({ kind: 'shards', shardsPerClient: 2 });
  });

  it('rejects bad specs with an error naming the spec', () => {
    for (const spec of ['dirichlet', 'dirichlet:-1', 'dirichlet:abc', 'shards:1.5', 'shards:', 'iid:3', 'zipf:1', '']) {
      let caught: unknown;
      try {
        parsePartitionSpec(spec);
      } catch (error) {
        caught = error;
      }
      expect(isCohortError(caught, 'CONFIG_INVALID')).toBe(true);
      expect(String(caught)).toContain(`"${spec}"`);
    }
  });

  it('drives partitionBySpec', () => {
    const p = partitionBySpec(parsePartitionSpec('shards:2'), labels, NUM_CLASSES, 10, createSeededRng(1));
    expect(p).toHaveLength(10);
    expectDisjoint(p, labels.length, true);
  });
});
