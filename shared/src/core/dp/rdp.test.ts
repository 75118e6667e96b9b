import { describe, expect, it } from 'vitest';
import { CohortError } from '../errors.js';
import { DEFAULT_RDP_ORDERS, composeRdp, epsilonFromRdp, epsilonOf, noiseMultiplierFor, rdpSubsampledGaussian } from './rdp.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);
/** Opacus's test orders: 1 + x/10 for x in 1..99, then 12..63. */
const OPACUS_ORDERS = [...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10), ...Array.from({ length: 52 }, (_, i) => 12 + i)];

describe('RDP of the Poisson-subsampled Gaussian', () => {
  it("reproduces Opacus's own test: q = 0.04, z = 1.5, T = 2250, δ = 1e-5 gives ε = 7.32911117143", () => {
    const { epsilon, order } = epsilonOf({ samplingRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: 1e-5, orders: OPACUS_ORDERS });
    expect(rel(epsilon, 7.32911117143)).toBeLessThan(1e-6);
    expect(order).toBeCloseTo(3.9, 10);
  });

  it('q = 1, z = 4.530877117, T = 1, δ = 1e-6 over orders 1.000..99.999 (step 0.001) gives ε = 1.0 to 7 places', () => {
    const orders = Array.from({ length: 98_999 }, (_, i) => (1001 + i) / 1000);
    const { epsilon } = epsilonOf({ samplingRate: 1, noiseMultiplier: 4.530877117, steps: 1, delta: 1e-6, orders });
    expect(epsilon).toBeCloseTo(1.0, 7);
  });

  it('single orders: q = 0.1, z = 2, T = 10, α = 5 → 0.07737; q = 1, z = 10, α = 20 → 0.1 (= α / 2z²)', () => {
    expect(10 * rdpSubsampledGaussian(0.1, 2, 5)).toBeCloseTo(0.07737, 5);
    expect(rdpSubsampledGaussian(1, 10, 20)).toBeCloseTo(0.1, 15);
  });

  it('fractional order by the exact series: q = 0.01, z = 2.5, T = 50, α = 1.5 → 6.50071e-4 (not the 6.7058e-4 upper bound)', () => {
    expect(rel(50 * rdpSubsampledGaussian(0.01, 2.5, 1.5), 6.50071e-4)).toBeLessThan(1e-6);
  });

  it('is monotone in the order, and fractional orders sit between their integer neighbours', () => {
    for (const [q, z] of [[0.01, 1], [0.1, 0.8], [0.5, 3], [0.02, 0.5]] as const) {
      let previous = 0;
      for (let a = 1.1; a < 20; a += 0.1) {
        const r = rdpSubsampledGaussian(q, z, Math.round(a * 10) / 10);
        expect(r, `q=${q} z=${z} α=${a.toFixed(1)}`).toBeGreaterThanOrEqual(previous * (1 - 1e-9));
        previous = r;
      }
    }
  });

  it('edge cases: q = 0 costs nothing, z = 0 is infinite, subsampling never costs more than q = 1', () => {
    expect(rdpSubsampledGaussian(0, 1, 8)).toBe(0);
    expect(rdpSubsampledGaussian(0.1, 0, 8)).toBe(Number.POSITIVE_INFINITY);
    for (const a of [2, 3.5, 10, 64]) expect(rdpSubsampledGaussian(0.3, 1.2, a)).toBeLessThanOrEqual(rdpSubsampledGaussian(1, 1.2, a));
  });

  it('composes over heterogeneous rounds by addition', () => {
    const orders = [2, 4.5, 16];
    const mixed = composeRdp([{ samplingRate: 0.05, noiseMultiplier: 1.1, steps: 30 }, { samplingRate: 0.1, noiseMultiplier: 2, steps: 20 }], orders);
    const a = composeRdp([{ samplingRate: 0.05, noiseMultiplier: 1.1, steps: 30 }], orders);
    const b = composeRdp([{ samplingRate: 0.1, noiseMultiplier: 2, steps: 20 }], orders);
    for (let i = 0; i < orders.length; i++) expect(mixed[i]).toBeCloseTo(a[i]! + b[i]!, 12);
  });

  it('has the default orders 1.1..10.9, 11..63, 128, 256, 512, 1024', () => {
    expect(DEFAULT_RDP_ORDERS.slice(0, 3)).toEqual([1.1, 1.2, 1.3]);
    expect(DEFAULT_RDP_ORDERS[98]).toBe(10.9);
    expect(DEFAULT_RDP_ORDERS.slice(99, 101)).toEqual([11, 12]);
    expect(DEFAULT_RDP_ORDERS.slice(-5)).toEqual([63, 128, 256, 512, 1024]);
    expect(DEFAULT_RDP_ORDERS).toHaveLength(99 + 53 + 4);
  });

  it('refuses bad inputs with a message naming them', () => {
    expect(() => rdpSubsampledGaussian(1.5, 1, 2)).toThrow(/sampling rate q must be in \[0, 1\], got 1.5/);
    expect(() => rdpSubsampledGaussian(0.1, -1, 2)).toThrow(/noise multiplier z must be a finite number >= 0, got -1/);
    expect(() => rdpSubsampledGaussian(0.1, 1, 1)).toThrow(/Rényi order must be > 1, got 1/);
    expect(() => epsilonFromRdp([2], [0.1], 1)).toThrow(/delta must be in \(0, 1\), got 1/);
    expect(() => composeRdp([{ samplingRate: 0.1, noiseMultiplier: 1, steps: 1.5 }])).toThrow(CohortError);
  });
});

describe('noise multiplier for a target ε', () => {
  it('inverts the accountant: the z found meets the target, and 0.1% less noise does not', () => {
    const z = noiseMultiplierFor({ targetEpsilon: 7.32911117143, samplingRate: 0.04, steps: 2250, delta: 1e-5, orders: OPACUS_ORDERS });
    expect(rel(z, 1.5)).toBeLessThan(1e-6);
    for (const [eps, q, steps] of [[1, 0.01, 1000], [8, 0.1, 100], [2, 1, 10]] as const) {
      const found = noiseMultiplierFor({ targetEpsilon: eps, samplingRate: q, steps, delta: 1e-5 });
      expect(epsilonOf({ samplingRate: q, noiseMultiplier: found, steps, delta: 1e-5 }).epsilon).toBeLessThanOrEqual(eps);
      expect(epsilonOf({ samplingRate: q, noiseMultiplier: found * 0.999, steps, delta: 1e-5 }).epsilon).toBeGreaterThan(eps);
    }
  });
});
