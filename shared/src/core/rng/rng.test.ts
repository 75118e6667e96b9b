import { describe, expect, it } from 'vitest';
import { createSeededRng, gamma, permutation, uniformInt } from './rng.js';

describe('seeded rng', () => {
  it('replays the same sequence for the same seed and differs across seeds', () => {
    const a = createSeededRng(42);
    const b = createSeededRng(42);
    const c = createSeededRng(43);
    const seqA = Array.from({ length: 16 }, () => a.nextUint32());
    const seqB = Array.from({ length: 16 }, () => b.nextUint32());
    const seqC = Array.from({ length: 16 }, () => c.nextUint32());
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
  });

  it('gives floats in [0,1) with mean near 1/2', () => {
    const rng = createSeededRng(7);
    let sum = 0;
    let outOfRange = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = rng.nextFloat();
      if (!(x >= 0 && x < 1)) outOfRange++;
      sum += x;
    }
    expect(outOfRange).toBe(0);
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
  });

  it('draws bounded integers uniformly', () => {
    const rng = createSeededRng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 50_000; i++) counts[uniformInt(rng, 10)]!++;
    for (const c of counts) expect(Math.abs(c - 5000)).toBeLessThan(300);
  });

  it('produces permutations that contain every index once', () => {
    const p = permutation(createSeededRng(3), 1000);
    expect([...p].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('samples gamma with the right mean for shapes below and above 1', () => {
    for (const shape of [0.3, 0.5, 2, 5]) {
      const rng = createSeededRng(11);
      let sum = 0;
      for (let i = 0; i < 40_000; i++) sum += gamma(rng, shape);
      expect(Math.abs(sum / 40_000 - shape) / shape).toBeLessThan(0.03);
    }
  });
});
