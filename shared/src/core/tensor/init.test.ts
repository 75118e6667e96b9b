import { describe, expect, it } from 'vitest';
import { isCohortError } from '../errors.js';
import { createSeededRng } from '../rng/rng.js';
import { initializeWeights, kernelFans, weightShortName } from './init.js';
import { createLayout, tensorView } from './layout.js';

const cnnLayout = createLayout([
  { name: 'conv2d_1/kernel', shape: [3, 3, 1, 32] },
  { name: 'conv2d_1/bias', shape: [32] },
  { name: 'batch_normalization_1/gamma', shape: [32] },
  { name: 'batch_normalization_1/beta', shape: [32] },
  { name: 'batch_normalization_1/moving_mean', shape: [32] },
  { name: 'batch_normalization_1/moving_variance', shape: [32] },
  { name: 'dense_1/kernel', shape: [800, 100] },
  { name: 'dense_1/bias', shape: [100] },
]);

function entry(name: string) {
  const e = cnnLayout.tensors.find((t) => t.name === name);
  if (!e) throw new Error(`no tensor ${name}`);
  return e;
}

describe('kernelFans', () => {
  it('reads dense kernels as [in, out]', () => {
    expect(kernelFans([784, 128])).toEqual({ fanIn: 784, fanOut: 128 });
  });
  it('multiplies the receptive field into both fans of a conv kernel', () => {
    expect(kernelFans([3, 3, 32, 64])).toEqual({ fanIn: 288, fanOut: 576 });
  });
});

describe('initializeWeights', () => {
  it('fills biases, beta and moving_mean with zeros and gamma, moving_variance with ones', () => {
    const w = initializeWeights(cnnLayout, createSeededRng(1));
    for (const name of ['conv2d_1/bias', 'batch_normalization_1/beta', 'batch_normalization_1/moving_mean', 'dense_1/bias']) {
      expect(tensorView(w, entry(name)).every((v) => v === 0)).toBe(true);
    }
    for (const name of ['batch_normalization_1/gamma', 'batch_normalization_1/moving_variance']) {
      expect(tensorView(w, entry(name)).every((v) => v === 1)).toBe(true);
    }
  });

  it('draws kernels uniformly inside the Glorot limit with the uniform variance limit^2 / 3', () => {
    const w = initializeWeights(cnnLayout, createSeededRng(2));
    for (const [name, fanIn, fanOut] of [['conv2d_1/kernel', 9, 288], ['dense_1/kernel', 800, 100]] as const) {
      const view = tensorView(w, entry(name));
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      let sumSq = 0;
      let sum = 0;
      let maxAbs = 0;
      for (const v of view) {
        maxAbs = Math.max(maxAbs, Math.abs(v));
        sum += v;
        sumSq += v * v;
      }
      expect(maxAbs).toBeLessThanOrEqual(limit);
      const mean = sum / view.length;
      const variance = sumSq / view.length - mean * mean;
      expect(Math.abs(mean)).toBeLessThan(limit * 0.1);
      expect(Math.abs(variance / (limit * limit / 3) - 1)).toBeLessThan(0.1);
    }
  });

  it('is a pure function of the layout and the seed', () => {
    const a = initializeWeights(cnnLayout, createSeededRng(7));
    const b = initializeWeights(cnnLayout, createSeededRng(7));
    const c = initializeWeights(cnnLayout, createSeededRng(8));
    // Byte comparison: toEqual over 80k floats is slow and says no more.
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('rejects a tensor whose short name it does not know, naming it', () => {
    const layout = createLayout([{ name: 'embedding_1/embeddings', shape: [100, 8] }]);
    let caught: unknown;
    try {
      initializeWeights(layout, createSeededRng(1));
    } catch (error) {
      caught = error;
    }
    expect(isCohortError(caught, 'INVALID_ARGUMENT')).toBe(true);
    expect(String(caught)).toContain('embedding_1/embeddings');
  });

  it('rejects a rank-1 kernel', () => {
    const layout = createLayout([{ name: 'odd/kernel', shape: [10] }]);
    expect(() => initializeWeights(layout, createSeededRng(1))).toThrow(/rank 1/);
  });
});

describe('weightShortName', () => {
  it('takes the part after the last slash and drops a TF.js uniquifying suffix', () => {
    expect(weightShortName('conv2d_1/kernel')).toBe('kernel');
    expect(weightShortName('model/dense_2/bias_3')).toBe('bias');
    expect(weightShortName('bn/moving_variance')).toBe('moving_variance');
  });
});
