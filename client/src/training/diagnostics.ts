/**
 * Checks of the training stack that need TF.js itself: gradients of single ops on a named backend (to hold the
 * composed wasm kernels to the cpu reference), the kernels a training step dispatches, live tensor counts. Used by
 * the test suite and the benchmarks; kept here because this folder is the only importer of @tensorflow/*.
 */
import * as tf from '@tensorflow/tfjs';
import { CohortError } from '../../../shared/src/core/errors.js';
import { prepareWasm } from './backend.js';
import { buildModel } from './model.js';
import { serialize } from './serial.js';

/** A backend a diagnostic can run on. */
export type DiagnosticBackend = 'cpu' | 'wasm';

/** Padding as tf.conv2d takes it: 'same', 'valid', one number for all sides, or explicit [[0,0],[t,b],[l,r],[0,0]]. */
export type ConvPad = 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** A conv2d case: NHWC input values, a [kh, kw, in, out] filter, strides and padding. */
export interface ConvCase {
  x: Float32Array;
  xShape: [number, number, number, number];
  filter: Float32Array;
  filterShape: [number, number, number, number];
  strides: number | [number, number];
  pad: ConvPad;
}

/** Runs `body` with `backend` active, restoring the previous backend afterwards; serialized with training. */
async function onBackend<T>(backend: DiagnosticBackend, body: () => T | Promise<T>): Promise<T> {
  return serialize(async () => {
    if (backend === 'wasm') prepareWasm();
    // engine().backendName is unset before any backend is chosen: do not force the default choice by asking.
    const previous = (tf.engine().backendName as string | null | undefined) ?? null;
    if (!(await tf.setBackend(backend))) throw new CohortError('FAILED_PRECONDITION', `backend "${backend}" could not start`);
    try {
      return await body();
    } finally {
      if (previous !== null && previous !== backend) await tf.setBackend(previous);
    }
  });
}

/**
 * Gradients of Σ (conv2d(x, filter) ⊙ U) with respect to x and the filter, where U is a fixed pseudo-random
 * output-shaped weight (so dy is not all ones), computed on `backend`. Exercises Conv2DBackpropInput and
 * Conv2DBackpropFilter.
 */
export function conv2dGradients(backend: DiagnosticBackend, c: ConvCase): Promise<{ dx: Float32Array; dFilter: Float32Array }> {
  return onBackend(backend, () => {
    const [dx, dFilter] = tf.tidy(() => {
      const x = tf.tensor4d(c.x, c.xShape);
      const filter = tf.tensor4d(c.filter, c.filterShape);
      const f = (a: tf.Tensor, w: tf.Tensor): tf.Scalar => {
        const y = tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad);
        return tf.sum(tf.mul(y, upstream(y.shape))) as tf.Scalar;
      };
      return tf.grads(f)([x, filter]);
    });
    try {
      return { dx: dx!.dataSync() as Float32Array, dFilter: dFilter!.dataSync() as Float32Array };
    } finally {
      tf.dispose([dx!, dFilter!]);
    }
  });
}

/** Gradient of Σ (maxPool(x) ⊙ U) with respect to x on `backend` (exercises MaxPoolGrad). */
export function maxPoolGradient(
  backend: DiagnosticBackend,
  c: { x: Float32Array; xShape: [number, number, number, number]; filterSize: number | [number, number]; strides: number | [number, number]; pad: 'same' | 'valid' },
): Promise<Float32Array> {
  return onBackend(backend, () => {
    const dx = tf.tidy(() =>
      tf.grad((a: tf.Tensor) => {
        const y = tf.maxPool(a as tf.Tensor4D, c.filterSize, c.strides, c.pad);
        return tf.sum(tf.mul(y, upstream(y.shape))) as tf.Scalar;
      })(tf.tensor4d(c.x, c.xShape)),
    );
    try {
      return dx.dataSync() as Float32Array;
    } finally {
      dx.dispose();
    }
  });
}

/** The product a·b (with the given transposes) and the gradients of Σ (a·b ⊙ U) with respect to a and b. */
export function matMulGradients(
  backend: DiagnosticBackend,
  c: { a: Float32Array; aShape: [number, number]; b: Float32Array; bShape: [number, number]; transposeA: boolean; transposeB: boolean },
): Promise<{ product: Float32Array; da: Float32Array; db: Float32Array }> {
  return onBackend(backend, () => {
    const out = tf.tidy(() => {
      const a = tf.tensor2d(c.a, c.aShape);
      const b = tf.tensor2d(c.b, c.bShape);
      const product = tf.matMul(a, b, c.transposeA, c.transposeB);
      const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => {
        const p = tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, c.transposeA, c.transposeB);
        return tf.sum(tf.mul(p, upstream(p.shape))) as tf.Scalar;
      })([a, b]);
      return [product, da!, db!];
    });
    try {
      const [product, da, db] = out.map((t) => t.dataSync() as Float32Array);
      return { product: product!, da: da!, db: db! };
    } finally {
      tf.dispose(out);
    }
  });
}

/**
 * Names of the kernels one training step of `topologyJson` dispatches on `backend` (forward, loss, backward,
 * SGD update), found by profiling a step on a small random batch.
 */
export function trainingStepKernels(backend: DiagnosticBackend, topologyJson: string): Promise<string[]> {
  return onBackend(backend, async () => {
    // Built here, not taken from the training cache: the cache holds models of the selected backend only.
    const loaded = await buildModel(topologyJson, backend);
    const { inputShape, numClasses } = loaded.description;
    const optimizer = tf.train.sgd(0.01);
    // One example is enough to dispatch every kernel, and keeps the slow cpu backend quick.
    const x = tf.randomUniform([1, ...inputShape], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([numClasses - 1], 'int32'), numClasses);
    try {
      const info = await tf.profile(() => {
        optimizer.minimize(() => {
          const p = loaded.model.apply(x, { training: true }) as tf.Tensor;
          return tf.mean(tf.neg(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, 1e-7, 1 - 1e-7))), -1))) as tf.Scalar;
        });
      });
      // The profile also lists customGrad scopes (e.g. fusedMatMul__op); keep only real kernels.
      return [...new Set(info.kernelNames)].filter((name) => tf.getKernel(name, backend) != null).sort();
    } finally {
      tf.dispose([x, y]);
      optimizer.dispose();
      loaded.model.dispose();
    }
  });
}

/** The names in `kernelNames` that `backend` has no kernel for. */
export function missingKernels(kernelNames: readonly string[], backend: DiagnosticBackend): string[] {
  if (backend === 'wasm') prepareWasm();
  return kernelNames.filter((name) => tf.getKernel(name, backend) == null);
}

/** Tensors alive in the TF.js engine (all backends): for leak checks. */
export function liveTensorCount(): number {
  return tf.memory().numTensors;
}

/** Fixed pseudo-random weights in [0.5, 1.5) of `shape` (deterministic, so both backends see the same dy). */
function upstream(shape: readonly number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  let s = 0x2545f491;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) | 0;
    values[i] = 0.5 + (s >>> 8) / 2 ** 24;
  }
  return tf.tensor(values, [...shape]);
}
