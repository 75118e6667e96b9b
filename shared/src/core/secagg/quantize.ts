/**
 * Fixed-point quantization for secure aggregation in Z_{2^b}. Each client maps its (clamped, weighted) float update to
 * integers in [-B, B] by unbiased stochastic rounding and appends its own weight, so one modular sum carries both the
 * weighted sum of updates and the total weight. B leaves h = ceil(log2 n) bits of headroom, so a sum of up to n inputs
 * never wraps and decodes exactly (up to rounding noise of at most 1/scale per input and element).
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/index.js';

/** Derived parameters of one quantization scheme; build with `quantizationParams`, never by hand. */
export interface QuantizationParams {
  /** b: vectors live in Z_{2^b}, integer in [8, 32]. */
  readonly modulusBits: number;
  /** Inputs are clamped to [-clamp, clamp], in model units; > 0 and finite. */
  readonly clamp: number;
  /** n: most inputs one secure sum may add (cohort or bucket size), integer >= 1. */
  readonly maxInputs: number;
  /** h = ceil(log2 n) headroom bits (0 for n = 1). */
  readonly headroomBits: number;
  /** B = 2^(b-1-h) - 1: each quantized element lies in [-B, B], so a sum of n cannot wrap. */
  readonly bound: number;
  /** Quantization steps per model unit: B / clamp. */
  readonly scale: number;
  /** A client's weight (examples) is capped at this before normalising; integer >= 1. */
  readonly weightCap: number;
}

/** Fewest value bits (b - 1 - h) each input must keep after the headroom for the sum. */
export const MIN_VALUE_BITS = 8;

/** Options of `quantizationParams`. */
export interface QuantizationOptions {
  /** b, integer in [8, 32]; default 32. */
  modulusBits?: number;
  /** Clamp range in model units, > 0 and finite. */
  clamp: number;
  /** Most inputs one secure sum may add, integer >= 1. */
  maxInputs: number;
  /** Client weight cap in examples, integer >= 1. */
  weightCap: number;
}

function invalid(field: string, message: string): CohortError {
  return new CohortError('CONFIG_INVALID', `quantization.${field} ${message}`, { field: `quantization.${field}` });
}

/** Validates the options and derives h, B and scale (CONFIG_INVALID naming the field on any bad value). */
export function quantizationParams(options: QuantizationOptions): QuantizationParams {
  const modulusBits = options.modulusBits ?? 32;
  const { clamp, maxInputs, weightCap } = options;
  if (!Number.isInteger(modulusBits) || modulusBits < 8 || modulusBits > 32) {
    throw invalid('modulusBits', `must be an integer in [8, 32], got ${modulusBits}`);
  }
  if (typeof clamp !== 'number' || !Number.isFinite(clamp) || clamp <= 0) {
    throw invalid('clamp', `must be a finite number > 0, got ${clamp}`);
  }
  if (!Number.isSafeInteger(maxInputs) || maxInputs < 1) {
    throw invalid('maxInputs', `must be an integer >= 1, got ${maxInputs}`);
  }
  if (!Number.isSafeInteger(weightCap) || weightCap < 1) {
    throw invalid('weightCap', `must be an integer >= 1, got ${weightCap}`);
  }
  let headroomBits = 0;
  while (2 ** headroomBits < maxInputs) headroomBits++;
  const valueBits = modulusBits - 1 - headroomBits;
  if (modulusBits - 1 < MIN_VALUE_BITS) {
    throw invalid('modulusBits', `= ${modulusBits} leaves ${modulusBits - 1} value bits (1 sign bit) even for a single input; at least ${MIN_VALUE_BITS} are required, so modulusBits must be >= ${MIN_VALUE_BITS + 1}`);
  }
  if (valueBits < MIN_VALUE_BITS) {
    throw invalid(
      'maxInputs',
      `= ${maxInputs} needs ${headroomBits} headroom bits, leaving ${valueBits} value bits per input in a ` +
        `${modulusBits}-bit modulus (1 sign bit); at least ${MIN_VALUE_BITS} are required: a ${modulusBits}-bit ` +
        `modulus sums at most ${2 ** (modulusBits - 1 - MIN_VALUE_BITS)} inputs` +
        (headroomBits + 1 + MIN_VALUE_BITS <= 32 ? `, and ${maxInputs} inputs need modulusBits >= ${headroomBits + 1 + MIN_VALUE_BITS}` : ''),
    );
  }
  const bound = 2 ** valueBits - 1;
  return { modulusBits, clamp, maxInputs, headroomBits, bound, scale: bound / clamp, weightCap };
}

/** Normalised weight ω = min(weight, weightCap) / weightCap in (0, 1]; weight in examples, > 0 and finite. */
export function normalisedWeight(weight: number, weightCap: number): number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new CohortError('INVALID_ARGUMENT', `client weight must be a finite number > 0, got ${weight}`);
  }
  return Math.min(weight, weightCap) / weightCap;
}

/**
 * Quantizes one client's update for secure aggregation: length d+1. Element i<d is SR(ω·clamp(x_i)·scale), the last
 * is SR(ω·B), ω = min(weight, weightCap)/weightCap; SR = unbiased stochastic rounding (floor + Bernoulli(frac) from
 * rng.nextFloat()); stored as two's complement mod 2^b in a Uint32Array. Draws exactly d+1 floats from `rng`.
 * Throws UPDATE_NOT_FINITE naming the first non-finite element, INVALID_ARGUMENT for a bad weight.
 */
export function quantizeWeighted(delta: Float32Array, weight: number, params: QuantizationParams, rng: Rng): Uint32Array {
  const omega = normalisedWeight(weight, params.weightCap);
  const d = delta.length;
  const out = new Uint32Array(d + 1);
  // Written through a signed view: every value is an int32 (|r| <= B < 2^31), so V8 stays on small integers; the
  // bits are the same as the unsigned residue mod 2^32, and `& mask` reduces further when b < 32.
  const view = new Int32Array(out.buffer, out.byteOffset, out.length);
  const mask = params.modulusBits === 32 ? -1 : (2 ** params.modulusBits - 1) | 0;
  const k = omega * params.scale;
  // Clamping in scaled units at ±ω·B is clamp(x)·ω·scale without the float overshoot of (B/clamp)·clamp > B; and
  // ω·B <= B because ω <= 1 and rounding is monotone, so floor + Bernoulli never leaves [-B, B].
  const limit = omega * params.bound;
  for (let i = 0; i < d; i++) {
    const x = delta[i]!;
    // x - x is NaN for NaN and ±Infinity, 0 otherwise: one test for both.
    if (x - x !== 0) {
      throw new CohortError('UPDATE_NOT_FINITE', `update element ${i} is not finite (${x})`, { index: i });
    }
    let v = x * k;
    if (v > limit) v = limit;
    else if (v < -limit) v = -limit;
    const floor = Math.floor(v);
    const r = rng.nextFloat() < v - floor ? floor + 1 : floor;
    view[i] = r & mask;
  }
  const floor = Math.floor(limit);
  view[d] = (rng.nextFloat() < limit - floor ? floor + 1 : floor) & mask;
  return out;
}

/**
 * Decodes a modular sum of quantized inputs (length d+1, values mod 2^b; reduced mod 2^b first, then values >=
 * 2^(b-1) are negative): weightedSum[i] = S_i/scale (≈ Σ ω_u·x_u, model units), normalisedWeight = S_d/B (≈ Σ ω_u),
 * totalWeight = normalisedWeight·weightCap (≈ Σ min(w_u, cap), in examples). Does not modify `sum`.
 */
export function dequantizeSum(
  sum: Uint32Array,
  params: QuantizationParams,
): { weightedSum: Float32Array; normalisedWeight: number; totalWeight: number } {
  if (sum.length < 1) {
    throw new CohortError('INVALID_ARGUMENT', 'quantized sum must have at least 1 element (the weight), got 0');
  }
  const d = sum.length - 1;
  const view = new Int32Array(sum.buffer, sum.byteOffset, sum.length);
  const weightedSum = new Float32Array(d);
  const scale = params.scale;
  const b = params.modulusBits;
  if (b === 32) {
    for (let i = 0; i < d; i++) weightedSum[i] = view[i]! / scale;
  } else {
    // For b < 32 the mask and 2^(b-1) are positive int32s, so this stays in small-integer arithmetic.
    const mask = (2 ** b - 1) | 0;
    const half = 2 ** (b - 1);
    const modulus = 2 ** b;
    for (let i = 0; i < d; i++) {
      const u = view[i]! & mask;
      weightedSum[i] = (u >= half ? u - modulus : u) / scale;
    }
  }
  const s = signedResidue(view[d]!, b);
  const normalised = s / params.bound;
  return { weightedSum, normalisedWeight: normalised, totalWeight: normalised * params.weightCap };
}

function signedResidue(word: number, modulusBits: number): number {
  if (modulusBits === 32) return word | 0;
  const u = word & ((2 ** modulusBits - 1) | 0);
  return u >= 2 ** (modulusBits - 1) ? u - 2 ** modulusBits : u;
}

/** Reduces a Uint32Array in place mod 2^b, b an integer in [1, 32] (no-op for b = 32). */
export function reduceModulus(values: Uint32Array, modulusBits: number): void {
  if (!Number.isInteger(modulusBits) || modulusBits < 1 || modulusBits > 32) {
    throw new CohortError('INVALID_ARGUMENT', `modulusBits must be an integer in [1, 32], got ${modulusBits}`);
  }
  if (modulusBits === 32) return;
  const view = new Int32Array(values.buffer, values.byteOffset, values.length);
  const mask = (2 ** modulusBits - 1) | 0;
  for (let i = 0; i < view.length; i++) view[i] = view[i]! & mask;
}
