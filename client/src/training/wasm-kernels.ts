/**
 * Training kernels for the WASM backend, composed from the kernels it has. TF.js 4.22's wasm backend has no
 * Conv2DBackpropFilter, so any conv layer fails in backprop; and its Conv2DBackpropInput and MaxPoolGrad are plain
 * loops that cost more than the rest of a CNN step together. We compose all three from the backend's own XNNPACK
 * Conv2D, Transpose, Reverse, Slice, ArgMax, OneHot and Multiply kernels, so data stays in the WASM heap and the
 * arithmetic stays native. Cases outside a composition's reach (strided backprop-input, overlapping pools) keep the
 * backend's own kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataId, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { CohortError } from '../../../shared/src/core/errors.js';

const WASM = 'wasm';
/** Marks our kernel functions so registration stays idempotent even across module instances. */
const COMPOSED = Symbol.for('cohort.training.composed-kernel');

type ExplicitPadding = tf.backend_util.ExplicitPadding;
type Pad = 'same' | 'valid' | number | ExplicitPadding;
type Shape4 = [number, number, number, number];

/** What we use of the wasm backend object handed to kernels. */
interface KernelBackend {
  disposeData(dataId: DataId, force?: boolean): boolean;
}

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: KernelBackend;
  attrs: NamedAttrMap;
}

type Composed = (args: KernelArgs, native: KernelFunc | null) => TensorInfo;

/** Kernels this module provides or speeds up on wasm. */
export const COMPOSED_WASM_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'BatchMatMul'] as const;

/**
 * Registers the composed kernels on the wasm backend: Conv2DBackpropFilter where the backend has none,
 * Conv2DBackpropInput and MaxPoolGrad in front of the backend's own (kept as the fallback and its setup kept, so
 * call this before or after the backend initialises). Idempotent.
 */
export function registerWasmTrainingKernels(): void {
  install('Conv2DBackpropFilter', conv2dBackpropFilter);
  install('Conv2DBackpropInput', conv2dBackpropInput);
  install('MaxPoolGrad', maxPoolGrad);
  install('BatchMatMul', batchMatMul);
}

/** True when `kernelName` is registered for `backendName`. */
export function hasKernel(kernelName: string, backendName: string): boolean {
  return tf.getKernel(kernelName, backendName) != null;
}

function install(kernelName: string, composed: Composed): void {
  const existing = tf.getKernel(kernelName, WASM) as KernelConfig | undefined;
  if (existing != null && (existing.kernelFunc as unknown as Record<symbol, unknown>)[COMPOSED] === true) return;
  const native = existing?.kernelFunc ?? null;
  const kernelFunc = ((args: KernelArgs) => composed(args, native)) as unknown as KernelFunc;
  (kernelFunc as unknown as Record<symbol, unknown>)[COMPOSED] = true;
  if (existing != null) tf.unregisterKernel(kernelName, WASM);
  tf.registerKernel({
    kernelName,
    backendName: WASM,
    kernelFunc,
    ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
    ...(existing?.disposeFunc ? { disposeFunc: existing.disposeFunc } : {}),
  });
}

/**
 * dW[p,q,c,o] = Σ_b,i,j x[b, i·sh + p − top, j·sw + q − left, c] · dy[b,i,j,o].
 * Read with c as the batch, b as the input channel and dy as the filter, this is a stride-1 convolution of
 * x' = transpose(x) [c,H,W,b] with dy' = transpose(dy) [oh,ow,b,o] dilated by the forward stride and padded like
 * the forward pass; its output [c,kh,kw,o] transposed is dW [kh,kw,c,o].
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape, dilations } = attrs as unknown as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: string;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: Shape4;
    dilations?: number | [number, number];
  };
  requireNhwc('Conv2DBackpropFilter', dataFormat);
  // The kernel has no dilation attribute (tfjs-core refuses gradients of dilated convs); check in case one is passed.
  if (dilations !== undefined && !tf.backend_util.tupleValuesAreOne(dilations)) {
    throw new CohortError('INVALID_ARGUMENT', `wasm Conv2DBackpropFilter needs forward dilation 1, got ${String(dilations)}`);
  }
  requireRank4('Conv2DBackpropFilter', x, dy);
  const info = tf.backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const expectedDy = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  if (dy.shape.some((d, i) => d !== expectedDy[i])) {
    throw new CohortError('INVALID_ARGUMENT', `wasm Conv2DBackpropFilter: dy has shape [${dy.shape.join(',')}], the forward pass gives [${expectedDy.join(',')}]`);
  }
  const { top, left } = info.padInfo;
  // Padding the dilated dy' needs below/right of x to give exactly kh x kw outputs. Negative means the forward pass
  // never read the last rows/columns of x (valid padding, stride > 1): crop those instead.
  const bottom = info.filterHeight + (info.outHeight - 1) * info.strideHeight - info.inHeight - top;
  const right = info.filterWidth + (info.outWidth - 1) * info.strideWidth - info.inWidth - left;
  return withTemps(backend, (keep) => {
    let xT = keep(run('Transpose', { x }, { perm: [3, 1, 2, 0] }, backend));
    if (bottom < 0 || right < 0) {
      const [c, h, w, b] = xT.shape as Shape4;
      xT = keep(run('Slice', { x: xT }, { begin: [0, 0, 0, 0], size: [c, h + Math.min(bottom, 0), w + Math.min(right, 0), b] }, backend));
    }
    const dyT = keep(run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }, backend));
    const padding: ExplicitPadding = [
      [0, 0],
      [top, Math.max(bottom, 0)],
      [left, Math.max(right, 0)],
      [0, 0],
    ];
    const z = keep(conv2d(xT, dyT, padding, [info.strideHeight, info.strideWidth], backend));
    return run('Transpose', { x: z }, { perm: [1, 2, 0, 3] }, backend);
  });
}

/**
 * dx for a stride-1 convolution: the "full" convolution of dy with the filter rotated 180° and its channel axes
 * swapped, padded by (kernel − 1 − forward padding) on each side. Strided convolutions keep the native kernel.
 */
function conv2dBackpropInput(args: KernelArgs, native: KernelFunc | null): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: number | [number, number];
    pad: Pad;
    dataFormat?: string;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: Shape4;
  };
  const fallback = (why: string): TensorInfo => {
    if (native === null) throw new CohortError('INVALID_ARGUMENT', `wasm Conv2DBackpropInput: ${why}, and the backend has no kernel of its own`);
    return native(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  };
  if (dataFormat !== undefined && dataFormat !== 'NHWC') return fallback(`dataFormat ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return fallback(`stride ${info.strideHeight}x${info.strideWidth}`);
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  const bottom = info.inHeight - info.outHeight + info.filterHeight - 1 - top;
  const right = info.inWidth - info.outWidth + info.filterWidth - 1 - left;
  if (Math.min(top, left, bottom, right) < 0) return fallback('padding wider than the kernel');
  return withTemps(backend, (keep) => {
    const flipped = keep(run('Reverse', { x: filter }, { dims: [0, 1] }, backend));
    const swapped = keep(run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] }, backend));
    const padding: ExplicitPadding = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    return conv2d(dy, swapped, padding, [1, 1], backend);
  });
}

/**
 * Max-pool gradient for non-overlapping windows (stride = window, no leading padding): regroup x into windows,
 * ArgMax picks the first maximum of each (row-major, as the cpu backend does), and dy goes to that position.
 * Rows/columns the pool never covered get zero. Other pools keep the native kernel.
 */
function maxPoolGrad(args: KernelArgs, native: KernelFunc | null): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: Pad;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4, filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: b, inHeight, inWidth, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
  const coveredH = oh * kh;
  const coveredW = ow * kw;
  const composable =
    info.strideHeight === kh &&
    info.strideWidth === kw &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    coveredH <= inHeight &&
    coveredW <= inWidth &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1;
  if (!composable) {
    if (native === null) throw new CohortError('INVALID_ARGUMENT', 'wasm MaxPoolGrad: overlapping or padded pools need the backend kernel, which is missing');
    return native(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  }
  const windows = b * oh * ow * c;
  return withTemps(backend, (keep) => {
    let x = input;
    if (coveredH < inHeight || coveredW < inWidth) x = keep(run('Slice', { x }, { begin: [0, 0, 0, 0], size: [b, coveredH, coveredW, c] }, backend));
    const x6 = keep(run('Reshape', { x }, { shape: [b, oh, kh, ow, kw, c] }, backend));
    const grouped = keep(run('Transpose', { x: x6 }, { perm: [0, 1, 3, 5, 2, 4] }, backend));
    const rows = keep(run('Reshape', { x: grouped }, { shape: [windows, kh * kw] }, backend));
    const argmax = keep(run('ArgMax', { x: rows }, { axis: 1 }, backend));
    // The wasm OneHot writes int32 whatever dtype it is asked for.
    const hot = keep(run('OneHot', { indices: argmax }, { depth: kh * kw, onValue: 1, offValue: 0, dtype: 'int32' }, backend));
    const mask = keep(run('Cast', { x: hot }, { dtype: 'float32' }, backend));
    const dyColumn = keep(run('Reshape', { x: dy }, { shape: [windows, 1] }, backend));
    const routed = keep(run('Multiply', { a: mask, b: dyColumn }, {}, backend));
    const routed6 = keep(run('Reshape', { x: routed }, { shape: [b, oh, ow, c, kh, kw] }, backend));
    const ungrouped = keep(run('Transpose', { x: routed6 }, { perm: [0, 1, 4, 2, 5, 3] }, backend));
    const dx = run('Reshape', { x: ungrouped }, { shape: [b, coveredH, coveredW, c] }, backend);
    if (coveredH === inHeight && coveredW === inWidth) return dx;
    keep(dx);
    return run(
      'PadV2',
      { x: dx },
      {
        paddings: [
          [0, 0],
          [0, inHeight - coveredH],
          [0, inWidth - coveredW],
          [0, 0],
        ],
        constantValue: 0,
      },
      backend,
    );
  });
}

/**
 * The wasm BatchMatMul sends every transposed product (all of a dense layer's backward pass) to a scalar loop and
 * only untransposed single-batch products to XNNPACK. Transposing the operand first is one cheap pass and puts the
 * product on XNNPACK.
 */
function batchMatMul(args: KernelArgs, native: KernelFunc | null): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (native === null) throw new CohortError('INTERNAL', 'wasm backend has no BatchMatMul kernel');
  const callNative = (x: TensorInfo, y: TensorInfo, tA: boolean, tB: boolean): TensorInfo =>
    native({ inputs: { a: x, b: y }, backend, attrs: { ...attrs, transposeA: tA, transposeB: tB } }) as TensorInfo;
  const singleBatch = (t: TensorInfo): boolean => t.shape.slice(0, -2).every((d) => d === 1);
  if ((!transposeA && !transposeB) || !singleBatch(a) || !singleBatch(b) || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return callNative(a, b, transposeA, transposeB);
  }
  const swapLast = (t: TensorInfo): number[] => {
    const perm = t.shape.map((_, i) => i);
    perm[perm.length - 1] = perm.length - 2;
    perm[perm.length - 2] = perm.length - 1;
    return perm;
  };
  return withTemps(backend, (keep) => {
    const a2 = transposeA ? keep(run('Transpose', { x: a }, { perm: swapLast(a) }, backend)) : a;
    const b2 = transposeB ? keep(run('Transpose', { x: b }, { perm: swapLast(b) }, backend)) : b;
    return callNative(a2, b2, false, false);
  });
}

function conv2d(x: TensorInfo, filter: TensorInfo, pad: ExplicitPadding, dilations: [number, number], backend: KernelBackend): TensorInfo {
  return run('Conv2D', { x, filter }, { strides: [1, 1], pad, dataFormat: 'NHWC', dilations, dimRoundingMode: undefined }, backend);
}

/** Runs `body`, then frees every intermediate it passed to keep(); the result it returns survives. */
function withTemps(backend: KernelBackend, body: (keep: (t: TensorInfo) => TensorInfo) => TensorInfo): TensorInfo {
  const temps: TensorInfo[] = [];
  try {
    return body((t) => {
      temps.push(t);
      return t;
    });
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** Calls another wasm kernel directly: inside a kernel there is no engine scope to go through. */
function run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>, backend: KernelBackend): TensorInfo {
  const kernel = tf.getKernel(kernelName, WASM);
  if (kernel == null) throw new CohortError('INTERNAL', `wasm backend has no ${kernelName} kernel to compose a training kernel from`);
  const out = kernel.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap });
  if (Array.isArray(out)) throw new CohortError('INTERNAL', `wasm ${kernelName} returned ${out.length} outputs, expected 1`);
  return out;
}

function requireNhwc(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new CohortError('INVALID_ARGUMENT', `wasm ${kernel} supports dataFormat NHWC only, got ${dataFormat}`);
  }
}

function requireRank4(kernel: string, ...tensors: TensorInfo[]): void {
  for (const t of tensors) {
    if (t.shape.length !== 4) throw new CohortError('INVALID_ARGUMENT', `wasm ${kernel} needs rank-4 tensors, got [${t.shape.join(',')}]`);
  }
}
