/**
 * Training kernels for the WASM backend. TF.js 4.22's wasm backend has no Conv2DBackpropFilter, so any conv layer
 * fails in backprop, and several kernels a training step leans on are scalar loops or copy whole tensors first:
 * - Conv2DBackpropFilter and (stride 1) Conv2DBackpropInput are composed from the backend's own XNNPACK Conv2D plus
 *   Transpose/Reverse/Slice, so the arithmetic stays in XNNPACK and the data in the WASM heap;
 * - transposed BatchMatMul (a dense layer's backward pass) transposes the operand so the product reaches XNNPACK;
 * - MaxPoolGrad is one loop over the heap.
 * Cases outside a replacement's reach call the backend's own kernel, kept as the fallback.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataId, DataType, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
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
  makeOutput(shape: number[], dtype: DataType): TensorInfo;
  /** A view of a tensor's bytes in the WASM heap; detached when the heap grows. */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: KernelBackend;
  attrs: NamedAttrMap;
}

type Composed = (args: KernelArgs, native: KernelFunc | null) => TensorInfo;

/**
 * Registers the training kernels on the wasm backend: Conv2DBackpropFilter where the backend has none (a later
 * tfjs-backend-wasm with its own wins), the others in front of the backend's own, whose setup is kept so this may run
 * before or after the backend initialises. Idempotent.
 */
export function registerWasmTrainingKernels(): void {
  install('Conv2DBackpropFilter', conv2dBackpropFilter, { onlyIfMissing: true });
  install('Conv2DBackpropInput', conv2dBackpropInput);
  install('MaxPoolGrad', maxPoolGrad);
  install('BatchMatMul', batchMatMul);
}

function install(kernelName: string, composed: Composed, options: { onlyIfMissing?: boolean } = {}): void {
  const existing = tf.getKernel(kernelName, WASM) as KernelConfig | undefined;
  if (existing != null && (options.onlyIfMissing === true || (existing.kernelFunc as unknown as Record<symbol, unknown>)[COMPOSED] === true)) return;
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
  const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
  if (patchSize <= PATCH_PRODUCT_LIMIT) return filterGradientFromPatches(x, dy, info, { strides, pad, dimRoundingMode }, backend);
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
 * Below this many elements per patch (kh·kw·in), the filter gradient goes through explicit patches: the dilated
 * convolution above then has only kh·kw·in output rows (9 for a first layer on greyscale), which XNNPACK tiles
 * poorly, and it must pack all of dy as weights.
 */
const PATCH_PRODUCT_LIMIT = 32;

/**
 * dW as a matrix product: P = the input's patches, one row per output pixel (a convolution with a one-hot filter,
 * same strides and padding as the forward pass), then dW[k, o] = Σ_rows P[row, k] · dy[row, o], computed as
 * (dyᵀ · P)ᵀ so XNNPACK packs the small P, not dy.
 */
function filterGradientFromPatches(
  x: TensorInfo,
  dy: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  forward: { strides: number | [number, number]; pad: Pad; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
  backend: KernelBackend,
): TensorInfo {
  const { filterHeight: kh, filterWidth: kw, inChannels: c, outChannels: o } = info;
  const k = kh * kw * c;
  const rows = info.batchSize * info.outHeight * info.outWidth;
  return withTemps(backend, (keep) => {
    // One-hot filter [kh, kw, c, k]: output channel (p·kw + q)·c + ci copies input (p, q, ci).
    const picker = keep(backend.makeOutput([kh, kw, c, k], 'float32'));
    const ones = backend.typedArrayFromHeap(picker) as Float32Array;
    ones.fill(0);
    for (let i = 0; i < k; i++) ones[i * k + i] = 1;
    const patches = keep(
      run('Conv2D', { x, filter: picker }, { strides: forward.strides, pad: forward.pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: forward.dimRoundingMode }, backend),
    );
    const p = keep(run('Reshape', { x: patches }, { shape: [rows, k] }, backend));
    const g = keep(run('Reshape', { x: dy }, { shape: [rows, o] }, backend));
    const gT = keep(run('Transpose', { x: g }, { perm: [1, 0] }, backend));
    const product = keep(run('BatchMatMul', { a: gT, b: p }, { transposeA: false, transposeB: false }, backend));
    const flat = keep(run('Transpose', { x: product }, { perm: [1, 0] }, backend));
    return run('Reshape', { x: flat }, { shape: [kh, kw, c, o] }, backend);
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
 * Max-pool gradient as one loop over the WASM heap: for each window, the first strict maximum in row-major order
 * among the positions inside the input (the cpu backend's rule) receives dy; overlapping windows add up. The
 * native kernel is a slower generic loop that also starts its search at the smallest positive float, so windows
 * with no positive value lose their gradient; this kernel handles every pool shape, padding and stride.
 */
function maxPoolGrad({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: Pad;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new CohortError('INVALID_ARGUMENT', `wasm MaxPoolGrad needs float32 tensors, got ${input.dtype} and ${dy.dtype}`);
  }
  requireRank4('MaxPoolGrad', input, dy);
  const info = tf.backend_util.computePool2DInfo(input.shape as Shape4, filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { effectiveFilterHeight: fh, effectiveFilterWidth: fw, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  // Allocate first: makeOutput can grow the WASM memory, which detaches views taken before it.
  const out = backend.makeOutput(input.shape, 'float32');
  const x = backend.typedArrayFromHeap(input) as Float32Array;
  const g = backend.typedArrayFromHeap(dy) as Float32Array;
  const dx = backend.typedArrayFromHeap(out) as Float32Array;
  dx.fill(0);
  // Element offsets in x of the window's positions that fall inside the input, in row-major window order.
  const positions = new Int32Array(Math.ceil(fh / dilationHeight) * Math.ceil(fw / dilationWidth));
  let gOffset = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++, gOffset += channels) {
        const x0 = ox * strideWidth - left;
        let count = 0;
        for (let r = 0; r < fh; r += dilationHeight) {
          const iy = y0 + r;
          if (iy < 0 || iy >= inHeight) continue;
          for (let s = 0; s < fw; s += dilationWidth) {
            const ix = x0 + s;
            if (ix >= 0 && ix < inWidth) positions[count++] = ((b * inHeight + iy) * inWidth + ix) * channels;
          }
        }
        for (let c = 0; c < channels; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let k = 0; k < count; k++) {
            const v = x[positions[k]! + c]!;
            if (v > best) {
              best = v;
              at = positions[k]! + c;
            }
          }
          if (at >= 0) dx[at] = dx[at]! + g[gOffset + c]!;
        }
      }
    }
  }
  return out;
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
