/**
 * Topology JSON -> TF.js model, its layout, and flat weights <-> model weights. Models are cached per topology
 * string (building one costs more than a small training call); each call sets the weights it needs.
 */
import * as tf from '@tensorflow/tfjs';
import { CohortError } from '../../../shared/src/core/errors.js';
import { weightShortName } from '../../../shared/src/core/tensor/init.js';
import type { ModelLayout } from '../../../shared/src/core/tensor/layout.js';
import { createLayout, layoutsEqual } from '../../../shared/src/core/tensor/layout.js';
import { selectBackend } from './backend.js';
import { serialize } from './serial.js';

/** What a topology is: its weights, input and output. */
export interface TopologyDescription {
  /** Every model weight, in model.getWeights() order, named `<layer>/<weight>` (e.g. conv2d_1/kernel). */
  readonly layout: ModelLayout;
  /** Shape of one example, without the batch dimension, e.g. [28, 28, 1]. */
  readonly inputShape: number[];
  /** Width of the (single) output: the number of classes. */
  readonly numClasses: number;
  /** Elements of all weights (trainable and not): layout.totalElements. */
  readonly parameterCount: number;
}

/** A built model and what training needs to know about it. */
export interface LoadedModel {
  readonly model: tf.LayersModel;
  readonly description: TopologyDescription;
  /** The output layer ends in softmax: the loss reads probabilities, not logits. */
  readonly outputsProbabilities: boolean;
  /** The backend the model's variables live on. */
  readonly backend: string;
}

/** Models kept built at once; more topologies than this evict the least recently used. */
const MAX_CACHED_MODELS = 8;
const cache = new Map<string, LoadedModel>();

/**
 * The built model for `topologyJson`, from the cache or built now. Callers run inside serialize(): eviction
 * disposes a model, which must not be in use.
 */
export async function loadModel(topologyJson: string): Promise<LoadedModel> {
  await selectBackend('auto');
  const backend = tf.getBackend();
  const hit = cache.get(topologyJson);
  if (hit !== undefined && hit.backend === backend) {
    cache.delete(topologyJson);
    cache.set(topologyJson, hit);
    return hit;
  }
  if (hit !== undefined) {
    hit.model.dispose();
    cache.delete(topologyJson);
  }
  const loaded = await buildModel(topologyJson, backend);
  cache.set(topologyJson, loaded);
  while (cache.size > MAX_CACHED_MODELS) {
    const [oldestKey, oldest] = cache.entries().next().value as [string, LoadedModel];
    oldest.model.dispose();
    cache.delete(oldestKey);
  }
  return loaded;
}

/** Builds a model on the current backend without caching it (the caller disposes it). */
export async function buildModel(topologyJson: string, backend: string): Promise<LoadedModel> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(topologyJson);
  } catch (error) {
    throw new CohortError('INVALID_ARGUMENT', `model topology is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CohortError('INVALID_ARGUMENT', 'model topology must be a JSON object (TF.js layers model.toJSON())');
  }
  // Accept both the bare topology and the model.json wrapper {"modelTopology": ...}.
  const topology = ('modelTopology' in parsed ? (parsed as { modelTopology: unknown }).modelTopology : parsed) as Record<string, unknown>;
  if (typeof topology !== 'object' || topology === null || typeof topology['class_name'] !== 'string' || typeof topology['config'] !== 'object') {
    throw new CohortError('INVALID_ARGUMENT', 'model topology needs "class_name" and "config" (TF.js layers model.toJSON())');
  }
  let model: tf.LayersModel;
  try {
    model = await tf.models.modelFromJSON(topology as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  } catch (error) {
    const message = ((error as Error).message ?? String(error)).split('\n')[0]!;
    throw new CohortError('INVALID_ARGUMENT', `model topology cannot be built: ${message}`, undefined, { cause: error });
  }
  try {
    return { model, description: describe(model), outputsProbabilities: endsInSoftmax(model), backend };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function describe(model: tf.LayersModel): TopologyDescription {
  if (model.inputs.length !== 1) {
    throw new CohortError('INVALID_ARGUMENT', `model topology needs exactly one input with a known shape (set batch_input_shape on the first layer), has ${model.inputs.length}`);
  }
  const [batch, ...inputShape] = model.inputs[0]!.shape;
  if (batch !== null || inputShape.length === 0 || inputShape.some((d) => d === null || !Number.isInteger(d) || d < 1)) {
    throw new CohortError('INVALID_ARGUMENT', `model input shape [${model.inputs[0]!.shape.map(String).join(',')}] must be [null, d1, ...] with every d known`);
  }
  if (model.outputs.length !== 1) throw new CohortError('INVALID_ARGUMENT', `model topology needs exactly one output, has ${model.outputs.length}`);
  const outShape = model.outputs[0]!.shape;
  const numClasses = outShape[1];
  if (outShape.length !== 2 || numClasses === null || numClasses === undefined || numClasses < 2) {
    throw new CohortError('INVALID_ARGUMENT', `model output shape [${outShape.map(String).join(',')}] must be [null, numClasses >= 2]`);
  }
  const names = weightNames(model);
  const layout = createLayout(
    model.weights.map((w, i) => {
      if (w.dtype !== 'float32') throw new CohortError('INVALID_ARGUMENT', `model weight ${names[i]} is ${w.dtype}; only float32 weights are supported`);
      return { name: names[i]!, shape: w.shape.map((d) => d ?? 0) };
    }),
  );
  return { layout, inputShape: inputShape as number[], numClasses, parameterCount: layout.totalElements };
}

/**
 * `<owning layer>/<short weight name>` for each model weight. TF.js uniquifies variable names per process
 * (conv2d_1/kernel_3 on the fourth build), so the variable name itself is not stable across processes.
 */
function weightNames(model: tf.LayersModel): string[] {
  const owner = new Map<number, string>();
  const visit = (layers: readonly tf.layers.Layer[]): void => {
    for (const layer of layers) {
      for (const w of layer.weights) owner.set(w.id, layer.name);
      // Nested models: the innermost layer that owns a weight names it.
      const inner = (layer as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
    }
  };
  visit(model.layers);
  return model.weights.map((w) => `${owner.get(w.id) ?? model.name}/${weightShortName(w.originalName)}`);
}

function endsInSoftmax(model: tf.LayersModel): boolean {
  const last = model.layers[model.layers.length - 1];
  if (last === undefined) return false;
  if (last.getClassName() === 'Softmax') return true;
  return (last.getConfig() as { activation?: unknown }).activation === 'softmax';
}

/**
 * Builds (and caches) the model of a topology and describes it: layout, input shape, classes, parameter count.
 * INVALID_ARGUMENT for text that is not JSON, unknown layers, a missing input shape or a non-classifier output.
 */
export async function describeTopology(topologyJson: string): Promise<TopologyDescription> {
  return serialize(async () => (await loadModel(topologyJson)).description);
}

/** Checks a caller's layout and weight vector against the model; UPDATE_WRONG_LENGTH / INVALID_ARGUMENT otherwise. */
export function checkWeights(loaded: LoadedModel, layout: ModelLayout, weights: Float32Array): void {
  const expected = loaded.description.layout;
  if (weights.length !== expected.totalElements) {
    throw new CohortError('UPDATE_WRONG_LENGTH', `weights have ${weights.length} elements, the model has ${expected.totalElements}`, {
      expected: expected.totalElements,
      actual: weights.length,
    });
  }
  if (!layoutsEqual(layout, expected)) {
    const diff = expected.tensors.find((t, i) => layout.tensors[i]?.name !== t.name || layout.tensors[i]?.shape.join() !== t.shape.join());
    throw new CohortError('INVALID_ARGUMENT', `layout does not match the model${diff ? ` (first difference at "${diff.name}" [${diff.shape.join(',')}])` : ''}`);
  }
}

/** Copies a flat vector into the model's weights (one tensor per layout entry, copies so the caller keeps its buffer). */
export function setFlatWeights(loaded: LoadedModel, weights: Float32Array): void {
  const tensors = loaded.description.layout.tensors.map((t) => tf.tensor(weights.slice(t.offset, t.offset + t.size), [...t.shape], 'float32'));
  try {
    loaded.model.setWeights(tensors);
  } finally {
    // setWeights assigns the data to the variables, which hold their own reference.
    tf.dispose(tensors);
  }
}

/** The model's weights as one flat vector in layout order. */
export async function getFlatWeights(loaded: LoadedModel): Promise<Float32Array> {
  const { layout } = loaded.description;
  const out = new Float32Array(layout.totalElements);
  // getWeights returns the variables themselves: read, never dispose.
  const values = loaded.model.getWeights();
  for (let i = 0; i < values.length; i++) out.set((await values[i]!.data()) as Float32Array, layout.tensors[i]!.offset);
  return out;
}
