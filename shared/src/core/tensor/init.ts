/**
 * Pure weight initialisation from a model layout: what a fresh federation starts from. Keras defaults, decided
 * by each tensor's short name (the part after the last '/'), so the coordinator can create the initial model
 * without TF.js and every process derives the same vector from the same seed.
 */
import { CohortError } from '../errors.js';
import type { Rng } from '../rng/rng.js';
import type { ModelLayout, TensorEntry } from './layout.js';

/** How a tensor is initialised. */
type InitRule = 'glorot-uniform' | 'zeros' | 'ones';

const RULES: Readonly<Record<string, InitRule>> = {
  kernel: 'glorot-uniform',
  bias: 'zeros',
  beta: 'zeros',
  moving_mean: 'zeros',
  gamma: 'ones',
  moving_variance: 'ones',
};

/**
 * Fan-in and fan-out of a kernel, Keras-style: dense [in, out]; convolution [k1, ..., kn, in, out] counts the
 * receptive field (k1·...·kn) into both.
 */
export function kernelFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new RangeError(`a kernel needs rank >= 2, got shape [${shape.join(',')}]`);
  let receptive = 1;
  for (let i = 0; i < shape.length - 2; i++) receptive *= shape[i]!;
  return { fanIn: shape[shape.length - 2]! * receptive, fanOut: shape[shape.length - 1]! * receptive };
}

/**
 * A fresh flat weight vector for `layout`: kernels Glorot-uniform (limit sqrt(6 / (fanIn + fanOut))), biases,
 * beta and moving_mean zeros, gamma and moving_variance ones. Draws from `rng` tensor by tensor in layout order.
 * Throws INVALID_ARGUMENT for a tensor whose short name has no rule.
 */
export function initializeWeights(layout: ModelLayout, rng: Rng): Float32Array {
  const out = new Float32Array(layout.totalElements);
  for (const entry of layout.tensors) {
    const view = out.subarray(entry.offset, entry.offset + entry.size);
    switch (ruleFor(entry)) {
      case 'zeros':
        break;
      case 'ones':
        view.fill(1);
        break;
      case 'glorot-uniform': {
        if (entry.shape.length < 2) {
          throw new CohortError('INVALID_ARGUMENT', `initializeWeights: kernel "${entry.name}" has rank ${entry.shape.length}; Glorot needs rank >= 2`);
        }
        const { fanIn, fanOut } = kernelFans(entry.shape);
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        for (let i = 0; i < view.length; i++) view[i] = (2 * rng.nextFloat() - 1) * limit;
        break;
      }
    }
  }
  return out;
}

/** The tensor's short name: after the last '/', without a uniquifying `_<n>` suffix TF.js may add. */
export function weightShortName(name: string): string {
  const last = name.slice(name.lastIndexOf('/') + 1);
  return last.replace(/_\d+$/, '');
}

function ruleFor(entry: TensorEntry): InitRule {
  const short = weightShortName(entry.name);
  const rule = RULES[short];
  if (rule === undefined) {
    throw new CohortError(
      'INVALID_ARGUMENT',
      `initializeWeights: no initialiser for tensor "${entry.name}" (short name "${short}"); known: ${Object.keys(RULES).join(', ')}`,
    );
  }
  return rule;
}
