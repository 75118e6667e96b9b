/**
 * Model layout: a model is one flat Float32Array plus the names and shapes of the tensors inside it, in order.
 * Tensor i occupies [offset, offset + size) of the flat vector.
 */
import { CohortError } from '../errors.js';

export interface TensorEntry {
  readonly name: string;
  readonly shape: readonly number[];
  /** Element offset in the flat vector. */
  readonly offset: number;
  /** Element count (product of shape). */
  readonly size: number;
}

export interface ModelLayout {
  readonly tensors: readonly TensorEntry[];
  /** Elements in the flat vector (d). */
  readonly totalElements: number;
}

/** Builds a layout from (name, shape) pairs, checking names are unique and dimensions are positive integers. */
export function createLayout(specs: readonly { name: string; shape: readonly number[] }[]): ModelLayout {
  const seen = new Set<string>();
  const tensors: TensorEntry[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.name.length === 0) throw new CohortError('INVALID_ARGUMENT', 'layout: tensor name is empty');
    if (seen.has(spec.name)) throw new CohortError('INVALID_ARGUMENT', `layout: tensor name "${spec.name}" appears twice`);
    seen.add(spec.name);
    let size = 1;
    for (const dim of spec.shape) {
      if (!Number.isInteger(dim) || dim < 1) {
        throw new CohortError('INVALID_ARGUMENT', `layout: tensor "${spec.name}" has invalid dimension ${dim} in shape [${spec.shape.join(',')}]`);
      }
      size *= dim;
    }
    tensors.push({ name: spec.name, shape: [...spec.shape], offset, size });
    offset += size;
  }
  return { tensors, totalElements: offset };
}

/** True when both layouts name the same tensors with the same shapes in the same order. */
export function layoutsEqual(a: ModelLayout, b: ModelLayout): boolean {
  if (a.totalElements !== b.totalElements || a.tensors.length !== b.tensors.length) return false;
  return a.tensors.every((t, i) => {
    const u = b.tensors[i]!;
    return t.name === u.name && t.shape.length === u.shape.length && t.shape.every((d, j) => d === u.shape[j]);
  });
}

/** A view (no copy) of one tensor's elements inside the flat vector. */
export function tensorView(flat: Float32Array, entry: TensorEntry): Float32Array {
  return flat.subarray(entry.offset, entry.offset + entry.size);
}
