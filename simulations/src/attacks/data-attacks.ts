/**
 * Data poisoning: the attacker trains honestly, on data it has altered. Pure: datasets in, new datasets out (the
 * input is never modified); randomness from an injected Rng.
 */
import type { LabeledDataset } from '../../../shared/src/core/data/dataset.js';
import { featureSize } from '../../../shared/src/core/data/dataset.js';
import { requireConfig } from '../../../shared/src/core/errors.js';
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import { permutation } from '../../../shared/src/core/rng/rng.js';

/** Which labels a label-flipping attacker changes. */
export interface LabelFlipOptions {
  /** Flip only this class (to `target`); default every class, y → C − 1 − y. */
  source?: number;
  /** Where `source` goes; needs `source`. */
  target?: number;
}

function checkClass(field: string, value: number, numClasses: number): void {
  requireConfig(Number.isInteger(value) && value >= 0 && value < numClasses, field, `must be a class in 0..${numClasses - 1}, got ${value}`);
}

/**
 * Label flipping (e.g. Tolpegin et al., ESORICS 2020; Fang et al. 2020): every label y becomes C − 1 − y (9 − y for
 * Fashion-MNIST), or only `source` becomes `target`. Features are shared with the input, labels copied.
 */
export function flipLabels(data: LabeledDataset, options: LabelFlipOptions = {}): LabeledDataset {
  const labels = new Int32Array(data.labels.length);
  if (options.source === undefined) {
    requireConfig(options.target === undefined, 'target', 'needs source (the class to flip)');
    for (let i = 0; i < labels.length; i++) labels[i] = data.numClasses - 1 - data.labels[i]!;
  } else {
    checkClass('source', options.source, data.numClasses);
    requireConfig(options.target !== undefined, 'target', 'give the class source is flipped to');
    checkClass('target', options.target, data.numClasses);
    for (let i = 0; i < labels.length; i++) labels[i] = data.labels[i] === options.source ? options.target : data.labels[i]!;
  }
  return { ...data, labels };
}

/** The backdoor trigger: a square of `size` × `size` pixels in an image's bottom-right corner, set to `value`. */
export interface PixelTrigger {
  /** Side of the square, pixels (default 3). */
  size?: number;
  /** Value the pixels are set to (default 1: white, for images scaled to [0, 1]). */
  value?: number;
}

/**
 * Stamps the trigger onto example `index` of a row-major feature buffer of shape [height, width(, channels)]:
 * every channel of the bottom-right `size` × `size` pixels is set to `value`. In place.
 */
export function stampTrigger(features: Float32Array, index: number, featureShape: readonly number[], trigger: PixelTrigger = {}): void {
  const size = trigger.size ?? 3;
  const value = trigger.value ?? 1;
  requireConfig(featureShape.length === 2 || featureShape.length === 3, 'featureShape', `a pixel trigger needs images [height, width(, channels)], got [${featureShape.join(',')}]`);
  const [height, width, channels = 1] = featureShape as [number, number, number?];
  requireConfig(Number.isInteger(size) && size >= 1 && size <= Math.min(height, width), 'size', `must be an integer in 1..${Math.min(height, width)}, got ${size}`);
  const base = index * featureSize(featureShape);
  for (let row = height - size; row < height; row++) {
    for (let col = width - size; col < width; col++) {
      const at = base + (row * width + col) * channels;
      for (let ch = 0; ch < channels; ch++) features[at + ch] = value;
    }
  }
}

/** A backdoor poisoning of an attacker's data. */
export interface BackdoorOptions extends PixelTrigger {
  /** Class the trigger should make the model predict. */
  target: number;
  /** Fraction of the attacker's examples stamped and relabelled, in (0, 1] (default 0.5). */
  poisonFraction?: number;
}

/**
 * Backdoor with a pixel trigger (Gu et al., "BadNets", 2017; the federated setting of Bagdasaryan et al. 2020): a
 * seeded choice of round(poisonFraction · count) examples gets the trigger and the target label; the rest stay
 * clean, so the model keeps its main-task accuracy while learning "trigger ⇒ target".
 */
export function poisonWithBackdoor(data: LabeledDataset, options: BackdoorOptions, rng: Rng): LabeledDataset {
  const fraction = options.poisonFraction ?? 0.5;
  checkClass('target', options.target, data.numClasses);
  requireConfig(Number.isFinite(fraction) && fraction > 0 && fraction <= 1, 'poisonFraction', `must be in (0, 1], got ${fraction}`);
  const features = data.features.slice();
  const labels = data.labels.slice();
  const chosen = permutation(rng, data.count).subarray(0, Math.round(fraction * data.count));
  for (const i of chosen) {
    stampTrigger(features, i, data.featureShape, options);
    labels[i] = options.target;
  }
  return { ...data, features, labels };
}

/**
 * The test set of a backdoor: every example whose true label is not the target, with the trigger stamped and the
 * label set to the target. A model's accuracy on it is the attack success rate.
 */
export function triggeredTestSet(test: LabeledDataset, options: PixelTrigger & { target: number }): LabeledDataset {
  checkClass('target', options.target, test.numClasses);
  const size = featureSize(test.featureShape);
  const keep: number[] = [];
  for (let i = 0; i < test.count; i++) if (test.labels[i] !== options.target) keep.push(i);
  const features = new Float32Array(keep.length * size);
  keep.forEach((src, i) => {
    features.set(test.features.subarray(src * size, (src + 1) * size), i * size);
    stampTrigger(features, i, test.featureShape, options);
  });
  return { features, labels: new Int32Array(keep.length).fill(options.target), count: keep.length, featureShape: test.featureShape, numClasses: test.numClasses };
}
