/**
 * Client-side clipping, the step every DP mechanism rests on: it bounds one client's contribution (its L2
 * sensitivity) so that noise of a known scale hides it. Flat clipping bounds the whole update by C; per-layer
 * clipping bounds tensor l by C_l, so the whole update is bounded by sqrt(Σ C_l²).
 */
import { CohortError } from '../errors.js';
import type { ModelLayout } from '../tensor/layout.js';

function norm(v: Float32Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += v[i]! * v[i]!;
  return Math.sqrt(sum);
}

function scale(v: Float32Array, start: number, end: number, factor: number): void {
  for (let i = start; i < end; i++) v[i] = v[i]! * factor;
}

/** Scales `delta` in place so its L2 norm is at most `clipNorm`; returns the norm before clipping. */
export function clipL2InPlace(delta: Float32Array, clipNorm: number): number {
  if (!(clipNorm > 0 && Number.isFinite(clipNorm))) throw new CohortError('INVALID_ARGUMENT', `clip norm must be a finite number > 0, got ${clipNorm}`);
  const n = norm(delta, 0, delta.length);
  if (!Number.isFinite(n)) throw new CohortError('UPDATE_NOT_FINITE', 'the update has a non-finite value; it cannot be clipped');
  if (n > clipNorm) scale(delta, 0, delta.length, clipNorm / n);
  return n;
}

/** Clips each tensor of the layout to its own norm; returns the norms before clipping, by tensor. */
export function clipPerLayerInPlace(delta: Float32Array, layout: ModelLayout, clipNorms: readonly number[]): number[] {
  if (delta.length !== layout.totalElements) throw new CohortError('UPDATE_WRONG_LENGTH', `update has ${delta.length} elements, the layout ${layout.totalElements}`);
  if (clipNorms.length !== layout.tensors.length) {
    throw new CohortError('INVALID_ARGUMENT', `per-layer clipping needs one clip norm per tensor: ${clipNorms.length} given for ${layout.tensors.length} tensors`);
  }
  return layout.tensors.map((t, i) => {
    const c = clipNorms[i]!;
    if (!(c > 0 && Number.isFinite(c))) throw new CohortError('INVALID_ARGUMENT', `clip norm of tensor "${t.name}" must be a finite number > 0, got ${c}`);
    const n = norm(delta, t.offset, t.offset + t.size);
    if (!Number.isFinite(n)) throw new CohortError('UPDATE_NOT_FINITE', `tensor "${t.name}" of the update has a non-finite value`);
    if (n > c) scale(delta, t.offset, t.offset + t.size, c / n);
    return n;
  });
}

/** L2 sensitivity of per-layer clipping: sqrt(Σ C_l²). */
export function perLayerSensitivity(clipNorms: readonly number[]): number {
  return Math.sqrt(clipNorms.reduce((s, c) => s + c * c, 0));
}
