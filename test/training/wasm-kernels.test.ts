// The composed wasm training kernels against the cpu backend (TF.js's reference implementation).
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import type { ConvCase, ConvPad } from '../../client/src/training/diagnostics.js';
import { conv2dGradients, matMulGradients, maxPoolGradient, missingKernels, trainingStepKernels } from '../../client/src/training/diagnostics.js';
import { builtinTopology } from '../../client/src/training/index.js';

/** Largest |a − b| relative to the largest |a|: one scale for the whole tensor, as float error accumulates. */
function relativeError(a: Float32Array, b: Float32Array): number {
  expect(b.length).toBe(a.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

function uniform(n: number, seed: number): Float32Array {
  const rng = createSeededRng(seed);
  return Float32Array.from({ length: n }, () => 2 * rng.nextFloat() - 1);
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function convCase(xShape: ConvCase['xShape'], filterShape: ConvCase['filterShape'], strides: ConvCase['strides'], pad: ConvPad, seed: number): ConvCase {
  return { x: uniform(size(xShape), seed), xShape, filter: uniform(size(filterShape), seed + 1), filterShape, strides, pad };
}

const TOLERANCE = 1e-4;

describe('wasm Conv2DBackpropFilter and Conv2DBackpropInput', () => {
  // Patches of kh·kw·in <= 32 take the patch-matrix route, larger ones the dilated convolution: both are covered.
  const cases: [string, ConvCase][] = [
    ['stride 1, valid', convCase([2, 7, 7, 3], [3, 3, 3, 4], 1, 'valid', 1)],
    ['dilated route, stride 2, valid, unread last row and column', convCase([2, 7, 7, 4], [3, 3, 4, 5], 2, 'valid', 31)],
    ['dilated route, stride 2, same', convCase([2, 8, 8, 4], [3, 3, 4, 3], 2, 'same', 32)],
    ['dilated route, strides [1, 2], explicit padding', convCase([2, 7, 8, 6], [3, 2, 6, 3], [1, 2], [[0, 0], [2, 1], [1, 0], [0, 0]], 33)],
    ['stride 2, valid, unread last row and column', convCase([2, 7, 7, 3], [3, 3, 3, 4], 2, 'valid', 2)],
    ['stride 2, same', convCase([2, 8, 8, 3], [3, 3, 3, 4], 2, 'same', 3)],
    ['strides [2, 1], same, non-square kernel', convCase([3, 9, 6, 2], [2, 3, 2, 5], [2, 1], 'same', 4)],
    ['one input channel, numeric padding 1', convCase([2, 6, 6, 1], [3, 3, 1, 8], 1, 1, 5)],
    ['stride 2, explicit asymmetric padding', convCase([2, 7, 8, 2], [3, 2, 2, 3], 2, [[0, 0], [1, 2], [0, 1], [0, 0]], 6)],
    ['5x5 kernel, same', convCase([2, 9, 9, 4], [5, 5, 4, 3], 1, 'same', 7)],
    ['1x1 kernel, stride 2', convCase([2, 10, 10, 3], [1, 1, 3, 6], 2, 'valid', 8)],
    ['reference CNN second layer', convCase([1, 13, 13, 32], [3, 3, 32, 64], 1, 'valid', 9)],
  ];

  it.each(cases)('match the cpu backend: %s', async (_name, c) => {
    const cpu = await conv2dGradients('cpu', c);
    const wasm = await conv2dGradients('wasm', c);
    expect(relativeError(cpu.dFilter, wasm.dFilter)).toBeLessThan(TOLERANCE);
    expect(relativeError(cpu.dx, wasm.dx)).toBeLessThan(TOLERANCE);
  });
});

describe('wasm MaxPoolGrad', () => {
  /** Values on a coarse grid, so windows hold ties, some all-negative: the first maximum must get the gradient. */
  function tied(n: number, seed: number): Float32Array {
    const rng = createSeededRng(seed);
    return Float32Array.from({ length: n }, () => Math.floor(rng.nextFloat() * 5) / 2 - 1.5);
  }

  const cases: [string, Parameters<typeof maxPoolGradient>[1]][] = [
    ['2x2 stride 2', { x: uniform(2 * 8 * 8 * 3, 11), xShape: [2, 8, 8, 3], filterSize: 2, strides: 2, pad: 'valid' }],
    ['2x2 stride 2 over an odd size (last row and column unpooled)', { x: uniform(2 * 11 * 11 * 4, 12), xShape: [2, 11, 11, 4], filterSize: 2, strides: 2, pad: 'valid' }],
    ['2x2 stride 2 with ties and all-negative windows', { x: tied(2 * 8 * 8 * 3, 13), xShape: [2, 8, 8, 3], filterSize: 2, strides: 2, pad: 'valid' }],
    ['3x3 stride 3', { x: uniform(2 * 9 * 10 * 2, 14), xShape: [2, 9, 10, 2], filterSize: 3, strides: 3, pad: 'valid' }],
    ['2x3 windows, stride [2, 3]', { x: tied(1 * 6 * 9 * 2, 15), xShape: [1, 6, 9, 2], filterSize: [2, 3], strides: [2, 3], pad: 'valid' }],
    // Overlapping windows add up; the native wasm kernel dropped the gradient of windows with no positive value.
    ['3x3 stride 1, overlapping, negative values', { x: tied(2 * 6 * 6 * 2, 16), xShape: [2, 6, 6, 2], filterSize: 3, strides: 1, pad: 'valid' }],
    ['3x3 stride 2, same padding', { x: uniform(2 * 7 * 8 * 3, 17), xShape: [2, 7, 8, 3], filterSize: 3, strides: 2, pad: 'same' }],
  ];

  it.each(cases)('matches the cpu backend: %s', async (_name, c) => {
    const cpu = await maxPoolGradient('cpu', c);
    const wasm = await maxPoolGradient('wasm', c);
    expect(relativeError(cpu, wasm)).toBeLessThan(TOLERANCE);
  });
});

describe('wasm BatchMatMul with transposed operands', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('matches the cpu backend for transposeA=%s, transposeB=%s', async (transposeA, transposeB) => {
    const [m, k, n] = [5, 7, 3];
    const c = {
      a: uniform(m * k, 21),
      aShape: (transposeA ? [k, m] : [m, k]) as [number, number],
      b: uniform(k * n, 22),
      bShape: (transposeB ? [n, k] : [k, n]) as [number, number],
      transposeA,
      transposeB,
    };
    const cpu = await matMulGradients('cpu', c);
    const wasm = await matMulGradients('wasm', c);
    expect(relativeError(cpu.product, wasm.product)).toBeLessThan(TOLERANCE);
    expect(relativeError(cpu.da, wasm.da)).toBeLessThan(TOLERANCE);
    expect(relativeError(cpu.db, wasm.db)).toBeLessThan(TOLERANCE);
  });
});

describe('wasm kernel coverage', () => {
  it.each(['fmnist-cnn', 'fmnist-mlp'] as const)('has every kernel a %s training step dispatches', async (name) => {
    const kernels = await trainingStepKernels('cpu', builtinTopology(name));
    expect(kernels.length).toBeGreaterThan(10);
    if (name === 'fmnist-cnn') expect(kernels).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']));
    expect(missingKernels(kernels, 'wasm')).toEqual([]);
  });
});
