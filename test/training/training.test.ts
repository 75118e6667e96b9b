// Local training and evaluation on the backend this process selects (wasm here), with the shipped Fashion-MNIST subset.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { subsetDataset } from '../../shared/src/core/data/dataset.js';
import type { ErrorCode } from '../../shared/src/core/errors.js';
import { isCohortError } from '../../shared/src/core/errors.js';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { initializeWeights } from '../../shared/src/core/tensor/init.js';
import { createLayout } from '../../shared/src/core/tensor/layout.js';
import { SUBSET_RELATIVE_DIR, loadDataDir, packageRoot } from '../../shared/src/data/index.js';
import type { LocalTrainingPlan, TopologyDescription, TrainingResult } from '../../client/src/training/index.js';
import { builtinTopology, describeTopology, evaluateModel, trainLocal } from '../../client/src/training/index.js';
import { liveTensorCount } from '../../client/src/training/diagnostics.js';

const MLP = builtinTopology('fmnist-mlp');
const CNN = builtinTopology('fmnist-cnn');

let train: LabeledDataset;
let test: LabeledDataset;
let mlp: TopologyDescription;
let cnn: TopologyDescription;

beforeAll(async () => {
  const loaded = await loadDataDir(join(packageRoot(), SUBSET_RELATIVE_DIR));
  train = loaded.train;
  test = loaded.test!;
  mlp = await describeTopology(MLP);
  cnn = await describeTopology(CNN);
});

const plan = (overrides: Partial<LocalTrainingPlan> = {}): LocalTrainingPlan => ({
  epochs: 1,
  batchSize: 32,
  optimizer: 'sgd',
  learningRate: 0.05,
  momentum: 0,
  proximalMu: 0,
  maxExamples: 0,
  seed: 7,
  localEvalFraction: 0,
  ...overrides,
});

const first = (n: number, data: LabeledDataset = train): LabeledDataset => subsetDataset(data, Array.from({ length: n }, (_, i) => i));
const sameBytes = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

async function errorOf(run: () => Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await run();
  } catch (error) {
    if (isCohortError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a CohortError');
}

describe('built-in topologies', () => {
  it('describes the CNN: [28,28,1] in, 10 classes, 96,154 parameters, layer/weight names', () => {
    expect(cnn.inputShape).toEqual([28, 28, 1]);
    expect(cnn.numClasses).toBe(10);
    expect(cnn.parameterCount).toBe(96_154);
    expect(cnn.layout.tensors.map((t) => `${t.name}:${t.shape.join('x')}`)).toEqual([
      'conv2d_1/kernel:3x3x1x32',
      'conv2d_1/bias:32',
      'conv2d_2/kernel:3x3x32x64',
      'conv2d_2/bias:64',
      'dense_1/kernel:1600x48',
      'dense_1/bias:48',
      'dense_2/kernel:48x10',
      'dense_2/bias:10',
    ]);
  });

  it('describes the MLP: 784-128-10, 101,770 parameters', () => {
    expect(mlp.parameterCount).toBe(101_770);
    expect(mlp.layout.tensors.map((t) => t.name)).toEqual(['dense_1/kernel', 'dense_1/bias', 'dense_2/kernel', 'dense_2/bias']);
  });

  it('names weights the same on a fresh instantiation (TF.js would suffix the variables _1, _2, ...)', async () => {
    // Different text, same model: forces a second build in this process.
    const again = await describeTopology(JSON.stringify(JSON.parse(CNN), null, 1));
    expect(again.layout).toEqual(cnn.layout);
  });
});

describe('describeTopology rejects what it cannot train', () => {
  it.each([
    ['text that is not JSON', '{"class_name": "Sequential",', /not valid JSON/],
    ['a JSON array', '[1, 2]', /must be a JSON object/],
    ['an object that is no topology', '{"hello": 1}', /needs "class_name" and "config"/],
    [
      'an unknown layer',
      JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Frobnicate', config: { name: 'f', batch_input_shape: [null, 4] } }] } }),
      /cannot be built: .*Frobnicate/,
    ],
    [
      'a first layer without an input shape',
      JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 3 } }] } }),
      /input/,
    ],
    [
      'a scalar output',
      JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd', units: 1, batch_input_shape: [null, 4] } }] } }),
      /numClasses >= 2/,
    ],
  ])('%s', async (_name, json, pattern) => {
    const error = await errorOf(() => describeTopology(json));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(pattern);
  });
});

describe('trainLocal', () => {
  it('replays exactly: same weights, data, plan and backend give the same update; another seed does not', async () => {
    const w0 = initializeWeights(mlp.layout, createSeededRng(1));
    const data = first(320);
    const p = plan({ epochs: 2, optimizer: 'adam', learningRate: 1e-3, localEvalFraction: 0.2 });
    const a = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: p });
    const b = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: p });
    const c = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: { ...p, seed: 8 } });
    expect(sameBytes(a.weights, b.weights)).toBe(true);
    expect(a.metrics['train_loss']).toBe(b.metrics['train_loss']);
    expect(a.metrics['eval_accuracy']).toBe(b.metrics['eval_accuracy']);
    expect(sameBytes(a.weights, c.weights)).toBe(false);
    // The caller's vector is never written.
    expect(sameBytes(w0, initializeWeights(mlp.layout, createSeededRng(1)))).toBe(true);
  });

  it('trains the CNN on wasm deterministically', async () => {
    const w0 = initializeWeights(cnn.layout, createSeededRng(2));
    const data = first(96);
    const a = await trainLocal({ topologyJson: CNN, layout: cnn.layout, weights: w0, data, plan: plan() });
    const b = await trainLocal({ topologyJson: CNN, layout: cnn.layout, weights: w0, data, plan: plan() });
    expect(sameBytes(a.weights, b.weights)).toBe(true);
    expect(Number.isFinite(a.metrics['train_loss'])).toBe(true);
    expect(a.numExamples).toBe(96);
    expect(a.metrics['samples_per_second']).toBeGreaterThan(0);
  });

  it('learns: the MLP beats chance by far on held-out images after two epochs', async () => {
    const w0 = initializeWeights(mlp.layout, createSeededRng(3));
    const before = await evaluateModel({ topologyJson: MLP, layout: mlp.layout, weights: w0, data: test });
    const result = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data: first(2000), plan: plan({ epochs: 2, learningRate: 0.1 }) });
    const after = await evaluateModel({ topologyJson: MLP, layout: mlp.layout, weights: result.weights, data: test, batchSize: 100 });
    expect(after.numExamples).toBe(1000);
    expect(after.accuracy).toBeGreaterThan(0.65);
    expect(after.loss).toBeLessThan(before.loss);
    expect(result.metrics['train_accuracy']).toBeGreaterThan(0.5);
  });

  it('holds out localEvalFraction and caps at maxExamples', async () => {
    const w0 = initializeWeights(mlp.layout, createSeededRng(4));
    const held = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data: first(200), plan: plan({ localEvalFraction: 0.25 }) });
    expect(held.numExamples).toBe(150);
    expect(held.metrics).toHaveProperty('eval_loss');
    expect(held.metrics).toHaveProperty('eval_accuracy');
    const capped = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data: first(200), plan: plan({ maxExamples: 64 }) });
    expect(capped.numExamples).toBe(64);
    expect(capped.metrics).not.toHaveProperty('eval_loss');
  });

  it('keeps the update near the global model under a FedProx term', async () => {
    const w0 = initializeWeights(mlp.layout, createSeededRng(5));
    const data = first(256);
    const free = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: plan({ epochs: 2, learningRate: 0.1 }) });
    const prox = await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: plan({ epochs: 2, learningRate: 0.1, proximalMu: 5 }) });
    expect(l2(prox.weights, w0)).toBeLessThan(0.8 * l2(free.weights, w0));
  });

  it('leaves no tensors behind, for every optimizer, FedProx, a held-out split and evaluation', async () => {
    const w0 = initializeWeights(cnn.layout, createSeededRng(6));
    const data = first(40);
    const run = async (): Promise<void> => {
      for (const optimizer of ['sgd', 'momentum', 'adam'] as const) {
        await trainLocal({ topologyJson: CNN, layout: cnn.layout, weights: w0, data, plan: plan({ optimizer, momentum: 0.9, proximalMu: 0.1, localEvalFraction: 0.2, batchSize: 16 }) });
      }
      await evaluateModel({ topologyJson: CNN, layout: cnn.layout, weights: w0, data, batchSize: 16 });
    };
    await run(); // builds and caches the model
    const before = liveTensorCount();
    await run();
    expect(liveTensorCount()).toBe(before);
  });

  it('serializes overlapping calls: concurrent results equal sequential ones', async () => {
    const w0 = initializeWeights(mlp.layout, createSeededRng(9));
    const data = first(128);
    const plans = [plan({ seed: 1 }), plan({ seed: 2, optimizer: 'adam', learningRate: 1e-3 })];
    const sequential: TrainingResult[] = [];
    for (const p of plans) sequential.push(await trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: p }));
    const concurrent = await Promise.all(plans.map((p) => trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data, plan: p })));
    concurrent.forEach((r, i) => expect(sameBytes(r.weights, sequential[i]!.weights)).toBe(true));
  });
});

describe('trainLocal and evaluateModel reject bad input', () => {
  it('UPDATE_WRONG_LENGTH for a weight vector of the wrong size', async () => {
    const error = await errorOf(() => trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: new Float32Array(10), data: first(10), plan: plan() }));
    expect(error).toEqual({ code: 'UPDATE_WRONG_LENGTH', message: 'weights have 10 elements, the model has 101770' });
    const evalError = await errorOf(() => evaluateModel({ topologyJson: MLP, layout: mlp.layout, weights: new Float32Array(1), data: first(10) }));
    expect(evalError.code).toBe('UPDATE_WRONG_LENGTH');
  });

  it('INVALID_ARGUMENT for a layout that names other tensors', async () => {
    const renamed = createLayout(mlp.layout.tensors.map((t, i) => ({ name: i === 0 ? 'other/kernel' : t.name, shape: t.shape })));
    const error = await errorOf(() => trainLocal({ topologyJson: MLP, layout: renamed, weights: new Float32Array(mlp.parameterCount), data: first(10), plan: plan() }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/dense_1\/kernel/);
  });

  it('CONFIG_INVALID naming the plan field', async () => {
    const w0 = new Float32Array(mlp.parameterCount);
    for (const [field, bad] of [
      ['epochs', { epochs: 0 }],
      ['batchSize', { batchSize: 1.5 }],
      ['learningRate', { learningRate: -1 }],
      ['momentum', { momentum: 1 }],
      ['localEvalFraction', { localEvalFraction: 1 }],
      ['optimizer', { optimizer: 'rmsprop' as 'sgd' }],
    ] as const) {
      const error = await errorOf(() => trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: w0, data: first(10), plan: plan(bad) }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain(`plan.${field}`);
    }
  });

  it('DATA_INVALID for examples of another size', async () => {
    const small: LabeledDataset = { features: new Float32Array(4 * 5), labels: new Int32Array(4), count: 4, featureShape: [5], numClasses: 10 };
    const error = await errorOf(() => trainLocal({ topologyJson: MLP, layout: mlp.layout, weights: new Float32Array(mlp.parameterCount), data: small, plan: plan() }));
    expect(error.code).toBe('DATA_INVALID');
    expect(error.message).toMatch(/\[5\].*\[28,28,1\]/);
  });
});
