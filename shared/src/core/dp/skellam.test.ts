import { describe, expect, it } from 'vitest';
import { expectCohortError } from '../../../../test/helpers/errors.js';
import { createSeededRng } from '../rng/index.js';
import type { Rng } from '../rng/index.js';
import { rdpSubsampledGaussian } from './rdp.js';
import type { SkellamEncoding, SkellamPlan } from './skellam.js';
import {
  SKELLAM_RDP_ORDERS,
  addSkellamNoiseInPlace,
  conditionalRoundingBound,
  decodeSkellamSum,
  encodeSkellamInput,
  integerL1Bound,
  logFactorial,
  logPoissonPmf,
  planSkellam,
  rdpPoissonSubsampled,
  roundConditionallyInto,
  samplePoisson,
  sampleSkellam,
  skellamRdp,
  skellamRoundRdp,
  skellamTailBound,
} from './skellam.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/** Sample mean and (population) variance, accumulated around `centre` so large means keep their precision. */
function moments(draw: () => number, n: number, centre: number): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const x = draw() - centre;
    s += x;
    s2 += x * x;
  }
  const m = s / n;
  return { mean: centre + m, variance: s2 / n - m * m };
}

/** Exact Poisson pmf at 0..kMax by the recurrence p(k) = p(k−1)·λ/k (λ small enough that e^−λ does not underflow). */
function poissonPmf(lambda: number, kMax: number): Float64Array {
  const p = new Float64Array(kMax + 1);
  p[0] = Math.exp(-lambda);
  for (let k = 1; k <= kMax; k++) p[k] = p[k - 1]! * (lambda / k);
  return p;
}

/** Pearson's statistic of `n` draws against an exact pmf, cells with expected count >= 5 and both tails pooled. */
function chiSquare(rng: Rng, mean: number, n: number): { statistic: number; df: number } {
  const kMax = Math.ceil(mean + 40 * Math.sqrt(mean) + 40);
  const pmf = poissonPmf(mean, kMax);
  const counts = new Float64Array(kMax + 2);
  for (let i = 0; i < n; i++) counts[Math.min(samplePoisson(rng, mean), kMax + 1)]! += 1;
  let lo = 0;
  while (n * pmf[lo]! < 5) lo++;
  let hi = kMax;
  while (n * pmf[hi]! < 5) hi--;
  const cells: [number, number][] = [];
  let obs = 0;
  let exp = 0;
  for (let k = 0; k <= lo; k++) {
    obs += counts[k]!;
    exp += n * pmf[k]!;
  }
  cells.push([obs, exp]);
  for (let k = lo + 1; k < hi; k++) cells.push([counts[k]!, n * pmf[k]!]);
  obs = 0;
  exp = 0;
  for (let k = hi; k <= kMax + 1; k++) {
    obs += counts[k]!;
    exp += n * (pmf[k] ?? 0);
  }
  // The pooled upper cell takes all the remaining mass, so the expected counts sum to n.
  exp = n * (1 - pmf.slice(0, hi).reduce((a, b) => a + b, 0));
  cells.push([obs, exp]);
  let statistic = 0;
  for (const [o, e] of cells) statistic += ((o - e) * (o - e)) / e;
  return { statistic, df: cells.length - 1 };
}

/** Upper quantile of χ²(df) by Wilson–Hilferty, at z standard deviations (z = 3.5: p ≈ 2e-4). */
function chiSquareQuantile(df: number, z: number): number {
  const c = 2 / (9 * df);
  return df * (1 - c + z * Math.sqrt(c)) ** 3;
}

/** Exact P(|X| >= t) for X ~ Sk(μ) = Poisson(μ/2) − Poisson(μ/2), by convolving the two pmfs (t >= 1). */
function exactSkellamTail(mu: number, t: number): number {
  const kMax = 600;
  const p = poissonPmf(mu / 2, kMax);
  let tail = 0;
  for (let k = t; k <= kMax; k++) {
    let pk = 0;
    for (let j = 0; j + k <= kMax; j++) pk += p[j]! * p[j + k]!;
    tail += pk;
  }
  return 2 * tail;
}

describe('logFactorial', () => {
  it('matches lgamma(k + 1) (CPython) on both sides of the table/Stirling switch at 30', () => {
    expect(logFactorial(0)).toBe(0);
    expect(logFactorial(1)).toBe(0);
    expect(rel(logFactorial(5), Math.log(120))).toBeLessThan(1e-15);
    let sum = 0;
    for (let k = 2; k <= 200; k++) {
      sum += Math.log(k);
      expect(rel(logFactorial(k), sum), `k=${k}`).toBeLessThan(1e-13);
    }
    expect(rel(logFactorial(170), 706.5730622457874)).toBeLessThan(1e-15);
    expect(rel(logFactorial(1_000_000), 12815518.384658169)).toBeLessThan(1e-15);
    expect(rel(logFactorial(2 ** 40), 29385423763671.2)).toBeLessThan(1e-15);
    expectCohortError(() => logFactorial(-1), 'INVALID_ARGUMENT', /integer k >= 0, got -1/);
    expectCohortError(() => logFactorial(2.5), 'INVALID_ARGUMENT', /got 2.5/);
  });
});

describe('logPoissonPmf', () => {
  it('matches 50-digit references (mpmath) to 1e-15 relative, where k ln λ − ln k! would lose 4 digits', () => {
    const cases: [number, number, number][] = [
      [2 ** 40, 2 ** 40 + 1e6, -15.23662981217389],
      [2 ** 40, 2 ** 40 - 3e6, -18.87461066045575],
      [1e9, 1e9, -11.280571451761212],
      [1e9, 1e9 + 123_456, -18.901011556592184],
      [20, 7, -7.555035446187477],
      [20, 45, -14.315981329197621],
      [10.5, 0, -10.5],
      [3.5, 100, -241.9630787060267],
      [12345.678, 12_000, -10.50056618169881],
    ];
    for (const [lambda, k, expected] of cases) expect(rel(logPoissonPmf(k, lambda), expected), `λ=${lambda} k=${k}`).toBeLessThan(1e-15);
  });
});

describe('samplePoisson', () => {
  it('has the Poisson mean and variance (5 standard errors) for means from 0.5 to 1e9, both samplers', () => {
    const n = 200_000;
    const rng = createSeededRng('poisson-moments');
    for (const mean of [0.5, 7, 9.99, 10, 37.5, 1e4, 1e9]) {
      const m = moments(() => samplePoisson(rng, mean), n, mean);
      // Var(mean) = λ/n; Var(sample variance) ≈ (μ4 − σ⁴)/n = (λ + 2λ²)/n for Poisson.
      expect(Math.abs(m.mean - mean), `mean ${mean}`).toBeLessThan(5 * Math.sqrt(mean / n));
      expect(Math.abs(m.variance - mean), `variance ${mean}`).toBeLessThan(5 * Math.sqrt((mean + 2 * mean * mean) / n));
    }
  });

  it('stays exact at the top of its range (mean 2^40): integer draws with the right spread', () => {
    const rng = createSeededRng('poisson-top');
    const mean = 2 ** 40;
    const n = 20_000;
    let nonInteger = 0;
    const m = moments(() => {
      const k = samplePoisson(rng, mean);
      if (!Number.isInteger(k)) nonInteger++;
      return k;
    }, n, mean);
    expect(nonInteger).toBe(0);
    expect(Math.abs(m.mean - mean)).toBeLessThan(5 * Math.sqrt(mean / n));
    expect(rel(m.variance, mean)).toBeLessThan(5 * Math.sqrt(2 / n));
  });

  it('matches the exact pmf (χ² at p ≈ 2e-4) for mean 3 (inversion) and mean 20 (PTRS)', () => {
    for (const mean of [3, 20]) {
      const { statistic, df } = chiSquare(createSeededRng(`poisson-chi2-${mean}`), mean, 200_000);
      expect(df).toBeGreaterThan(8);
      expect(statistic, `mean ${mean}: χ² = ${statistic} on ${df} df`).toBeLessThan(chiSquareQuantile(df, 3.5));
    }
  });

  it('returns 0 for mean 0 and refuses means outside [0, 2^40]', () => {
    const rng = createSeededRng(1);
    for (let i = 0; i < 100; i++) expect(samplePoisson(rng, 0)).toBe(0);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40 + 2 ** 20]) {
      expectCohortError(() => samplePoisson(rng, bad), 'INVALID_ARGUMENT', /Poisson mean must be a finite number in \[0, 2\^40\]/);
    }
  });
});

describe('Skellam noise', () => {
  it('has variance μ, mean 0, and sums of independent draws have variance μ1 + μ2', () => {
    const rng = createSeededRng('skellam-variance');
    const n = 100_000;
    for (const mu of [0.7, 5, 1e6]) {
      const m = moments(() => sampleSkellam(rng, mu), n, 0);
      expect(Math.abs(m.mean), `mean at μ=${mu}`).toBeLessThan(5 * Math.sqrt(mu / n));
      // Skellam excess kurtosis is 1/μ: Var(sample variance) ≈ (2 + 1/μ)μ²/n.
      expect(rel(m.variance, mu), `variance at μ=${mu}`).toBeLessThan(5 * Math.sqrt((2 + 1 / mu) / n));
    }
    const sum = moments(() => sampleSkellam(rng, 3) + sampleSkellam(rng, 40), n, 0);
    expect(rel(sum.variance, 43)).toBeLessThan(5 * Math.sqrt((2 + 1 / 43) / n));
  });

  it('adds noise in place to Int32Array and Float64Array; variance 0 is a no-op that draws nothing', () => {
    const rng = createSeededRng('skellam-in-place');
    const ints = new Int32Array(50_000).fill(7);
    addSkellamNoiseInPlace(ints, 50, rng);
    const mi = moments((() => {
      let i = 0;
      return () => ints[i++]!;
    })(), ints.length, 7);
    expect(Math.abs(mi.mean - 7)).toBeLessThan(5 * Math.sqrt(50 / ints.length));
    expect(rel(mi.variance, 50)).toBeLessThan(5 * Math.sqrt(2 / ints.length));
    const floats = new Float64Array(50_000).fill(-0.25);
    addSkellamNoiseInPlace(floats, 1e8, rng);
    let s2 = 0;
    let nonInteger = 0;
    for (const x of floats) {
      if (!Number.isInteger(x + 0.25)) nonInteger++;
      s2 += (x + 0.25) ** 2;
    }
    expect(nonInteger).toBe(0);
    expect(rel(s2 / floats.length, 1e8)).toBeLessThan(5 * Math.sqrt(2 / floats.length));

    const a = createSeededRng(9);
    const b = createSeededRng(9);
    const untouched = new Int32Array([1, -2, 3]);
    addSkellamNoiseInPlace(untouched, 0, a);
    expect([...untouched]).toEqual([1, -2, 3]);
    expect(a.nextUint32()).toBe(b.nextUint32());
    expect(sampleSkellam(a, 0)).toBe(0);
  });

  it('refuses negative, non-finite or too large variances', () => {
    const rng = createSeededRng(2);
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 42]) {
      expectCohortError(() => addSkellamNoiseInPlace(new Int32Array(1), bad, rng), 'INVALID_ARGUMENT', /Skellam variance/);
      expectCohortError(() => sampleSkellam(rng, bad), 'INVALID_ARGUMENT', /Skellam variance/);
    }
  });
});

describe('skellamTailBound', () => {
  it('bounds the exact tail (pmf convolution) from above, within a factor 20 where the tail is above 1e-13', () => {
    for (const mu of [1, 4, 10, 30]) {
      let checked = 0;
      for (let t = 1; ; t++) {
        const exact = exactSkellamTail(mu, t);
        if (exact < 1e-13) break;
        const bound = skellamTailBound(mu, t);
        expect(bound, `μ=${mu} t=${t}`).toBeGreaterThanOrEqual(exact);
        expect(bound, `μ=${mu} t=${t}`).toBeLessThanOrEqual(Math.min(1, 20 * exact));
        checked++;
      }
      expect(checked).toBeGreaterThan(8);
    }
  });

  it('is the Gaussian-like 2·exp(−t²/2μ) for t ≪ μ, 1 at t <= 0, and finite without overflow far out', () => {
    // At t/μ = 5e-6 the exponent is −t²/(2μ)·(1 − O((t/μ)²)) = −12.5 to ~1e-11.
    expect(rel(skellamTailBound(1e12, 5e6), 2 * Math.exp(-12.5))).toBeLessThan(1e-9);
    expect(skellamTailBound(5, 0)).toBe(1);
    expect(skellamTailBound(5, -3)).toBe(1);
    expect(skellamTailBound(0, 1)).toBe(0);
    expect(skellamTailBound(1e-300, 1e300)).toBe(0);
    const far = skellamTailBound(1, 100);
    expect(rel(far, 2 * Math.exp(Math.sqrt(1 + 1e4) - 1 - 100 * Math.asinh(100)))).toBeLessThan(1e-12);
    expect(far).toBeLessThan(1e-180);
    // Both sides of the switch to the asymptotic form at t/μ = 1e8 (small t keeps the value away from underflow).
    expect(rel(skellamTailBound(1e-9, 0.1 * (1 - 1e-9)), skellamTailBound(1e-9, 0.1))).toBeLessThan(1e-8);
    expect(skellamTailBound(1e-9, 0.1)).toBeCloseTo(2 * Math.exp(0.1 - 1e-9 - 0.1 * Math.log(2e8)), 14);
    expect(skellamTailBound(1e-9, 0.1)).toBeLessThan(0.5);
    expectCohortError(() => skellamTailBound(-1, 3), 'INVALID_ARGUMENT', /Skellam variance/);
    expectCohortError(() => skellamTailBound(1, Number.NaN), 'INVALID_ARGUMENT', /tail point t/);
  });
});

describe('skellamRdp (Agarwal et al. Theorem 3.5)', () => {
  it('matches hand-computed values on each side of the min', () => {
    // 2·4/200 + min((3·4 + 24)/(4·10⁴), 12/200) = 0.04 + 0.0009
    expect(skellamRdp(2, { l1: 4, l2: 2 }, 100)).toBeCloseTo(0.0409, 15);
    // 2·1/20 + min((3 + 600)/400, 300/20) = 0.1 + 1.5075
    expect(skellamRdp(2, { l1: 100, l2: 1 }, 10)).toBeCloseTo(1.6075, 14);
    // 2·4/2 + min((12 + 24)/4, 12/2) = 4 + 6
    expect(skellamRdp(2, { l1: 4, l2: 2 }, 1)).toBeCloseTo(10, 14);
    expect(skellamRdp(5, { l1: 0, l2: 0 }, 10)).toBe(0);
    expect(skellamRdp(5, { l1: 1, l2: 1 }, 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it('approaches the Gaussian α·Δ2²/(2μ) from above as μ grows', () => {
    for (const [alpha, l1, l2] of [[8, 1e4, 100], [64, 3e5, 1000]] as const) {
      let previousGap = Number.POSITIVE_INFINITY;
      for (const mu of [1e4, 1e6, 1e8, 1e10]) {
        const gaussian = (alpha * l2 * l2) / (2 * mu);
        const r = skellamRdp(alpha, { l1, l2 }, mu);
        expect(r).toBeGreaterThan(gaussian);
        const gap = r / gaussian - 1;
        expect(gap).toBeLessThan(previousGap);
        previousGap = gap;
      }
      expect(previousGap).toBeLessThan(1e-5);
    }
  });

  it('equals the unscaled-units form of the accounting code, μ′ = μ/s², l = Δ/s', () => {
    const unscaled = (a: number, l1: number, l2: number, mu: number, s: number): number =>
      (a / (2 * mu)) * l2 * l2 + Math.min(((2 * a - 1) * s * l2 * l2 + 6 * l1) / (4 * s ** 3 * mu * mu), (3 * l1) / (2 * s * mu));
    for (const [alpha, d1, d2, mu, s] of [[2, 40, 7, 30, 3], [16, 900, 31, 4e4, 25], [100, 1e5, 400, 1e6, 1e3], [3, 5, 2, 0.5, 2]] as const) {
      expect(rel(skellamRdp(alpha, { l1: d1, l2: d2 }, mu), unscaled(alpha, d1 / s, d2 / s, mu / (s * s), s))).toBeLessThan(1e-12);
    }
  });

  it('refuses non-integer orders, orders below 2 and bad sensitivities', () => {
    for (const bad of [1, 2.5, 0, -3, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCohortError(() => skellamRdp(bad, { l1: 1, l2: 1 }, 10), 'INVALID_ARGUMENT', /Rényi order must be an integer >= 2/);
    }
    expectCohortError(() => skellamRdp(2, { l1: -1, l2: 1 }, 10), 'INVALID_ARGUMENT', /L1 sensitivity/);
    expectCohortError(() => skellamRdp(2, { l1: 1, l2: Number.NaN }, 10), 'INVALID_ARGUMENT', /L2 sensitivity/);
    expectCohortError(() => skellamRdp(2, { l1: 1, l2: 1 }, -10), 'INVALID_ARGUMENT', /Skellam variance/);
  });
});

describe('rdpPoissonSubsampled (Zhu & Wang general upper bound)', () => {
  const gaussian = (z: number) => (order: number): number => order / (2 * z * z);

  it('is the mechanism itself at q = 1 and free at q = 0', () => {
    for (const alpha of [2, 7, 1024]) {
      expect(rdpPoissonSubsampled(alpha, 1, gaussian(1.3))).toBe(alpha / (2 * 1.3 * 1.3));
      expect(rdpPoissonSubsampled(alpha, 0, gaussian(1.3))).toBe(0);
    }
  });

  it('matches the formula written out by hand at α = 3', () => {
    const q = 0.1;
    const e = (l: number): number => 0.3 * l + 0.01 * l * l;
    const expected = 0.5 * Math.log((1 - q) ** 2 * (1 + 2 * q) + 3 * q * q * (1 - q) * Math.exp(e(2)) + 3 * q ** 3 * Math.exp(2 * e(3)));
    expect(rel(rdpPoissonSubsampled(3, q, e), expected)).toBeLessThan(1e-13);
  });

  it('grows with q and never exceeds the unsubsampled RDP', () => {
    const qs = [1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9, 0.99, 1];
    const curves = [gaussian(0.5), gaussian(1), gaussian(4), (a: number) => skellamRdp(a, { l1: 30, l2: 5 }, 40)];
    for (const rdpAt of curves) {
      for (const alpha of [2, 3, 8, 32, 256]) {
        let previous = 0;
        for (const q of qs) {
          const r = rdpPoissonSubsampled(alpha, q, rdpAt);
          expect(r, `α=${alpha} q=${q}`).toBeGreaterThanOrEqual(previous);
          expect(r).toBeLessThanOrEqual(rdpAt(alpha));
          previous = r;
        }
      }
    }
  });

  it('bounds the exact subsampled Gaussian from above, by at most ln 3/(α−1), and is exact at α = 2', () => {
    for (const z of [0.5, 1, 2, 5, 100]) {
      for (const q of [1e-4, 0.01, 0.1, 0.5]) {
        for (const alpha of [2, 3, 4, 8, 16, 32, 63, 128, 512, 1024]) {
          const bound = rdpPoissonSubsampled(alpha, q, gaussian(z));
          const exact = rdpSubsampledGaussian(q, z, alpha);
          const where = `z=${z} q=${q} α=${alpha}`;
          // 1e-9: rdp.ts sums (1−q)² + 2q(1−q) + q²e^ε directly and loses ~1e-10 relative where ε is tiny.
          expect(bound, where).toBeGreaterThanOrEqual(exact * (1 - 1e-9));
          expect(bound - exact, where).toBeLessThanOrEqual(Math.log(3) / (alpha - 1) + 1e-12);
          if (alpha === 2) expect(rel(bound, exact), where).toBeLessThan(1e-9);
        }
      }
    }
    // Within a modest factor where the ℓ >= 3 terms matter (q = 0.01, z = 1): 1.0, ≈ 1.57, ≈ 1.003.
    for (const [alpha, factor] of [[2, 1 + 1e-9], [8, 1.6], [32, 1.01]] as const) {
      const ratio = rdpPoissonSubsampled(alpha, 0.01, gaussian(1)) / rdpSubsampledGaussian(0.01, 1, alpha);
      expect(ratio).toBeGreaterThanOrEqual(1 - 1e-12);
      expect(ratio).toBeLessThan(factor);
    }
  });

  it('stays finite and accurate at α = 1024 with q = 1e-4 and at tiny ε', () => {
    const r = rdpPoissonSubsampled(1024, 1e-4, gaussian(3));
    expect(Number.isFinite(r)).toBe(true);
    expect(r).toBeGreaterThanOrEqual(rdpSubsampledGaussian(1e-4, 3, 1024));
    // z = 1000, α = 2: q²(e^{1e-6} − 1) ≈ 1e-14, far below the rounding of a naive (1 − q²) + q²e^ε.
    const tiny = rdpPoissonSubsampled(2, 1e-4, gaussian(1000));
    expect(rel(tiny, 1e-8 * Math.expm1(1e-6))).toBeLessThan(1e-6);
  });

  it('refuses bad orders, rates and RDP values', () => {
    expectCohortError(() => rdpPoissonSubsampled(1.5, 0.1, gaussian(1)), 'INVALID_ARGUMENT', /integer >= 2.*got 1\.5/);
    for (const q of [-0.1, 1.1, Number.NaN]) expectCohortError(() => rdpPoissonSubsampled(4, q, gaussian(1)), 'INVALID_ARGUMENT', /sampling rate q must be in \[0, 1\]/);
    expectCohortError(() => rdpPoissonSubsampled(4, 0.1, () => Number.NaN), 'INVALID_ARGUMENT', /RDP at order 4 must be a number >= 0, got NaN/);
    expectCohortError(() => rdpPoissonSubsampled(4, 0.1, (a) => (a === 3 ? -1 : 1)), 'INVALID_ARGUMENT', /RDP at order 3/);
  });
});

describe('skellamRoundRdp', () => {
  it('has the orders 2..63, 128, 256, 512, 1024', () => {
    expect(SKELLAM_RDP_ORDERS.slice(0, 3)).toEqual([2, 3, 4]);
    expect(SKELLAM_RDP_ORDERS.slice(-5)).toEqual([63, 128, 256, 512, 1024]);
    expect(SKELLAM_RDP_ORDERS).toHaveLength(62 + 4);
    expect(Object.isFrozen(SKELLAM_RDP_ORDERS)).toBe(true);
  });

  it('is the subsampled Skellam bound per order, and tends to the subsampled Gaussian at large variance', () => {
    const input = { samplingRate: 0.02, l2Bound: 1000, l1Bound: 30_000, centralVariance: 1.2e6 };
    const rdp = skellamRoundRdp(SKELLAM_RDP_ORDERS, input);
    for (let i = 0; i < SKELLAM_RDP_ORDERS.length; i++) {
      const a = SKELLAM_RDP_ORDERS[i]!;
      expect(rdp[i]).toBe(rdpPoissonSubsampled(a, 0.02, (o) => skellamRdp(o, { l1: 30_000, l2: 1000 }, 1.2e6)));
    }
    const big = skellamRoundRdp([2, 8, 32], { samplingRate: 0.01, l2Bound: 1e6, l1Bound: 1e9, centralVariance: 1e12 });
    // z = sqrt(μ)/Δ2 = 1: at α = 2 the bound is the exact Gaussian value; at α = 8, 32 it is at most ln 3/(α−1) above
    // it, plus the Skellam surcharge (< 1e-8 here: Δ1/μ = 1e-3 enters as 6Δ1/(4μ²) = 1.5e-15 per order).
    expect(rel(big[0]!, rdpSubsampledGaussian(0.01, 1, 2))).toBeLessThan(1e-6);
    for (const [i, a] of [[1, 8], [2, 32]] as const) {
      expect(big[i]!).toBeGreaterThanOrEqual(rdpSubsampledGaussian(0.01, 1, a));
      expect(big[i]! - rdpSubsampledGaussian(0.01, 1, a)).toBeLessThanOrEqual(Math.log(3) / (a - 1) + 1e-8);
    }
  });

  it('refuses fractional orders and bad inputs', () => {
    const ok = { samplingRate: 0.1, l2Bound: 10, l1Bound: 50, centralVariance: 100 };
    expectCohortError(() => skellamRoundRdp([2, 2.5], ok), 'INVALID_ARGUMENT', /integer >= 2.*got 2\.5/);
    expectCohortError(() => skellamRoundRdp([], ok), 'INVALID_ARGUMENT', /at least one Rényi order/);
    expectCohortError(() => skellamRoundRdp([2], { ...ok, samplingRate: 2 }), 'INVALID_ARGUMENT', /samplingRate/);
    expectCohortError(() => skellamRoundRdp([2], { ...ok, l2Bound: -1 }), 'INVALID_ARGUMENT', /l2Bound/);
    expectCohortError(() => skellamRoundRdp([2], { ...ok, l1Bound: Number.NaN }), 'INVALID_ARGUMENT', /l1Bound/);
    expectCohortError(() => skellamRoundRdp([2], { ...ok, centralVariance: 0 }), 'INVALID_ARGUMENT', /centralVariance/);
  });
});

describe('conditional rounding', () => {
  function vectorWithNorm(rng: Rng, d: number, norm: number): Float64Array {
    const v = new Float64Array(d);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      v[i] = 2 * rng.nextFloat() - 1;
      sq += v[i]! * v[i]!;
    }
    const k = norm / Math.sqrt(sq);
    for (let i = 0; i < d; i++) v[i]! *= k;
    return v;
  }
  const l2 = (v: Int32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  it('has the bounds of Kairouz et al.: min(sqrt(c² + d/4 + sqrt(2 ln 1/β)(c + √d/2)), c + √d), L1 min(l2·√d, l2²)', () => {
    expect(conditionalRoundingBound(10, 16, Math.exp(-0.5))).toBeCloseTo(Math.sqrt(116), 14);
    expect(conditionalRoundingBound(0, 1, 1e-10)).toBe(1);
    expect(integerL1Bound(3, 100)).toBe(9);
    expect(integerL1Bound(100, 4)).toBe(200);
    expectCohortError(() => conditionalRoundingBound(-1, 4, 0.5), 'INVALID_ARGUMENT', /scaledNorm/);
    expectCohortError(() => conditionalRoundingBound(1, 0, 0.5), 'INVALID_ARGUMENT', /dimension/);
    expectCohortError(() => conditionalRoundingBound(1, 4, 1), 'INVALID_ARGUMENT', /rounding beta must be in \(0, 1\)/);
    expectCohortError(() => integerL1Bound(Number.NaN, 4), 'INVALID_ARGUMENT', /l2Bound/);
  });

  it('always meets the bound it is given, retrying when the bound is tight', () => {
    const rng = createSeededRng('rounding-bound');
    const d = 400;
    const x = vectorWithNorm(rng, d, 50);
    const out = new Int32Array(d);
    const bound = conditionalRoundingBound(50, d, Math.exp(-0.5));
    let maxNorm = 0;
    let offGrid = 0;
    for (let i = 0; i < 100; i++) {
      roundConditionallyInto(out, x, bound, rng);
      maxNorm = Math.max(maxNorm, l2(out));
      for (let j = 0; j < d; j++) if (out[j]! !== Math.floor(x[j]!) && out[j]! !== Math.floor(x[j]!) + 1) offGrid++;
    }
    expect(maxNorm).toBeLessThanOrEqual(bound);
    expect(offGrid).toBe(0);
    // At the expected squared norm ‖x‖² + Σ f(1−f) about half the roundings miss, so retries must happen.
    let tightSq = 0;
    for (const v of x) tightSq += v * v + (v - Math.floor(v)) * (1 - (v - Math.floor(v)));
    const tight = Math.sqrt(tightSq);
    let retried = 0;
    let total = 0;
    maxNorm = 0;
    for (let i = 0; i < 200; i++) {
      const attempts = roundConditionallyInto(out, x, tight, rng);
      maxNorm = Math.max(maxNorm, l2(out));
      if (attempts > 1) retried++;
      total += attempts;
    }
    expect(maxNorm).toBeLessThanOrEqual(tight);
    expect(retried).toBeGreaterThan(40);
    expect(total / 200).toBeGreaterThan(1.4);
    expect(total / 200).toBeLessThan(4);
  });

  it('is unbiased when the bound does not bind', () => {
    const rng = createSeededRng('rounding-unbiased');
    const x = Float64Array.from([0.5, -0.5, 2.25, -7.9, 1e6 + 0.1, 3, -0.01, 12.75]);
    const n = 40_000;
    const sums = new Float64Array(x.length);
    const out = new Int32Array(x.length);
    let attempts = 0;
    for (let i = 0; i < n; i++) {
      attempts += roundConditionallyInto(out, x, 1e9, rng);
      for (let j = 0; j < x.length; j++) sums[j]! += out[j]!;
    }
    expect(attempts).toBe(n);
    for (let j = 0; j < x.length; j++) {
      const f = x[j]! - Math.floor(x[j]!);
      expect(Math.abs(sums[j]! / n - x[j]!), `x=${x[j]}`).toBeLessThanOrEqual(5 * Math.sqrt((f * (1 - f)) / n) + 1e-9);
    }
  });

  it('gives up after maxAttempts naming the bound, and refuses bad input before drawing', () => {
    const rng = createSeededRng(3);
    const halves = new Float64Array(64).fill(0.5);
    expectCohortError(() => roundConditionallyInto(new Int32Array(64), halves, 1, rng, 10), 'FAILED_PRECONDITION', /L2 norm <= 1 in 10 attempts/);
    expectCohortError(() => roundConditionallyInto(new Int32Array(3), Float32Array.from([1, 2, Number.NaN]), 10, rng), 'UPDATE_NOT_FINITE', /update element 2 is not finite \(NaN\)/);
    expectCohortError(() => roundConditionallyInto(new Int32Array(2), Float64Array.from([0, Number.NEGATIVE_INFINITY]), 10, rng), 'UPDATE_NOT_FINITE', /update element 1 is not finite \(-Infinity\)/);
    expectCohortError(() => roundConditionallyInto(new Int32Array(1), Float64Array.from([2 ** 31 - 0.5]), 2 ** 32, rng), 'INVALID_ARGUMENT', /outside ±\(2\^31 − 1\)/);
    expectCohortError(() => roundConditionallyInto(new Int32Array(2), new Float64Array(3), 10, rng), 'INVALID_ARGUMENT', /2 elements for 3 inputs/);
    expectCohortError(() => roundConditionallyInto(new Int32Array(1), new Float64Array(1), -1, rng), 'INVALID_ARGUMENT', /l2Bound/);
    expectCohortError(() => roundConditionallyInto(new Int32Array(1), new Float64Array(1), 1, rng, 0), 'INVALID_ARGUMENT', /maxAttempts/);
    const edge = new Int32Array(2);
    roundConditionallyInto(edge, Float64Array.from([2 ** 31 - 1, -(2 ** 31 - 1)]), 2 ** 32, rng);
    expect([...edge]).toEqual([2 ** 31 - 1, -(2 ** 31 - 1)]);
  });
});

describe('planSkellam', () => {
  const base = { clipNorm: 1, dimension: 101_770, modulusBits: 32, maxInputs: 10, minSurvivors: 8, noiseMultiplier: 1 };

  it('fits a 101,770-parameter model, 10 inputs, 32 bits: no wrap, exact Poisson range, negligible rounding inflation', () => {
    const p = planSkellam(base);
    expect(p.maxAbsSum).toBeLessThan(2 ** 31);
    expect(p.perClientVariance / 2).toBeLessThanOrEqual(2 ** 40);
    // Here the sampler's range is what binds, so the scale is the largest it allows.
    expect(rel(p.perClientVariance / 2, 2 ** 40)).toBeLessThan(1e-9);
    expect(p.l2Bound / (p.scale * base.clipNorm) - 1).toBeLessThan(1e-3);
    expect(p.l2Bound).toBe(conditionalRoundingBound(p.scale * base.clipNorm, base.dimension, Math.exp(-0.5)));
    expect(p.l1Bound).toBe(integerL1Bound(p.l2Bound, base.dimension));
    expect(p.centralVariance).toBeCloseTo(p.l2Bound ** 2, 0);
    expect(rel(p.perClientVariance, p.centralVariance / 8)).toBeLessThan(1e-15);
    const worst = 10 * p.perClientVariance;
    expect(base.dimension * skellamTailBound(worst, p.noiseTail)).toBeLessThanOrEqual(1e-9);
    expect(base.dimension * skellamTailBound(worst, 0.999 * p.noiseTail)).toBeGreaterThan(1e-9);
    expect(p.maxAbsSum).toBe(10 * p.l2Bound + p.noiseTail);
    expect(p.wrapProbability).toBeLessThanOrEqual(1e-9);
    expect(p.clipNorm).toBe(1);
  });

  it('takes the largest scale the modulus allows when the modulus binds', () => {
    const p = planSkellam({ ...base, dimension: 1000, modulusBits: 20, maxInputs: 8 });
    expect(p.maxAbsSum).toBeLessThan(2 ** 19);
    expect(rel(p.maxAbsSum, 2 ** 19)).toBeLessThan(1e-9);
    expect(p.wrapProbability).toBeLessThanOrEqual(1e-9);
    expect(p.scale).toBeGreaterThan(Math.sqrt(1000));
    const stricter = planSkellam({ ...base, dimension: 1000, modulusBits: 20, maxInputs: 8, wrapProbability: 1e-15 });
    expect(stricter.scale).toBeLessThan(p.scale);
    const capped = planSkellam({ ...base, maxPoissonMean: 1e6 });
    expect(capped.perClientVariance / 2).toBeLessThanOrEqual(1e6);
    expect(capped.scale).toBeLessThan(planSkellam(base).scale);
  });

  it('refuses a modulus too small for the clients, naming modulusBits and the size that fits', () => {
    expectCohortError(
      () => planSkellam({ ...base, modulusBits: 16, maxInputs: 1000 }),
      'CONFIG_INVALID',
      /dp: modulusBits = 16 is too small: a 16-bit modulus cannot hold the sum of 1000 inputs.*choose secagg\.modulusBits >= 20 or fewer clients/,
    );
    expectCohortError(() => planSkellam({ ...base, noiseMultiplier: 1e9 }), 'CONFIG_INVALID', /dp: noiseMultiplier = 1000000000 needs a per-client Poisson mean/);
  });

  it('refuses every bad field, naming it', () => {
    const cases: [Partial<typeof base> & Record<string, number>, RegExp][] = [
      [{ clipNorm: 0 }, /dp: clipNorm must be a finite number > 0, got 0/],
      [{ clipNorm: Number.NaN }, /dp: clipNorm/],
      [{ dimension: 0 }, /dp: dimension must be an integer >= 1, got 0/],
      [{ dimension: 10.5 }, /dp: dimension/],
      [{ modulusBits: 7 }, /dp: modulusBits must be an integer in \[8, 32\], got 7/],
      [{ modulusBits: 33 }, /dp: modulusBits/],
      [{ minSurvivors: 0 }, /dp: minSurvivors must be an integer >= 1, got 0/],
      [{ maxInputs: 5 }, /dp: maxInputs must be an integer >= minSurvivors \(8\), got 5/],
      [{ noiseMultiplier: 0 }, /dp: noiseMultiplier must be a finite number > 0, got 0/],
      [{ wrapProbability: 0 }, /dp: wrapProbability must be in \(0, 1\), got 0/],
      [{ wrapProbability: 1 }, /dp: wrapProbability/],
      [{ roundingBeta: 1 }, /dp: roundingBeta must be in \(0, 1\), got 1/],
      [{ maxPoissonMean: 2 ** 41 }, /dp: maxPoissonMean must be in \(0, 2\^40\]/],
    ];
    for (const [change, message] of cases) expectCohortError(() => planSkellam({ ...base, ...change }), 'CONFIG_INVALID', message);
  });
});

describe('encodeSkellamInput / decodeSkellamSum', () => {
  /** A random update with L2 norm in [0.5C, 0.9C]: already clipped, as a client would send it. */
  function clippedDelta(rng: Rng, d: number, clipNorm: number): Float32Array {
    const v = new Float32Array(d);
    let sq = 0;
    for (let i = 0; i < d; i++) {
      v[i] = 2 * rng.nextFloat() - 1;
      sq += v[i]! * v[i]!;
    }
    const k = ((0.5 + 0.4 * rng.nextFloat()) * clipNorm) / Math.sqrt(sq);
    for (let i = 0; i < d; i++) v[i]! *= k;
    return v;
  }

  /** What the secure aggregator computes: word-wise sums mod 2^32, then mod 2^b. */
  function modularSum(inputs: readonly Uint32Array[], b: number): Uint32Array {
    const sum = new Uint32Array(inputs[0]!.length);
    for (const x of inputs) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + x[i]!;
    if (b < 32) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! % 2 ** b;
    return sum;
  }

  for (const b of [32, 20]) {
    it(`8 clients, d = 1000, b = ${b}: the decoded sum is the true sum plus noise of variance 8·perClientVariance/scale²`, () => {
      const d = 1000;
      const clients = 8;
      const plan = planSkellam({ clipNorm: 2, dimension: d, modulusBits: b, maxInputs: clients, minSurvivors: clients, noiseMultiplier: 1 });
      const rng = createSeededRng(`skellam-e2e-${b}`);
      let n = 0;
      let s = 0;
      let s2 = 0;
      for (let round = 0; round < 5; round++) {
        const truth = new Float64Array(d);
        const inputs: Uint32Array[] = [];
        for (let c = 0; c < clients; c++) {
          const delta = clippedDelta(rng, d, 2);
          for (let i = 0; i < d; i++) truth[i]! += delta[i]!;
          const encoded = encodeSkellamInput(delta, plan, b, rng);
          expect(encoded).toHaveLength(d + 1);
          expect(encoded[d]).toBe(1);
          if (b < 32) expect(Math.max(...encoded)).toBeLessThan(2 ** b);
          inputs.push(encoded);
        }
        const decoded = decodeSkellamSum(modularSum(inputs, b), plan, b);
        expect(decoded.count).toBe(clients);
        for (let i = 0; i < d; i++) {
          const e = decoded.sum[i]! - truth[i]!;
          s += e;
          s2 += e * e;
          n++;
        }
      }
      const expected = (clients * plan.perClientVariance) / plan.scale ** 2;
      // z = 1 and the noise sized for exactly these 8 clients: the noise standard deviation is ≈ z·clipNorm = 2.
      expect(rel(Math.sqrt(expected), 2)).toBeLessThan(1e-2);
      const mean = s / n;
      expect(Math.abs(mean)).toBeLessThan(5 * Math.sqrt(expected / n));
      expect(rel(s2 / n - mean * mean, expected)).toBeLessThan(0.1);
    });
  }

  it('decodes centered residues mod 2^b and the count word', () => {
    const plan = planSkellam({ clipNorm: 1, dimension: 2, modulusBits: 12, maxInputs: 1, minSurvivors: 1, noiseMultiplier: 1 });
    const out = decodeSkellamSum(Uint32Array.from([2 ** 12 - 3, 5 + 2 ** 12, 3]), plan, 12);
    expect(out.sum[0]).toBeCloseTo(-3 / plan.scale, 6);
    expect(out.sum[1]).toBeCloseTo(5 / plan.scale, 6);
    expect(out.count).toBe(3);
    const plan32 = planSkellam({ clipNorm: 1, dimension: 1, modulusBits: 32, maxInputs: 1, minSurvivors: 1, noiseMultiplier: 1 });
    expect(decodeSkellamSum(Uint32Array.from([2 ** 32 - 7, 1]), plan32, 32).sum[0]).toBeCloseTo(-7 / plan32.scale, 12);
  });

  it('encodes from the four numbers a client receives, and refuses unclipped or non-finite updates and bad plans', () => {
    const plan: SkellamPlan = planSkellam({ clipNorm: 1, dimension: 4, modulusBits: 24, maxInputs: 4, minSurvivors: 2, noiseMultiplier: 1.5 });
    const wire: SkellamEncoding = { clipNorm: plan.clipNorm, scale: plan.scale, l2Bound: plan.l2Bound, perClientVariance: plan.perClientVariance };
    const a = encodeSkellamInput(Float32Array.from([0.1, -0.2, 0.3, 0]), plan, 24, createSeededRng(5));
    expect([...encodeSkellamInput(Float32Array.from([0.1, -0.2, 0.3, 0]), wire, 24, createSeededRng(5))]).toEqual([...a]);
    const rng = createSeededRng(4);
    expectCohortError(() => encodeSkellamInput(Float32Array.from([1, 1, 0, 0]), plan, 24, rng), 'INVALID_ARGUMENT', /L2 norm 1.41.* exceeds the clip norm 1: clients must clip before encoding/);
    expectCohortError(() => encodeSkellamInput(Float32Array.from([0, Number.NaN, 0, 0]), plan, 24, rng), 'UPDATE_NOT_FINITE', /update element 1 is not finite \(NaN\)/);
    expectCohortError(() => encodeSkellamInput(new Float32Array(4), plan, 33, rng), 'INVALID_ARGUMENT', /modulusBits must be an integer in \[8, 32\], got 33/);
    expectCohortError(() => encodeSkellamInput(new Float32Array(4), { ...wire, scale: 0 }, 24, rng), 'INVALID_ARGUMENT', /Skellam scale/);
    expectCohortError(() => encodeSkellamInput(new Float32Array(4), { ...wire, clipNorm: Number.NaN }, 24, rng), 'INVALID_ARGUMENT', /Skellam clipNorm/);
    expectCohortError(() => encodeSkellamInput(new Float32Array(4), { ...wire, perClientVariance: -1 }, 24, rng), 'INVALID_ARGUMENT', /Skellam variance/);
    expectCohortError(() => encodeSkellamInput(new Float32Array(4), { ...wire, l2Bound: Number.POSITIVE_INFINITY }, 24, rng), 'INVALID_ARGUMENT', /l2Bound/);
    expectCohortError(() => decodeSkellamSum(new Uint32Array(5), plan, 7), 'INVALID_ARGUMENT', /modulusBits must be an integer in \[8, 32\], got 7/);
    expectCohortError(() => decodeSkellamSum(new Uint32Array(0), plan, 24), 'INVALID_ARGUMENT', /at least 1 element/);
    // Exactly at the clip norm (as float32 rounding leaves it) is accepted.
    expect(encodeSkellamInput(Float32Array.from([0.6, 0.8, 0, 0]), plan, 24, rng)).toHaveLength(5);
  });
});
