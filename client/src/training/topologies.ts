/**
 * Built-in model topologies for Fashion-MNIST-shaped input ([28, 28, 1], 10 classes), as TF.js layers JSON (the
 * Keras config format `model.toJSON()` writes). Written out here rather than built with TF.js so the text, and with
 * it the model hash, does not depend on a backend or on TF.js's layer-name counters. No dropout: local training
 * must be a pure function of weights, data and seed.
 */
import { CohortError } from '../../../shared/src/core/errors.js';

/** Names of the built-in topologies. */
export const BUILTIN_TOPOLOGIES = ['fmnist-cnn', 'fmnist-mlp'] as const;

/** A built-in topology name. */
export type BuiltinTopologyName = (typeof BUILTIN_TOPOLOGIES)[number];

/** Keras' glorot_uniform, matching shared/src/core/tensor/init.ts. */
const GLOROT_UNIFORM = { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: null } };
const ZEROS = { class_name: 'Zeros', config: {} };

type LayerJson = { class_name: string; config: Record<string, unknown> };

function conv2d(name: string, filters: number, activation: string, batchInputShape?: readonly (number | null)[]): LayerJson {
  return {
    class_name: 'Conv2D',
    config: {
      filters,
      kernel_initializer: GLOROT_UNIFORM,
      kernel_regularizer: null,
      kernel_constraint: null,
      kernel_size: [3, 3],
      strides: [1, 1],
      padding: 'valid',
      data_format: 'channels_last',
      dilation_rate: [1, 1],
      activation,
      use_bias: true,
      bias_initializer: ZEROS,
      bias_regularizer: null,
      activity_regularizer: null,
      bias_constraint: null,
      name,
      trainable: true,
      ...(batchInputShape === undefined ? {} : { batch_input_shape: batchInputShape, dtype: 'float32' }),
    },
  };
}

function maxPool(name: string): LayerJson {
  return {
    class_name: 'MaxPooling2D',
    config: { pool_size: [2, 2], padding: 'valid', strides: [2, 2], data_format: 'channels_last', name, trainable: true },
  };
}

function flatten(name: string, batchInputShape?: readonly (number | null)[]): LayerJson {
  return {
    class_name: 'Flatten',
    config: { name, trainable: true, ...(batchInputShape === undefined ? {} : { batch_input_shape: batchInputShape, dtype: 'float32' }) },
  };
}

function dense(name: string, units: number, activation: string): LayerJson {
  return {
    class_name: 'Dense',
    config: {
      units,
      activation,
      use_bias: true,
      kernel_initializer: GLOROT_UNIFORM,
      bias_initializer: ZEROS,
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
      name,
      trainable: true,
    },
  };
}

function sequential(name: string, layers: LayerJson[]): string {
  return JSON.stringify({ class_name: 'Sequential', config: { name, layers }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' });
}

/** Batch dimension free, then one 28x28 greyscale image. */
const INPUT = [null, 28, 28, 1] as const;

const TOPOLOGIES: Readonly<Record<BuiltinTopologyName, string>> = {
  // conv3x3x32-relu, maxpool2, conv3x3x64-relu, maxpool2, flatten, dense48-relu, dense10-softmax: 96,154 parameters.
  'fmnist-cnn': sequential('fmnist_cnn', [
    conv2d('conv2d_1', 32, 'relu', INPUT),
    maxPool('max_pooling2d_1'),
    conv2d('conv2d_2', 64, 'relu'),
    maxPool('max_pooling2d_2'),
    flatten('flatten_1'),
    dense('dense_1', 48, 'relu'),
    dense('dense_2', 10, 'softmax'),
  ]),
  // 784-128-10: 101,770 parameters.
  'fmnist-mlp': sequential('fmnist_mlp', [flatten('flatten_1', INPUT), dense('dense_1', 128, 'relu'), dense('dense_2', 10, 'softmax')]),
};

/**
 * A one-layer softmax classifier (multinomial logistic regression) over flat inputs: input [inputSize] ->
 * dense(classes, softmax), (inputSize + 1) · classes parameters. For tabular (CSV/JSONL) federations, tests and
 * transfer benchmarks of any model size.
 */
export function denseClassifierTopology(inputSize: number, classes: number, layerName = 'dense_1'): string {
  if (!Number.isInteger(inputSize) || inputSize < 1 || !Number.isInteger(classes) || classes < 2) {
    throw new CohortError('INVALID_ARGUMENT', `a dense classifier needs an integer input size >= 1 and >= 2 classes, got ${inputSize} and ${classes}`);
  }
  const layer = dense(layerName, classes, 'softmax');
  return sequential('dense_classifier', [{ ...layer, config: { ...layer.config, batch_input_shape: [null, inputSize], dtype: 'float32' } }]);
}

/** The TF.js layers JSON of a built-in topology (input [28, 28, 1], 10-way softmax output). */
export function builtinTopology(name: BuiltinTopologyName): string {
  const json = TOPOLOGIES[name];
  if (json === undefined) {
    throw new CohortError('INVALID_ARGUMENT', `unknown built-in topology "${String(name)}"; known: ${BUILTIN_TOPOLOGIES.join(', ')}`);
  }
  return json;
}
