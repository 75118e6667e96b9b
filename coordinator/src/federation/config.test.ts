import { describe, expect, it } from 'vitest';
import { isCohortError } from '../../../shared/src/core/errors.js';
import { formatZodIssues, parseFederationConfig } from './config.js';

const minimal = { name: 'fmnist-demo', model: { builtin: 'fmnist-cnn' } };

/** The CONFIG_INVALID message parseFederationConfig throws for `input`. */
function errorOf(input: unknown, source?: string): string {
  try {
    parseFederationConfig(input, source);
  } catch (error) {
    expect(isCohortError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

/** `minimal` with `value` set at the dotted `path`. */
function withField(path: string, value: unknown): Record<string, unknown> {
  const root = structuredClone(minimal) as Record<string, unknown>;
  const keys = path.split('.');
  let node = root;
  for (const key of keys.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
  return root;
}

describe('parseFederationConfig defaults', () => {
  it('fills every default from a name and a model', () => {
    expect(parseFederationConfig(minimal)).toEqual({
      name: 'fmnist-demo',
      task: '',
      model: { builtin: 'fmnist-cnn', initSeed: 0 },
      plan: { epochs: 1, batchSize: 32, optimizer: 'sgd', learningRate: 0.05, momentum: 0.9, proximalMu: 0, maxExamples: 0, seed: 0, localEvalFraction: 0, clipNorm: 0, perLayerClipNorms: [] },
      selection: { mode: 'fixed', cohortSize: 10, overSelection: 0, samplingRate: 0.1, minClients: 2, minConnected: 0 },
      deadlines: { configureMs: 30_000, trainingMs: 600_000, stageMs: 60_000 },
      serverOptimizer: { kind: 'fedavg' },
      aggregation: { rule: 'fedavg', params: {} },
      evaluation: null,
      rounds: 10,
      privacy: null,
      secagg: { enabled: false, modulusBits: 32, bucketed: false, minBucketSize: 10 },
      dp: { mode: 'off', adaptiveClipping: null, wrapProbability: 1e-9 },
      selectionSeed: 0,
      maxConsecutiveAborts: 10,
      reputation: { enabled: true, learningRate: 0.2, quarantineZ: 3, minRounds: 3 },
    });
  });

  it('fills the defaults inside a partly given section and keeps what was given', () => {
    const config = parseFederationConfig({ ...minimal, plan: { epochs: 3 }, selection: { mode: 'poisson', samplingRate: 0.5 }, evaluation: { dataset: 'fashion-mnist' } });
    expect(config.plan).toMatchObject({ epochs: 3, batchSize: 32, learningRate: 0.05 });
    expect(config.selection).toMatchObject({ mode: 'poisson', samplingRate: 0.5, cohortSize: 10, minClients: 2 });
    expect(config.evaluation).toEqual({ dataset: 'fashion-mnist', split: 'test', maxExamples: 0 });
  });

  it('does not share default objects between parses', () => {
    const a = parseFederationConfig(minimal);
    a.plan.epochs = 99;
    a.aggregation.params['x'] = 1;
    const b = parseFederationConfig(minimal);
    expect(b.plan.epochs).toBe(1);
    expect(b.aggregation.params).toEqual({});
  });
});

describe('parseFederationConfig validation', () => {
  // [field path, bad value]: each error must start its clause with the dotted field path.
  const cases: [string, unknown][] = [
    ['name', ''],
    ['name', 'has spaces'],
    ['name', '-leading-dash'],
    ['name', 'x'.repeat(129)],
    ['task', 't'.repeat(129)],
    ['model.initSeed', -1],
    ['model.initSeed', 1.5],
    ['model.topologyJson', ''],
    ['model.initialWeightsPath', ''],
    ['plan.epochs', 0],
    ['plan.epochs', 1.5],
    ['plan.epochs', 1001],
    ['plan.batchSize', 0],
    ['plan.optimizer', 'rmsprop'],
    ['plan.learningRate', 0],
    ['plan.learningRate', Number.NaN],
    ['plan.learningRate', Number.POSITIVE_INFINITY],
    ['plan.learningRate', '0.1'],
    ['plan.momentum', 1],
    ['plan.momentum', -0.1],
    ['plan.proximalMu', -1],
    ['plan.maxExamples', -1],
    ['plan.seed', -1],
    ['plan.localEvalFraction', 1],
    ['plan.clipNorm', -0.5],
    ['selection.mode', 'random'],
    ['selection.cohortSize', 0],
    ['selection.overSelection', -0.1],
    ['selection.overSelection', 11],
    ['selection.samplingRate', 0],
    ['selection.samplingRate', 1.5],
    ['selection.minClients', 0],
    ['selection.minConnected', -1],
    ['deadlines.configureMs', 0],
    ['deadlines.trainingMs', -5],
    ['deadlines.stageMs', 2.5],
    ['serverOptimizer.kind', 'sgd'],
    ['serverOptimizer.learningRate', 0],
    ['serverOptimizer.momentum', 1],
    ['serverOptimizer.beta1', -0.1],
    ['serverOptimizer.beta2', 1],
    ['serverOptimizer.tau', 0],
    ['aggregation.rule', ''],
    ['aggregation.params.alpha', 'high'],
    ['evaluation.dataset', ''],
    ['evaluation.split', 'validation'],
    ['evaluation.maxExamples', -1],
    ['privacy.targetEpsilon', 0],
    ['privacy.targetDelta', 1],
    ['rounds', 0],
    ['rounds', 1_000_001],
    ['selectionSeed', -1],
    ['maxConsecutiveAborts', 0],
    ['secagg.enabled', 'yes'],
    ['secagg.neighbours', 0],
    ['secagg.threshold', 1.5],
    ['secagg.modulusBits', 9],
    ['secagg.modulusBits', 33],
    ['secagg.clamp', 0],
    ['secagg.weightCap', 0],
    ['secagg.minBucketSize', 1],
    ['secagg.buckets', 0],
  ];

  it.each(cases)('names %s in the error for %j', (path, value) => {
    const input = withField(path, value);
    if (path.startsWith('privacy.')) (input['privacy'] as Record<string, unknown>)[path === 'privacy.targetDelta' ? 'targetEpsilon' : 'targetDelta'] ??= 1e-5;
    if (path.startsWith('evaluation.') && path !== 'evaluation.dataset') (input['evaluation'] as Record<string, unknown>)['dataset'] = 'fashion-mnist';
    if (path === 'model.topologyJson') delete (input['model'] as Record<string, unknown>)['builtin'];
    const message = errorOf(input);
    expect(message).toMatch(new RegExp(`^federation spec: (.*; )?${path.replace(/\./g, '\\.')}: `));
  });

  it('names the model when it gives both or neither of builtin and topologyJson', () => {
    expect(errorOf({ name: 'f', model: { builtin: 'fmnist-cnn', topologyJson: '{"a":1}' } })).toBe('federation spec: model: give exactly one of builtin or topologyJson');
    expect(errorOf({ name: 'f', model: {} })).toBe('federation spec: model: give exactly one of builtin or topologyJson');
  });

  it('names missing required fields', () => {
    expect(errorOf({ model: { builtin: 'x' } })).toMatch(/^federation spec: name: /);
    expect(errorOf({ name: 'f' })).toMatch(/^federation spec: model: /);
    expect(errorOf({ ...minimal, privacy: { targetEpsilon: 8 } })).toMatch(/^federation spec: privacy\.targetDelta: /);
  });

  it('names unknown keys, at the top level and inside a section', () => {
    expect(errorOf({ ...minimal, strategy: 'fedavg' })).toMatch(/"strategy"/);
    expect(errorOf({ ...minimal, plan: { epochz: 2 } })).toMatch(/^federation spec: plan: .*"epochz"/);
  });

  it('requires minClients <= cohortSize in fixed mode, naming selection.minClients', () => {
    expect(errorOf({ ...minimal, selection: { cohortSize: 3, minClients: 4 } })).toBe('federation spec: selection.minClients: must be <= selection.cohortSize (3)');
    // Poisson mode has no cohort size to compare with.
    expect(parseFederationConfig({ ...minimal, selection: { mode: 'poisson', cohortSize: 3, minClients: 4 } }).selection.minClients).toBe(4);
  });

  it('requires the configure deadline to leave time for training, naming deadlines.configureMs', () => {
    expect(errorOf({ ...minimal, deadlines: { configureMs: 60_000, trainingMs: 60_000 } })).toBe('federation spec: deadlines.configureMs: must be < deadlines.trainingMs (60000)');
  });

  it('checks secure-aggregation settings against each other and the cohort, naming the field', () => {
    const on = (secagg: Record<string, unknown>, rest: Record<string, unknown> = {}): Record<string, unknown> => ({ ...minimal, plan: { clipNorm: 1 }, ...rest, secagg: { enabled: true, ...secagg } });
    expect(errorOf({ ...minimal, secagg: { enabled: true } })).toBe('federation spec: secagg.clamp: secure aggregation needs a bound on every coordinate: set plan.clipNorm or secagg.clamp');
    expect(parseFederationConfig({ ...minimal, secagg: { enabled: true, clamp: 0.5 } }).secagg).toMatchObject({ enabled: true, clamp: 0.5 });
    expect(errorOf(on({ neighbours: 6, threshold: 3 }))).toMatch(/^federation spec: secagg\.threshold: must be more than half of secagg\.neighbours \(6\)/);
    expect(errorOf(on({ neighbours: 4, threshold: 5 }))).toBe('federation spec: secagg.threshold: must be <= secagg.neighbours (4)');
    expect(errorOf(on({ modulusBits: 12 }, { selection: { cohortSize: 20, minClients: 2 } }))).toMatch(/^federation spec: secagg\.modulusBits: quantization\.maxInputs = 20 needs 5 headroom bits/);
    expect(errorOf(on({ buckets: 4, minBucketSize: 4 }, { selection: { cohortSize: 12, minClients: 2 } }))).toBe('federation spec: secagg.buckets: 4 bucket(s) of a cohort of 12 are smaller than secagg.minBucketSize (4)');
    expect(errorOf(on({}, { selection: { cohortSize: 5, minClients: 1 } }))).toBe('federation spec: selection.minClients: must be >= 2 with secure aggregation (a sum of one client is that client)');
    expect(errorOf(on({ bucketed: true }, { selection: { cohortSize: 8, minClients: 2 } }))).toBe('federation spec: secagg.minBucketSize: 1 bucket(s) of a cohort of 8 are smaller than secagg.minBucketSize (10)');
    expect(parseFederationConfig(on({ buckets: 2, minBucketSize: 5 }, { selection: { cohortSize: 10, minClients: 2 } })).secagg).toMatchObject({ bucketed: true, buckets: 2, minBucketSize: 5 });
    // Off, none of this is checked.
    expect(parseFederationConfig({ ...minimal, secagg: { neighbours: 6, threshold: 3 } }).secagg.enabled).toBe(false);
  });

  it('checks differential-privacy settings, naming the field', () => {
    expect(errorOf({ ...minimal, dp: { mode: 'central' }, privacy: { targetEpsilon: 8, targetDelta: 1e-5 } })).toBe("federation spec: plan.clipNorm: must be > 0 (or give plan.perLayerClipNorms) with differential privacy: clipping bounds each client's contribution");
    expect(parseFederationConfig({ ...minimal, plan: { perLayerClipNorms: [0.5, 1] }, dp: { mode: 'central' }, privacy: { targetEpsilon: 8, targetDelta: 1e-5 } }).plan.perLayerClipNorms).toEqual([0.5, 1]);
    expect(errorOf({ ...minimal, plan: { perLayerClipNorms: [0.5, 0] } })).toMatch(/^federation spec: plan\.perLayerClipNorms\.1: /);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central' } })).toBe('federation spec: privacy: give targetEpsilon and targetDelta: a DP federation needs a budget to account against');
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'laplace' } })).toMatch(/^federation spec: dp\.mode: /);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central', noiseMultiplier: 0 }, privacy: { targetEpsilon: 8, targetDelta: 1e-5 } })).toMatch(/^federation spec: dp\.noiseMultiplier: /);
    const budget = { targetEpsilon: 8, targetDelta: 1e-5 };
    const secure = { enabled: true };
    const cohort = { cohortSize: 10, minClients: 2 };
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central' }, privacy: budget, secagg: secure, selection: cohort })).toMatch(/^federation spec: dp\.mode: central noise is added by the coordinator, which sees only sums under secure aggregation; use mode distributed$/);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'distributed' }, privacy: budget })).toMatch(/^federation spec: dp\.mode: distributed noise needs secagg\.enabled/);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'distributed' }, privacy: budget, secagg: { enabled: true, buckets: 2, minBucketSize: 5 }, selection: cohort })).toMatch(
      /^federation spec: dp\.mode: distributed noise with bucketed secure aggregation is not supported/,
    );
    expect(parseFederationConfig({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'distributed' }, privacy: budget, secagg: secure, selection: cohort }).dp.mode).toBe('distributed');
    expect(parseFederationConfig({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'local' }, privacy: budget, secagg: secure, selection: cohort }).dp.mode).toBe('local');
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'local', adaptiveClipping: {} }, privacy: budget })).toBe('federation spec: dp.adaptiveClipping: needs dp.mode central (the coordinator counts the clients that were clipped), got local');
    expect(errorOf({ ...minimal, plan: { perLayerClipNorms: [1, 1] }, dp: { mode: 'central', adaptiveClipping: {} }, privacy: budget })).toMatch(/^federation spec: dp\.adaptiveClipping: adapts one flat clip norm/);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central', adaptiveClipping: { targetQuantile: 1 } }, privacy: budget })).toMatch(/^federation spec: dp\.adaptiveClipping\.targetQuantile: /);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central', wrapProbability: 0.5 }, privacy: budget })).toMatch(/^federation spec: dp\.wrapProbability: /);
    expect(parseFederationConfig({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central', adaptiveClipping: {} }, privacy: budget }).dp).toEqual({
      mode: 'central',
      adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2 },
      wrapProbability: 1e-9,
    });
  });

  it('checks the aggregation rule against its root dataset and against DP, naming the field', () => {
    expect(errorOf({ ...minimal, aggregation: { rule: 'fltrust' } })).toBe(
      "federation spec: aggregation.rootDataset: rule fltrust judges every update against the server's own update on a clean root dataset: name it here",
    );
    const root = { dataset: 'fashion-mnist' };
    expect(parseFederationConfig({ ...minimal, aggregation: { rule: 'fltrust', rootDataset: root } }).aggregation).toEqual({ rule: 'fltrust', params: {}, rootDataset: { dataset: 'fashion-mnist', split: 'train', examples: 100 } });
    expect(errorOf({ ...minimal, aggregation: { rule: 'median', rootDataset: root } })).toBe('federation spec: aggregation.rootDataset: only rule fltrust trains on a root dataset; rule median would ignore it');
    expect(errorOf({ ...minimal, aggregation: { rule: 'fltrust', rootDataset: { ...root, examples: 0 } } })).toMatch(/^federation spec: aggregation\.rootDataset\.examples: /);
    expect(errorOf({ ...minimal, aggregation: { rule: 'fltrust', rootDataset: { ...root, split: 'validation' } } })).toMatch(/^federation spec: aggregation\.rootDataset\.split: /);
    expect(errorOf({ ...minimal, plan: { clipNorm: 1 }, dp: { mode: 'central' }, privacy: { targetEpsilon: 8, targetDelta: 1e-5 }, aggregation: { rule: 'median' } })).toBe(
      'federation spec: aggregation.rule: differential privacy (central) aggregates with DP-FedAvg, whose accounting assumes the clipped mean; rule median cannot be combined with it',
    );
  });

  it('reports every bad field at once, prefixed with the source', () => {
    const message = errorOf({ ...minimal, rounds: 0, plan: { epochs: 0 } }, 'coordinator.yaml federation "x"');
    expect(message.startsWith('coordinator.yaml federation "x": ')).toBe(true);
    expect(message).toMatch(/plan\.epochs: /);
    expect(message).toMatch(/rounds: /);
  });

  it('rejects a config that is not an object', () => {
    expect(errorOf(null)).toMatch(/^federation spec: /);
    expect(errorOf('name: f')).toMatch(/^federation spec: /);
  });
});

describe('formatZodIssues', () => {
  it('joins dotted paths and messages, leaving path-less issues bare', () => {
    expect(formatZodIssues([{ path: ['plan', 'epochs'], message: 'too small' }, { path: [], message: 'bad' }, { path: ['params', 0], message: 'x' }])).toBe('plan.epochs: too small; bad; params.0: x');
  });
});
