/**
 * A labelled dataset held in memory as typed arrays: features flat, row-major, one example after another.
 */
import { CohortError } from '../errors.js';

export interface LabeledDataset {
  /** count x prod(featureShape) values, row-major (images scaled to [0, 1]). */
  readonly features: Float32Array;
  /** Class ids in [0, numClasses). */
  readonly labels: Int32Array;
  readonly count: number;
  /** Shape of one example, e.g. [28, 28, 1]. */
  readonly featureShape: readonly number[];
  readonly numClasses: number;
}

/** Elements per example. */
export function featureSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Checks sizes agree and labels are in range; throws DATA_INVALID naming the problem. */
export function validateDataset(data: LabeledDataset, source = 'dataset'): LabeledDataset {
  const size = featureSize(data.featureShape);
  if (data.labels.length !== data.count) {
    throw new CohortError('DATA_INVALID', `${source}: ${data.labels.length} labels for ${data.count} examples`);
  }
  if (data.features.length !== data.count * size) {
    throw new CohortError('DATA_INVALID', `${source}: ${data.features.length} feature values, expected ${data.count} x ${size}`);
  }
  for (let i = 0; i < data.count; i++) {
    const y = data.labels[i]!;
    if (!(y >= 0 && y < data.numClasses)) {
      throw new CohortError('DATA_INVALID', `${source}: label ${y} of example ${i} is outside [0, ${data.numClasses})`);
    }
  }
  return data;
}

/** A new dataset with the examples at `indices`, in that order (copies). */
export function subsetDataset(data: LabeledDataset, indices: ArrayLike<number>): LabeledDataset {
  const size = featureSize(data.featureShape);
  const features = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const src = indices[i]!;
    if (!(src >= 0 && src < data.count)) throw new RangeError(`index ${src} outside dataset of ${data.count}`);
    features.set(data.features.subarray(src * size, (src + 1) * size), i * size);
    labels[i] = data.labels[src]!;
  }
  return { features, labels, count: indices.length, featureShape: data.featureShape, numClasses: data.numClasses };
}

/** Examples per class. */
export function classCounts(data: Pick<LabeledDataset, 'labels' | 'numClasses'>): Uint32Array {
  const counts = new Uint32Array(data.numClasses);
  for (const y of data.labels) counts[y]!++;
  return counts;
}
