import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../../shared/src/core/rng/rng.js';
import { expectCohortError } from '../../../test/helpers/errors.js';
import { gaussianUpdate, scaleUpdate, signFlipUpdate } from './update-attacks.js';

describe('update attacks', () => {
  const g = new Float32Array([0.5, -1, 0, 2]);

  it('sign flip sends −s·g and leaves g untouched', () => {
    expect([...signFlipUpdate(g)]).toEqual([-0.5, 1, -0, -2]);
    expect([...signFlipUpdate(g, 4)]).toEqual([-2, 4, -0, -8]);
    expect([...g]).toEqual([0.5, -1, 0, 2]);
  });

  it('scaling sends γ·g', () => {
    expect([...scaleUpdate(g, 10)]).toEqual([5, -10, 0, 20]);
    expectCohortError(() => scaleUpdate(g, 0), 'CONFIG_INVALID', /gamma/);
  });

  it('gaussian noise has the asked standard deviation, mean 0, and replays from the seed', () => {
    const noise = gaussianUpdate(200_000, 0.1, createSeededRng(7));
    let sum = 0;
    let squares = 0;
    for (const x of noise) {
      sum += x;
      squares += x * x;
    }
    expect(Math.abs(sum / noise.length)).toBeLessThan(0.001);
    expect(Math.sqrt(squares / noise.length)).toBeCloseTo(0.1, 3);
    expect(gaussianUpdate(5, 0.1, createSeededRng(7))).toEqual(noise.subarray(0, 5));
    expectCohortError(() => gaussianUpdate(5, -1, createSeededRng(7)), 'CONFIG_INVALID', /sigma/);
  });
});
