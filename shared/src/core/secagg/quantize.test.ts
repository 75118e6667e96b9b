import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import { createSeededRng } from '../rng/index.js';
import type { Rng } from '../rng/index.js';
import type { QuantizationParams } from './quantize.js';
import { dequantizeSum, quantizationParams, quantizeWeighted, reduceModulus } from './quantize.js';
import { thrown } from '../../../../test/helpers/errors.js';

function expectError(fn: () => unknown, code: 'CONFIG_INVALID' | 'INVALID_ARGUMENT' | 'UPDATE_NOT_FINITE', message: RegExp): void {
  const error = thrown(fn);
  expect(isCohortError(error, code), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as Error).message).toMatch(message);
}

/** Signed value of a stored residue mod 2^b. */
function signed(word: number, b: number): number {
  const u = b === 32 ? word >>> 0 : (word >>> 0) % 2 ** b;
  return u >= 2 ** (b - 1) ? u - 2 ** b : u;
}

/** Sum of quantized vectors as a secure aggregator sees it: wrapping uint32 additions, then reduced mod 2^b. */
function modularSum(inputs: readonly Uint32Array[], b: number): Uint32Array {
  const sum = new Uint32Array(inputs[0]!.length);
  for (const q of inputs) for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + q[i]!;
  reduceModulus(sum, b);
  return sum;
}

function randomDelta(rng: Rng, d: number, range: number): Float32Array {
  const out = new Float32Array(d);
  for (let i = 0; i < d; i++) out[i] = (2 * rng.nextFloat() - 1) * range;
  return out;
}

describe('quantizationParams', () => {
  it('derives headroom, bound and scale, with a 32-bit modulus by default', () => {
    const p = quantizationParams({ clamp: 0.5, maxInputs: 1, weightCap: 100 });
    expect(p).toEqual({ modulusBits: 32, clamp: 0.5, maxInputs: 1, headroomBits: 0, bound: 2 ** 31 - 1, scale: (2 ** 31 - 1) / 0.5, weightCap: 100 });
    expect(quantizationParams({ clamp: 1, maxInputs: 2, weightCap: 1 }).headroomBits).toBe(1);
    expect(quantizationParams({ clamp: 1, maxInputs: 128, weightCap: 1 }).headroomBits).toBe(7);
    const p129 = quantizationParams({ clamp: 1, maxInputs: 129, weightCap: 1 });
    expect(p129.headroomBits).toBe(8);
    expect(p129.bound).toBe(2 ** 23 - 1);
    const p16 = quantizationParams({ modulusBits: 16, clamp: 2, maxInputs: 100, weightCap: 10 });
    expect(p16.headroomBits).toBe(7);
    expect(p16.bound).toBe(255);
    expect(p16.scale).toBe(127.5);
  });

  it('accepts exactly 8 value bits and rejects 7, saying how many inputs and bits', () => {
    expect(quantizationParams({ modulusBits: 16, clamp: 1, maxInputs: 128, weightCap: 1 }).bound).toBe(255);
    expect(quantizationParams({ modulusBits: 32, clamp: 1, maxInputs: 2 ** 23, weightCap: 1 }).bound).toBe(255);
    expectError(
      () => quantizationParams({ modulusBits: 16, clamp: 1, maxInputs: 129, weightCap: 1 }),
      'CONFIG_INVALID',
      /quantization\.maxInputs = 129 needs 8 headroom bits, leaving 7 value bits per input in a 16-bit modulus.*at most 128 inputs.*modulusBits >= 17/,
    );
    expectError(() => quantizationParams({ modulusBits: 32, clamp: 1, maxInputs: 2 ** 23 + 1, weightCap: 1 }), 'CONFIG_INVALID', /at most 8388608 inputs/);
    expectError(() => quantizationParams({ modulusBits: 8, clamp: 1, maxInputs: 1, weightCap: 1 }), 'CONFIG_INVALID', /quantization\.modulusBits = 8 leaves 7 value bits.*must be >= 9/);
    expect(quantizationParams({ modulusBits: 9, clamp: 1, maxInputs: 1, weightCap: 1 }).bound).toBe(255);
  });

  it('names the field and the value of every invalid option', () => {
    const base = { clamp: 1, maxInputs: 10, weightCap: 100 };
    expectError(() => quantizationParams({ ...base, modulusBits: 7 }), 'CONFIG_INVALID', /^quantization\.modulusBits must be an integer in \[8, 32\], got 7$/);
    expectError(() => quantizationParams({ ...base, modulusBits: 33 }), 'CONFIG_INVALID', /modulusBits must be an integer in \[8, 32\], got 33/);
    expectError(() => quantizationParams({ ...base, modulusBits: 16.5 }), 'CONFIG_INVALID', /got 16\.5/);
    for (const clamp of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(() => quantizationParams({ ...base, clamp }), 'CONFIG_INVALID', new RegExp(`^quantization\\.clamp must be a finite number > 0, got ${clamp}$`));
    }
    for (const maxInputs of [0, -3, 2.5, Number.NaN]) {
      expectError(() => quantizationParams({ ...base, maxInputs }), 'CONFIG_INVALID', /^quantization\.maxInputs must be an integer >= 1/);
    }
    for (const weightCap of [0, 0.5, Number.POSITIVE_INFINITY]) {
      expectError(() => quantizationParams({ ...base, weightCap }), 'CONFIG_INVALID', /^quantization\.weightCap must be an integer >= 1/);
    }
    const error = thrown(() => quantizationParams({ ...base, clamp: 0 })) as { details: unknown };
    expect(error.details).toEqual({ field: 'quantization.clamp' });
  });
});

describe('quantizeWeighted', () => {
  it('rounds stochastically without bias: the mean of many roundings of ±0.3 steps is ±0.3', () => {
    // scale = 1 step per model unit, so 0.3 sits 0.3 of the way from 0 to 1.
    const params = quantizationParams({ modulusBits: 16, clamp: 32767, maxInputs: 1, weightCap: 1 });
    expect(params.scale).toBe(1);
    const n = 100_000;
    for (const x of [0.3, -0.3, 2.75]) {
      const q = quantizeWeighted(new Float32Array(n).fill(x), 1, params, createSeededRng(5));
      let sum = 0;
      let offGrid = 0;
      const lo = Math.floor(Math.fround(x));
      for (let i = 0; i < n; i++) {
        const v = signed(q[i]!, 16);
        if (v !== lo && v !== lo + 1) offGrid++;
        sum += v;
      }
      expect(offGrid).toBe(0);
      // Bernoulli(0.3) std is 0.46, so the mean of 1e5 is within 0.006 at > 4 sigma.
      expect(Math.abs(sum / n - Math.fround(x))).toBeLessThan(0.006);
    }
  });

  it('rounds the weight element without bias too: the mean of SR(ω·B) is ω·B', () => {
    // B = 2^(12-1-2) - 1 = 511 and ω = 3/10, so ω·B = 153.3 rounds to 153 or 154.
    const params = quantizationParams({ modulusBits: 12, clamp: 1, maxInputs: 4, weightCap: 10 });
    const omegaB = (params.bound * 3) / 10;
    const rng = createSeededRng(9);
    let sum = 0;
    const trials = 50_000;
    for (let t = 0; t < trials; t++) sum += signed(quantizeWeighted(new Float32Array(0), 3, params, rng)[0]!, 12);
    expect(Math.abs(sum / trials - omegaB)).toBeLessThan(0.01);
  });

  it('never leaves [-B, B]: ±clamp maps to ±B exactly, beyond ±clamp is clamped, for many clamps and moduli', () => {
    for (const b of [32, 24, 16, 12, 9]) {
      for (const clamp of [1e-3, 0.1, 1, 3.7, 1e4]) {
        for (const n of [1, 3, 100]) {
          if (b - 1 - Math.ceil(Math.log2(n)) < 8) continue;
          const params = quantizationParams({ modulusBits: b, clamp, maxInputs: n, weightCap: 50 });
          const B = params.bound;
          const extremes = new Float32Array([clamp, -clamp, 1e30, -1e30, 2 * clamp, -2 * clamp, 3.4e38, -3.4e38]);
          const q = quantizeWeighted(extremes, 50, params, createSeededRng(b * 1000 + n));
          const values = Array.from(q, (w) => signed(w, b));
          // Float32 rounding of ±clamp can land a hair above or below it, so ±clamp maps to ±B or the step next to it.
          expect(values[0]! === B || values[0]! === B - 1).toBe(true);
          expect(values[1]! === -B || values[1]! === -B + 1).toBe(true);
          expect(values.slice(2, 8)).toEqual([B, -B, B, -B, B, -B]);
          expect(values[8]).toBe(B); // full weight
          for (let i = 0; i < q.length; i++) if (b < 32) expect(q[i]!).toBeLessThan(2 ** b);
          // Random inputs around the clamp range, full and partial weights: every element within [-B, B].
          const rng = createSeededRng(b + n);
          for (const weight of [0.001, 7, 50, 1e9]) {
            const r = quantizeWeighted(randomDelta(rng, 2000, 1.5 * clamp), weight, params, rng);
            for (let i = 0; i < r.length; i++) {
              const v = signed(r[i]!, b);
              if (v > B || v < -B) throw new Error(`b=${b} clamp=${clamp} n=${n} weight=${weight}: element ${i} = ${v} outside ±${B}`);
            }
          }
        }
      }
    }
  });

  it('clamps exactly at ±clamp when clamp is representable in float32', () => {
    const params = quantizationParams({ modulusBits: 32, clamp: 0.5, maxInputs: 10, weightCap: 1 });
    const q = quantizeWeighted(new Float32Array([0.5, -0.5, 0.25]), 1, params, createSeededRng(1));
    expect(signed(q[0]!, 32)).toBe(params.bound);
    expect(signed(q[1]!, 32)).toBe(-params.bound);
    expect(Math.abs(signed(q[2]!, 32) - params.bound / 2)).toBeLessThanOrEqual(0.5);
  });

  it('stores two’s complement residues mod 2^b, one more element than the update', () => {
    const params = quantizationParams({ modulusBits: 16, clamp: 255, maxInputs: 2, weightCap: 1 });
    // B = 2^14 - 1, scale = 16383 / 255; -255 maps to -B = 2^16 - 16383 = 49153.
    const q = quantizeWeighted(new Float32Array([-255, 0, 255]), 5, params, createSeededRng(2));
    expect(q.length).toBe(4);
    expect(Array.from(q)).toEqual([2 ** 16 - 16383, 0, 16383, 16383]);
    const q32 = quantizeWeighted(new Float32Array([-1]), 1, quantizationParams({ clamp: 1, maxInputs: 1, weightCap: 1 }), createSeededRng(2));
    expect(q32[0]).toBe(2 ** 32 - (2 ** 31 - 1));
  });

  it('handles an empty update (just the weight element)', () => {
    const params = quantizationParams({ clamp: 1, maxInputs: 4, weightCap: 10 });
    const q = quantizeWeighted(new Float32Array(0), 10, params, createSeededRng(3));
    expect(q.length).toBe(1);
    expect(q[0]).toBe(params.bound);
  });

  it('replays for the same seed', () => {
    const params = quantizationParams({ clamp: 1, maxInputs: 10, weightCap: 10 });
    const delta = randomDelta(createSeededRng(4), 500, 1);
    expect(quantizeWeighted(delta, 3, params, createSeededRng(8))).toEqual(quantizeWeighted(delta, 3, params, createSeededRng(8)));
  });

  it('rejects non-finite elements naming the index, and bad weights', () => {
    const params = quantizationParams({ clamp: 1, maxInputs: 10, weightCap: 10 });
    const rng = createSeededRng(1);
    expectError(() => quantizeWeighted(new Float32Array([0, 1, Number.NaN]), 1, params, rng), 'UPDATE_NOT_FINITE', /element 2 is not finite \(NaN\)/);
    expectError(() => quantizeWeighted(new Float32Array([Number.POSITIVE_INFINITY]), 1, params, rng), 'UPDATE_NOT_FINITE', /element 0 is not finite \(Infinity\)/);
    expectError(() => quantizeWeighted(new Float32Array([0, Number.NEGATIVE_INFINITY]), 1, params, rng), 'UPDATE_NOT_FINITE', /element 1 is not finite/);
    expect((thrown(() => quantizeWeighted(new Float32Array([Number.NaN]), 1, params, rng)) as { details: unknown }).details).toEqual({ index: 0 });
    for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectError(() => quantizeWeighted(new Float32Array(3), weight, params, rng), 'INVALID_ARGUMENT', new RegExp(`client weight must be a finite number > 0, got ${weight}`));
    }
  });
});

describe('reduceModulus', () => {
  it('reduces in place mod 2^16, and is a no-op for b = 32', () => {
    const v = new Uint32Array([0x12345678, 0xffffffff, 0x10000, 0xffff, 0, 0x80000000]);
    reduceModulus(v, 16);
    expect(Array.from(v)).toEqual([0x5678, 0xffff, 0, 0xffff, 0, 0]);
    const w = new Uint32Array([0x12345678, 0xffffffff]);
    reduceModulus(w, 32);
    expect(Array.from(w)).toEqual([0x12345678, 0xffffffff]);
    const x = new Uint32Array([0xffffffff]);
    reduceModulus(x, 31);
    expect(x[0]).toBe(2 ** 31 - 1);
  });

  it('reduces a view without touching its neighbours', () => {
    const backing = new Uint32Array([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
    reduceModulus(backing.subarray(1, 3), 8);
    expect(Array.from(backing)).toEqual([0xffffffff, 0xff, 0xff, 0xffffffff]);
  });

  it('agrees with the sum mod 2^b after wrapping uint32 additions', () => {
    const rng = createSeededRng(12);
    const terms = Array.from({ length: 50 }, () => new Uint32Array(Array.from({ length: 20 }, () => rng.nextUint32())));
    const sum = modularSum(terms, 16);
    for (let i = 0; i < 20; i++) {
      let exact = 0n;
      for (const t of terms) exact += BigInt(t[i]!);
      expect(sum[i]).toBe(Number(exact % 2n ** 16n));
    }
  });

  it('rejects a modulus outside [1, 32]', () => {
    expectError(() => reduceModulus(new Uint32Array(1), 0), 'INVALID_ARGUMENT', /modulusBits must be an integer in \[1, 32\], got 0/);
    expectError(() => reduceModulus(new Uint32Array(1), 33), 'INVALID_ARGUMENT', /got 33/);
  });
});

describe('dequantizeSum', () => {
  function extremeSum(params: QuantizationParams, sign: 1 | -1, d: number, count: number): Uint32Array {
    const delta = new Float32Array(d).fill(sign * params.clamp * 10);
    const rng = createSeededRng(77);
    return modularSum(Array.from({ length: count }, () => quantizeWeighted(delta, params.weightCap * 3, params, rng)), params.modulusBits);
  }

  it('decodes a sum of n inputs at ±clamp without wrapping', () => {
    const cases: { b: number; n: number }[] = [
      { b: 16, n: 100 },
      { b: 16, n: 128 },
      { b: 12, n: 8 },
      { b: 32, n: 128 },
      { b: 32, n: 1000 },
      { b: 20, n: 2048 },
    ];
    for (const { b, n } of cases) {
      const params = quantizationParams({ modulusBits: b, clamp: 0.75, maxInputs: n, weightCap: 20 });
      expect(n * params.bound).toBeLessThan(2 ** (b - 1));
      for (const sign of [1, -1] as const) {
        const decoded = dequantizeSum(extremeSum(params, sign, 5, n), params);
        for (const x of decoded.weightedSum) expect(x).toBeCloseTo(sign * n * 0.75, 3);
        expect(decoded.normalisedWeight).toBe(n);
        expect(decoded.totalWeight).toBe(n * 20);
      }
    }
  });

  it('shows why headroom matters: n+extra inputs at +clamp would wrap negative', () => {
    const params = quantizationParams({ modulusBits: 16, clamp: 1, maxInputs: 128, weightCap: 1 });
    const decoded = dequantizeSum(extremeSum(params, 1, 1, 129), params);
    // 129 · 255 = 32895 >= 2^15: the out-of-contract sum wraps to a negative value.
    expect(decoded.weightedSum[0]!).toBeLessThan(0);
  });

  it('recovers the weighted mean of several clients from their modular sum, to within 1/scale', () => {
    for (const b of [32, 20]) {
      const rng = createSeededRng(b);
      const clients = 12;
      const d = 3000;
      const clamp = 0.2;
      const weightCap = 500;
      const params = quantizationParams({ modulusBits: b, clamp, maxInputs: 16, weightCap });
      const deltas = Array.from({ length: clients }, () => randomDelta(rng, d, 0.25)); // some beyond the clamp
      // Client 0 is over the cap; the rest weigh in between half the cap and the cap.
      const weights = Array.from({ length: clients }, (_, u) => (u === 0 ? 5000 : 250 + Math.floor(rng.nextFloat() * 250)));
      const sum = modularSum(deltas.map((x, u) => quantizeWeighted(x, weights[u]!, params, rng)), b);
      const decoded = dequantizeSum(sum, params);

      const omegas = weights.map((w) => Math.min(w, weightCap) / weightCap);
      const omegaTotal = omegas.reduce((a, c) => a + c, 0);
      expect(Math.abs(decoded.normalisedWeight - omegaTotal)).toBeLessThanOrEqual(clients / params.bound);
      const cappedTotal = weights.reduce((a, w) => a + Math.min(w, weightCap), 0);
      expect(Math.abs(decoded.totalWeight - cappedTotal)).toBeLessThanOrEqual((clients * weightCap) / params.bound);

      // Error budget in model units: each client's rounding moves its term by less than one step (1/scale), and the
      // decoded sum is stored as float32 (half an ulp, 2^-24 relative); at 32 bits the float32 store dominates.
      let worstSum = 0;
      let worstMean = 0;
      for (let i = 0; i < d; i++) {
        let exact = 0;
        for (let u = 0; u < clients; u++) exact += omegas[u]! * Math.max(-clamp, Math.min(clamp, deltas[u]![i]!));
        const f32 = Math.abs(exact) * 2 ** -24;
        worstSum = Math.max(worstSum, Math.abs(decoded.weightedSum[i]! - exact) / (clients / params.scale + f32));
        const mean = decoded.weightedSum[i]! / decoded.normalisedWeight;
        worstMean = Math.max(worstMean, Math.abs(mean - exact / omegaTotal) / (1 / params.scale + (f32 / omegaTotal) * 2));
      }
      expect(worstSum).toBeLessThan(1);
      expect(worstMean).toBeLessThan(1);
    }
  });

  it('decodes the stored residues of negative values for b < 32 and b = 32 alike', () => {
    const p16 = quantizationParams({ modulusBits: 16, clamp: 255, maxInputs: 2, weightCap: 1 });
    const decoded = dequantizeSum(new Uint32Array([2 ** 16 - 16383, 0x7fff, 0x8000 + 0x10000, 16383]), p16);
    expect(Array.from(decoded.weightedSum)).toEqual([Math.fround(-255), Math.fround(0x7fff / p16.scale), Math.fround(-0x8000 / p16.scale)]);
    expect(decoded.normalisedWeight).toBe(1);
    const p32 = quantizationParams({ clamp: 1, maxInputs: 2, weightCap: 4 });
    const d32 = dequantizeSum(new Uint32Array([2 ** 32 - p32.bound, p32.bound, 2 ** 32 - p32.bound]), p32);
    expect(Array.from(d32.weightedSum)).toEqual([-1, 1]);
    expect(d32.normalisedWeight).toBe(-1);
    expect(d32.totalWeight).toBe(-4);
  });

  it('does not modify its input, and rejects an empty sum', () => {
    const params = quantizationParams({ modulusBits: 16, clamp: 1, maxInputs: 2, weightCap: 1 });
    const sum = new Uint32Array([0x12345678, 0xffffffff]);
    dequantizeSum(sum, params);
    expect(Array.from(sum)).toEqual([0x12345678, 0xffffffff]);
    expectError(() => dequantizeSum(new Uint32Array(0), params), 'INVALID_ARGUMENT', /at least 1 element/);
  });
});
