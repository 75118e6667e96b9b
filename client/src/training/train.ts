/**
 * Local training and evaluation with our own loop rather than model.fit: fit shuffles with Math.random, and
 * federated clients must replay exactly (same weights, data, plan and backend -> same update). Every call runs
 * through serialize(): the TF.js engine and the cached models are shared by the whole thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { LabeledDataset } from '../../../shared/src/core/data/dataset.js';
import { featureSize, validateDataset } from '../../../shared/src/core/data/dataset.js';
import { CohortError, requireConfig } from '../../../shared/src/core/errors.js';
import { createSeededRng, deriveSeed, permutation } from '../../../shared/src/core/rng/rng.js';
import type { ModelLayout } from '../../../shared/src/core/tensor/layout.js';
import type { ClientTrainingPlan } from '../../../shared/src/protocol/types.js';
import type { LoadedModel } from './model.js';
import { checkWeights, getFlatWeights, loadModel, setFlatWeights } from './model.js';
import { serialize } from './serial.js';

/** How a client trains in one round: the round's plan without the update-side settings (clipping acts on the delta). */
export type LocalTrainingPlan = Omit<ClientTrainingPlan, 'clipNorm' | 'perLayerClipNorms' | 'secagg' | 'noise'>;

/** A client's update: new weights (layout order), examples trained on (the FedAvg weight), metrics. */
export interface TrainingResult {
  readonly weights: Float32Array;
  readonly numExamples: number;
  /** train_loss, train_accuracy (last epoch), eval_loss, eval_accuracy (held-out split, when any), train_seconds, samples_per_second. */
  readonly metrics: Record<string, number>;
}

/** Input of trainLocal. */
export interface TrainLocalInput {
  topologyJson: string;
  layout: ModelLayout;
  weights: Float32Array;
  data: LabeledDataset;
  plan: LocalTrainingPlan;
}

/** Input of evaluateModel. */
export interface EvaluateInput {
  topologyJson: string;
  layout: ModelLayout;
  weights: Float32Array;
  data: LabeledDataset;
  /** Examples per forward pass (default 256). */
  batchSize?: number;
}

/** Mean cross-entropy (nats) and accuracy in [0, 1] over numExamples. */
export interface EvaluationResult {
  readonly loss: number;
  readonly accuracy: number;
  readonly numExamples: number;
}

/** Longest stretch of synchronous training before the event loop gets a turn. */
const YIELD_EVERY_MS = 25;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Keras' fuzz factor: probabilities are clipped to [EPSILON, 1 − EPSILON] before the log. */
const EPSILON = 1e-7;
/** Salt of the held-out split's seed: fixed, so the split is the same every round. */
const HOLDOUT_SEED = deriveSeed('cohort', 'local-eval-holdout');

/**
 * Trains the model from `weights` on `data` as `plan` says and returns the new weights. Deterministic for the
 * same inputs on the same backend. Throws CONFIG_INVALID for a bad plan, UPDATE_WRONG_LENGTH for a weight
 * vector of the wrong size, DATA_INVALID when the data does not fit the model.
 */
export async function trainLocal(input: TrainLocalInput): Promise<TrainingResult> {
  validatePlan(input.plan);
  return serialize(() => trainNow(input));
}

/** Loss and accuracy of the model with `weights` on `data` (inference mode). */
export async function evaluateModel(input: EvaluateInput): Promise<EvaluationResult> {
  const batchSize = input.batchSize ?? 256;
  requireConfig(Number.isInteger(batchSize) && batchSize >= 1, 'batchSize', `must be a positive integer, got ${batchSize}`);
  return serialize(async () => {
    const loaded = await loadModel(input.topologyJson);
    checkWeights(loaded, input.layout, input.weights);
    checkData(loaded, input.data);
    if (input.data.count === 0) throw new CohortError('DATA_INVALID', 'evaluation data holds no examples');
    setFlatWeights(loaded, input.weights);
    return evaluateLoaded(loaded, input.data, allIndices(input.data.count), batchSize);
  });
}

function validatePlan(plan: LocalTrainingPlan): void {
  requireConfig(Number.isInteger(plan.epochs) && plan.epochs >= 1, 'plan.epochs', `must be an integer >= 1, got ${plan.epochs}`);
  requireConfig(Number.isInteger(plan.batchSize) && plan.batchSize >= 1, 'plan.batchSize', `must be an integer >= 1, got ${plan.batchSize}`);
  requireConfig(['sgd', 'momentum', 'adam'].includes(plan.optimizer), 'plan.optimizer', `must be sgd, momentum or adam, got ${String(plan.optimizer)}`);
  requireConfig(Number.isFinite(plan.learningRate) && plan.learningRate > 0, 'plan.learningRate', `must be > 0, got ${plan.learningRate}`);
  requireConfig(Number.isFinite(plan.momentum) && plan.momentum >= 0 && plan.momentum < 1, 'plan.momentum', `must be in [0, 1), got ${plan.momentum}`);
  requireConfig(Number.isFinite(plan.proximalMu) && plan.proximalMu >= 0, 'plan.proximalMu', `must be >= 0, got ${plan.proximalMu}`);
  requireConfig(Number.isInteger(plan.maxExamples) && plan.maxExamples >= 0, 'plan.maxExamples', `must be an integer >= 0, got ${plan.maxExamples}`);
  requireConfig(Number.isInteger(plan.seed) && plan.seed >= 0 && plan.seed < 2 ** 32, 'plan.seed', `must be a uint32, got ${plan.seed}`);
  requireConfig(
    Number.isFinite(plan.localEvalFraction) && plan.localEvalFraction >= 0 && plan.localEvalFraction < 1,
    'plan.localEvalFraction',
    `must be in [0, 1), got ${plan.localEvalFraction}`,
  );
}

/** The data must match the model's input size and classes. */
function checkData(loaded: LoadedModel, data: LabeledDataset): void {
  const { inputShape, numClasses } = loaded.description;
  if (featureSize(data.featureShape) !== featureSize(inputShape)) {
    throw new CohortError('DATA_INVALID', `examples have shape [${data.featureShape.join(',')}], the model takes [${inputShape.join(',')}]`);
  }
  if (data.numClasses > numClasses) {
    throw new CohortError('DATA_INVALID', `data has ${data.numClasses} classes, the model outputs ${numClasses}`);
  }
  validateDataset(data, 'training data');
}

/**
 * Held-out and training indices. The held-out split comes from a fixed seed so it stays the same across rounds
 * (a moving holdout would leak training examples into eval); the training draw and its order use the plan seed.
 */
function splitLocal(count: number, plan: LocalTrainingPlan): { trainIdx: Uint32Array; evalIdx: Uint32Array } {
  const used = plan.maxExamples > 0 ? Math.min(plan.maxExamples, count) : count;
  const numEval = Math.floor(used * plan.localEvalFraction);
  const stable = permutation(createSeededRng(HOLDOUT_SEED), count);
  const evalIdx = stable.subarray(0, numEval);
  const pool = stable.subarray(numEval);
  const draw = permutation(createSeededRng(deriveSeed(plan.seed, 'examples')), pool.length);
  const trainIdx = new Uint32Array(Math.min(used - numEval, pool.length));
  for (let i = 0; i < trainIdx.length; i++) trainIdx[i] = pool[draw[i]!]!;
  return { trainIdx, evalIdx };
}

function makeOptimizer(plan: LocalTrainingPlan): tf.Optimizer {
  switch (plan.optimizer) {
    case 'sgd':
      return tf.train.sgd(plan.learningRate);
    case 'momentum':
      return tf.train.momentum(plan.learningRate, plan.momentum, false);
    case 'adam':
      return tf.train.adam(plan.learningRate);
  }
}

/**
 * Disposes an optimizer and its state. TF.js 4.22's MomentumOptimizer.dispose() forgets the learning-rate scalar
 * it inherits from SGDOptimizer (field `c`), one leaked tensor per training call; free it here too.
 */
function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  const inherited = (optimizer as unknown as { c?: unknown }).c;
  if (inherited instanceof tf.Tensor && !inherited.isDisposed) inherited.dispose();
}

async function trainNow(input: TrainLocalInput): Promise<TrainingResult> {
  const { data, plan } = input;
  const loaded = await loadModel(input.topologyJson);
  checkWeights(loaded, input.layout, input.weights);
  checkData(loaded, data);
  const { trainIdx, evalIdx } = splitLocal(data.count, plan);
  if (trainIdx.length === 0) throw new CohortError('DATA_INVALID', `no training examples left (${data.count} examples, localEvalFraction ${plan.localEvalFraction})`);
  setFlatWeights(loaded, input.weights);

  const variables = loaded.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = makeOptimizer(plan);
  // The global model, for the FedProx term. clone() shares the data; the optimizer's assign() swaps the variables' data.
  const anchors = plan.proximalMu > 0 ? variables.map((v) => tf.keep(v.clone())) : [];
  let lastEpoch = { loss: Number.NaN, accuracy: Number.NaN };
  const started = performance.now();
  let lastYield = started;
  try {
    for (let epoch = 0; epoch < plan.epochs; epoch++) {
      const order = permutation(createSeededRng(deriveSeed(plan.seed, `epoch/${epoch}`)), trainIdx.length);
      let totals: tf.Tensor = tf.zeros([2]);
      try {
        for (let start = 0; start < order.length; start += plan.batchSize) {
          const end = Math.min(start + plan.batchSize, order.length);
          const batch = new Uint32Array(end - start);
          for (let i = start; i < end; i++) batch[i - start] = trainIdx[order[i]!]!;
          const stats = trainStep(loaded, data, batch, optimizer, variables, anchors, plan.proximalMu);
          const next = tf.add(totals, stats);
          tf.dispose([totals, stats]);
          totals = next;
          // WASM kernels run synchronously: hand the event loop a turn now and then, so the agent's heartbeats,
          // session messages and other agents in this thread are not starved during a long epoch.
          if (performance.now() - lastYield > YIELD_EVERY_MS) {
            await yieldToEventLoop();
            lastYield = performance.now();
          }
        }
        const [lossSum, correct] = (await totals.data()) as Float32Array;
        lastEpoch = { loss: lossSum! / order.length, accuracy: correct! / order.length };
      } finally {
        totals.dispose();
      }
    }
  } finally {
    disposeOptimizer(optimizer);
    tf.dispose(anchors);
  }
  const seconds = (performance.now() - started) / 1000;
  const weights = await getFlatWeights(loaded);
  const metrics: Record<string, number> = {
    train_loss: lastEpoch.loss,
    train_accuracy: lastEpoch.accuracy,
    train_seconds: seconds,
    samples_per_second: (plan.epochs * trainIdx.length) / seconds,
  };
  if (evalIdx.length > 0) {
    const evaluation = await evaluateLoaded(loaded, data, evalIdx, 256);
    metrics['eval_loss'] = evaluation.loss;
    metrics['eval_accuracy'] = evaluation.accuracy;
  }
  return { weights, numExamples: trainIdx.length, metrics };
}

/** One optimizer step on the examples at `batch`; returns [sum of example losses, correct predictions]. */
function trainStep(
  loaded: LoadedModel,
  data: LabeledDataset,
  batch: Uint32Array,
  optimizer: tf.Optimizer,
  variables: tf.Variable[],
  anchors: tf.Tensor[],
  mu: number,
): tf.Tensor {
  const { x, y, labels } = batchTensors(loaded, data, batch);
  let stats: tf.Tensor | null = null;
  try {
    optimizer.minimize(
      () => {
        const out = loaded.model.apply(x, { training: true }) as tf.Tensor;
        const perExample = crossEntropy(y, out, loaded.outputsProbabilities);
        // Metrics ride along the forward pass; kept, they survive minimize's tidy and stay off the gradient path.
        stats = tf.keep(tf.stack([tf.sum(perExample), tf.sum(tf.cast(tf.equal(tf.argMax(out, 1), labels), 'float32'))]));
        const loss = tf.mean(perExample) as tf.Scalar;
        if (mu === 0) return loss;
        const drift = tf.addN(variables.map((v, i) => tf.sum(tf.squaredDifference(v, anchors[i]!))));
        return tf.add(loss, tf.mul(drift, mu / 2)) as tf.Scalar;
      },
      false,
      variables,
    );
  } finally {
    tf.dispose([x, y, labels]);
  }
  if (stats === null) throw new CohortError('INTERNAL', 'training step produced no loss');
  return stats;
}

/** Per-example cross-entropy (nats): from probabilities when the model ends in softmax, else from logits. */
function crossEntropy(yOneHot: tf.Tensor, out: tf.Tensor, probabilities: boolean): tf.Tensor {
  const logP = probabilities ? tf.log(tf.clipByValue(out, EPSILON, 1 - EPSILON)) : tf.logSoftmax(out);
  return tf.neg(tf.sum(tf.mul(yOneHot, logP), -1));
}

/** Copies the examples at `batch` into fresh tensors: inputs, one-hot targets, int labels. */
function batchTensors(loaded: LoadedModel, data: LabeledDataset, batch: Uint32Array): { x: tf.Tensor; y: tf.Tensor; labels: tf.Tensor } {
  const { inputShape, numClasses } = loaded.description;
  const size = featureSize(inputShape);
  // Fresh arrays per batch: the cpu backend keeps the array it is given rather than copying it.
  const features = new Float32Array(batch.length * size);
  const oneHot = new Float32Array(batch.length * numClasses);
  const labels = new Int32Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const src = batch[i]!;
    features.set(data.features.subarray(src * size, (src + 1) * size), i * size);
    const y = data.labels[src]!;
    labels[i] = y;
    oneHot[i * numClasses + y] = 1;
  }
  return {
    x: tf.tensor(features, [batch.length, ...inputShape], 'float32'),
    y: tf.tensor2d(oneHot, [batch.length, numClasses], 'float32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

async function evaluateLoaded(loaded: LoadedModel, data: LabeledDataset, indices: Uint32Array, batchSize: number): Promise<EvaluationResult> {
  let totals: tf.Tensor = tf.zeros([2]);
  try {
    for (let start = 0; start < indices.length; start += batchSize) {
      const batch = indices.subarray(start, Math.min(start + batchSize, indices.length));
      const next = tf.tidy(() => {
        const { x, y, labels } = batchTensors(loaded, data, batch);
        const out = loaded.model.apply(x, { training: false }) as tf.Tensor;
        const perExample = crossEntropy(y, out, loaded.outputsProbabilities);
        return tf.add(totals, tf.stack([tf.sum(perExample), tf.sum(tf.cast(tf.equal(tf.argMax(out, 1), labels), 'float32'))]));
      });
      totals.dispose();
      totals = next;
      await yieldToEventLoop();
    }
    const [lossSum, correct] = (await totals.data()) as Float32Array;
    return { loss: lossSum! / indices.length, accuracy: correct! / indices.length, numExamples: indices.length };
  } finally {
    totals.dispose();
  }
}

function allIndices(count: number): Uint32Array {
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = i;
  return out;
}
