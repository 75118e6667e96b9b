/**
 * Flat-vector math over typed arrays. The `*Into` functions write into their first argument so hot paths (streaming
 * aggregation, server optimizers) allocate nothing; reductions accumulate in float64 so a sum over 10^5..10^6 float32
 * elements does not lose the small terms. Operands of different lengths are a programming error: RangeError naming
 * both lengths. Untrusted input (client updates) goes through `validateUpdateVector`, which throws CohortError.
 */
import { CohortError } from '../errors.js';

/** A dense flat vector: float32 for models and updates, float64 for accumulators that must not round per term. */
export type FloatVector = Float32Array | Float64Array;

function requireSameLength(op: string, aName: string, a: ArrayLike<number>, bName: string, b: ArrayLike<number>): void {
  if (a.length !== b.length) {
    throw new RangeError(`${op}: length mismatch, ${aName} has ${a.length} elements and ${bName} has ${b.length}`);
  }
}

/** target += x, element-wise, in place; returns target. */
export function addInto<T extends FloatVector>(target: T, x: FloatVector): T {
  requireSameLength('addInto', 'target', target, 'x', x);
  for (let i = 0; i < target.length; i++) target[i]! += x[i]!;
  return target;
}

/** target −= x, element-wise, in place; returns target. */
export function subInto<T extends FloatVector>(target: T, x: FloatVector): T {
  requireSameLength('subInto', 'target', target, 'x', x);
  for (let i = 0; i < target.length; i++) target[i]! -= x[i]!;
  return target;
}

/** target += alpha · x, in place (BLAS axpy); returns target. The product is formed in float64 before the store. */
export function axpyInto<T extends FloatVector>(target: T, alpha: number, x: FloatVector): T {
  requireSameLength('axpyInto', 'target', target, 'x', x);
  for (let i = 0; i < target.length; i++) target[i]! += alpha * x[i]!;
  return target;
}

/** target ·= alpha, in place; returns target. */
export function scaleInto<T extends FloatVector>(target: T, alpha: number): T {
  for (let i = 0; i < target.length; i++) target[i]! *= alpha;
  return target;
}

/** A new float32 vector a − b (e.g. a client's trained weights minus the global weights = its update). */
export function difference(a: FloatVector, b: FloatVector): Float32Array {
  requireSameLength('difference', 'a', a, 'b', b);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! - b[i]!;
  return out;
}

/** Inner product Σ a_i·b_i, accumulated in float64. */
export function dot(a: FloatVector, b: FloatVector): number {
  requireSameLength('dot', 'a', a, 'b', b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

/** Euclidean (L2) norm, accumulated in float64; in the units of the vector (model units for updates). */
export function l2Norm(v: FloatVector): number {
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    sum += x * x;
  }
  return Math.sqrt(sum);
}

/** Index of the first NaN or ±Infinity, or −1 when every element is finite. */
export function firstNonFinite(v: FloatVector): number {
  for (let i = 0; i < v.length; i++) {
    // x − x is 0 for finite x and NaN for NaN and ±Infinity: one comparison, no call.
    const x = v[i]!;
    if (x - x !== 0) return i;
  }
  return -1;
}

/** Largest |v_i| (0 for an empty vector); NaN when any element is NaN, so a bad vector never looks small. */
export function maxAbs(v: FloatVector): number {
  let max = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]!);
    if (a > max) max = a;
    else if (a !== a) return Number.NaN;
  }
  return max;
}

/** Limits applied by `validateUpdateVector`. */
export interface UpdateVectorLimits {
  /** Largest allowed |v_i|, in model units; omitted = no bound beyond finiteness. */
  maxAbs?: number;
}

/**
 * Checks an untrusted update vector before it touches any accumulator: exact length, every element finite, and
 * optionally every |v_i| ≤ maxAbs. Throws UPDATE_WRONG_LENGTH / UPDATE_NOT_FINITE / INVALID_ARGUMENT (out of range)
 * with the expected and actual length, or the first offending index and value. Returns v for chaining.
 */
export function validateUpdateVector<T extends FloatVector>(v: T, expectedLength: number, limits: UpdateVectorLimits = {}): T {
  if (v.length !== expectedLength) {
    throw new CohortError('UPDATE_WRONG_LENGTH', `update has ${v.length} elements, expected ${expectedLength}`, {
      expected: expectedLength,
      actual: v.length,
    });
  }
  const bad = firstNonFinite(v);
  if (bad >= 0) {
    const value = v[bad]!;
    throw new CohortError('UPDATE_NOT_FINITE', `update element ${bad} is ${value}, expected a finite number`, {
      index: bad,
      value: String(value),
    });
  }
  const bound = limits.maxAbs;
  if (bound !== undefined) {
    if (!(bound > 0)) throw new RangeError(`validateUpdateVector: maxAbs must be > 0, got ${bound}`);
    for (let i = 0; i < v.length; i++) {
      const value = v[i]!;
      if (Math.abs(value) > bound) {
        throw new CohortError('INVALID_ARGUMENT', `update element ${i} is ${value}, outside the allowed range ±${bound}`, {
          index: i,
          value,
          maxAbs: bound,
        });
      }
    }
  }
  return v;
}
