import { describe, expect, it } from 'vitest';
import { createSeededRng, normal } from '../../../shared/src/core/rng/rng.js';
import { alieUpdate, alieZMax, ipmUpdate, minMaxUpdate, minSumUpdate, updateStatistics } from './colluding.js';

const f32 = (...xs: number[]): Float32Array => new Float32Array(xs);

function distance2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return s;
}

function randomUpdates(k: number, d: number, seed: number): Float32Array[] {
  const rng = createSeededRng(seed);
  // A shared direction plus per-client noise, like honest updates of one round.
  const common = Float32Array.from({ length: d }, () => normal(rng));
  return Array.from({ length: k }, () => Float32Array.from(common, (c) => c + 0.5 * normal(rng)));
}

describe('updateStatistics', () => {
  it('gives the coordinate-wise mean and sample standard deviation (divisor k − 1)', () => {
    const { mean, std } = updateStatistics([f32(1, 0), f32(3, 0), f32(5, 6)]);
    expect([...mean]).toEqual([3, 2]);
    expect(std[0]).toBeCloseTo(2, 12);
    expect(std[1]).toBeCloseTo(Math.sqrt(12), 12);
    expect([...updateStatistics([f32(1, 2)]).std]).toEqual([0, 0]);
  });
});

describe('ALIE (Baruch et al. 2019)', () => {
  it('z_max for n = 50, f = 10: s = ⌊26⌋ − 10 = 16, z = Φ⁻¹(34/50) = Φ⁻¹(0.68) ≈ 0.4677', () => {
    expect(alieZMax(50, 10)).toBeCloseTo(0.4676987991145084, 12);
    // n = 50, f = 12 (the paper's 24%): s = 14, Φ⁻¹(0.72).
    expect(alieZMax(50, 12)).toBeCloseTo(0.5828415072712162, 12);
    // Attackers in the majority: s is floored at 1, so z = Φ⁻¹((n − 1)/n) stays finite.
    expect(Number.isFinite(alieZMax(10, 8))).toBe(true);
  });

  it('sends μ − z·σ per coordinate', () => {
    const updates = [f32(1, 0), f32(3, 0), f32(5, 6)];
    const out = alieUpdate(updates, { n: 50, f: 10 });
    const z = alieZMax(50, 10);
    expect(out[0]).toBeCloseTo(3 - z * 2, 6);
    expect(out[1]).toBeCloseTo(2 - z * Math.sqrt(12), 5);
    expect([...alieUpdate(updates, { n: 50, f: 10, z: 1 })].map((x) => Number(x.toFixed(5)))).toEqual([1, Number((2 - Math.sqrt(12)).toFixed(5))]);
  });
});

describe('IPM (Xie et al. 2019)', () => {
  it('sends −ε·μ: the opposite direction of the benign mean, ε times as long', () => {
    const updates = randomUpdates(4, 50, 3);
    const { mean } = updateStatistics(updates);
    const out = ipmUpdate(updates, 0.1);
    let dot = 0;
    let meanNorm = 0;
    let outNorm = 0;
    for (let j = 0; j < 50; j++) {
      dot += out[j]! * mean[j]!;
      meanNorm += mean[j]! ** 2;
      outNorm += out[j]! ** 2;
    }
    expect(dot / Math.sqrt(meanNorm * outNorm)).toBeCloseTo(-1, 6);
    expect(Math.sqrt(outNorm / meanNorm)).toBeCloseTo(0.1, 6);
  });
});

describe('min-max and min-sum (Shejwalkar & Houmansadr 2021)', () => {
  it('min-max: the crafted update is no farther from any benign update than the two farthest benign updates (seeds 1..20)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const updates = randomUpdates(5, 64, seed);
      let maxPair = 0;
      for (const a of updates) for (const b of updates) maxPair = Math.max(maxPair, distance2(a, b));
      for (const perturbation of ['std', 'unit-vec', 'sign'] as const) {
        const { update, gamma } = minMaxUpdate(updates, { perturbation });
        expect(gamma, `seed ${seed} ${perturbation}`).toBeGreaterThan(0);
        const worst = Math.max(...updates.map((g) => distance2(update, g)));
        expect(worst, `seed ${seed} ${perturbation}`).toBeLessThanOrEqual(maxPair * (1 + 1e-5));
        // γ is the largest that fits, to the search's tolerance: a little more breaks the bound.
        const { mean } = updateStatistics(updates);
        const p = perturbation === 'std' ? updateStatistics(updates).std : null;
        if (p !== null) {
          const beyond = Float32Array.from(mean, (m, j) => m - (gamma + 1e-3) * p[j]!);
          expect(Math.max(...updates.map((g) => distance2(beyond, g)))).toBeGreaterThan(maxPair);
        }
      }
    }
  });

  it('min-sum: the sum of squared distances to the benign updates stays within the largest benign sum', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const updates = randomUpdates(6, 40, 100 + seed);
      const bound = Math.max(...updates.map((a) => updates.reduce((s, b) => s + distance2(a, b), 0)));
      const { update, gamma } = minSumUpdate(updates);
      expect(gamma).toBeGreaterThan(0);
      expect(updates.reduce((s, g) => s + distance2(update, g), 0)).toBeLessThanOrEqual(bound * (1 + 1e-5));
    }
  });

  it('moves against the perturbation: μ − γ·σ lies below the mean wherever σ > 0', () => {
    const updates = randomUpdates(4, 30, 9);
    const { mean } = updateStatistics(updates);
    const { update } = minMaxUpdate(updates);
    for (let j = 0; j < 30; j++) expect(update[j]!).toBeLessThan(mean[j]!);
  });

  it('with a single honest update (no spread) sends that update, not NaN', () => {
    const one = [f32(1, -2, 3)];
    expect([...minMaxUpdate(one).update]).toEqual([1, -2, 3]);
    expect([...minSumUpdate(one, { perturbation: 'unit-vec' }).update]).toEqual([1, -2, 3]);
    expect([...alieUpdate(one, { n: 10, f: 1 })]).toEqual([1, -2, 3]);
  });
});
