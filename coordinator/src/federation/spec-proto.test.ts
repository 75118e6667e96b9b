import { describe, expect, it } from 'vitest';
import { isCohortError } from '../../../shared/src/core/errors.js';
import { ClientOptimizer } from '../../../shared/src/gen/fl/v1/common.pb.js';
import { FederationSpec, SelectionMode, ServerOptimizerKind } from '../../../shared/src/gen/fl/v1/operator.pb.js';
import { parseFederationConfig } from './config.js';
import type { FederationConfig } from './config.js';
import { federationConfigFromProto, federationConfigToProto } from './spec-proto.js';

/** Through the wire bytes, as the operator API receives it. */
function overTheWire(spec: FederationSpec): FederationSpec {
  return FederationSpec.decode(FederationSpec.encode(spec).finish());
}

function configInvalid(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(isCohortError(error, 'CONFIG_INVALID'), String(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected CONFIG_INVALID');
}

const everyFieldSet: FederationConfig = parseFederationConfig({
  name: 'everything.set_1',
  task: 'fashion-mnist',
  model: { topologyJson: '{"class_name":"Sequential"}', initialWeightsPath: '/data/w.bin', initSeed: 17 },
  plan: { epochs: 3, batchSize: 64, optimizer: 'adam', learningRate: 0.001, momentum: 0.8, proximalMu: 0.01, maxExamples: 500, seed: 99, localEvalFraction: 0.2, clipNorm: 1.5, perLayerClipNorms: [0.5, 0.25] },
  selection: { mode: 'poisson', cohortSize: 20, overSelection: 0.25, samplingRate: 0.05, minClients: 5, minConnected: 30 },
  deadlines: { configureMs: 1000, trainingMs: 2000, stageMs: 3000 },
  serverOptimizer: { kind: 'fedadam', learningRate: 0.02, beta1: 0.85, beta2: 0.995, tau: 0.001 },
  aggregation: { rule: 'fltrust', params: { maxAbs: 10 }, rootDataset: { dataset: '/data/root', split: 'test', examples: 250 } },
  evaluation: { dataset: '/data/eval', split: 'train', maxExamples: 1000 },
  rounds: 42,
  privacy: { targetEpsilon: 8, targetDelta: 1e-5 },
  secagg: { enabled: true, neighbours: 8, threshold: 5, modulusBits: 24, clamp: 0.5, weightCap: 600, minBucketSize: 5, buckets: 3 },
  selectionSeed: 12345,
  maxConsecutiveAborts: 4,
  reputation: { enabled: false, learningRate: 0.5, quarantineZ: 2.5, minRounds: 7 },
});

describe('federation config <-> FederationSpec', () => {
  it('round-trips a config with every field set, through the wire encoding', () => {
    const { config, initialWeights } = federationConfigFromProto(overTheWire(federationConfigToProto(everyFieldSet)));
    expect(config).toEqual(everyFieldSet);
    expect(initialWeights).toBeNull();
  });

  it('round-trips the all-defaults config', () => {
    const defaults = parseFederationConfig({ name: 'd', model: { builtin: 'fmnist-mlp' } });
    expect(federationConfigFromProto(overTheWire(federationConfigToProto(defaults))).config).toEqual(defaults);
  });

  it('round-trips each DP mode with its settings', () => {
    const base = { name: 'p', model: { builtin: 'fmnist-mlp' }, plan: { clipNorm: 1 }, privacy: { targetEpsilon: 4, targetDelta: 1e-6 }, selection: { cohortSize: 10, minClients: 8 } };
    for (const extra of [
      { dp: { mode: 'central', noiseMultiplier: 1.2, adaptiveClipping: { targetQuantile: 0.6, learningRate: 0.3, countNoise: 2 } } },
      { dp: { mode: 'central', adaptiveClipping: { targetQuantile: 0.5, learningRate: 0.2 } } },
      { dp: { mode: 'distributed', noiseMultiplier: 0.9, wrapProbability: 1e-12 }, secagg: { enabled: true } },
      { dp: { mode: 'local' } },
    ] as const) {
      const config = parseFederationConfig({ ...base, ...extra });
      expect(federationConfigFromProto(overTheWire(federationConfigToProto(config))).config, extra.dp.mode).toEqual(config);
    }
  });

  it('round-trips each server optimizer with its options', () => {
    for (const serverOptimizer of [
      { kind: 'fedavg', learningRate: 0.5 },
      { kind: 'fedavgm', learningRate: 0.7, momentum: 0.5 },
      // An explicit 0 must survive the wire (proto3 optional), not come back as the 0.9 default.
      { kind: 'fedavgm', momentum: 0 },
      { kind: 'fedyogi', learningRate: 0.01, beta1: 0.9, beta2: 0.99, tau: 0.01 },
    ] as const) {
      const config = parseFederationConfig({ name: 'o', model: { builtin: 'fmnist-mlp' }, serverOptimizer });
      expect(federationConfigFromProto(overTheWire(federationConfigToProto(config))).config.serverOptimizer, serverOptimizer.kind).toEqual(serverOptimizer);
    }
  });

  it('carries inline initial weights as bytes', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const { initialWeights } = federationConfigFromProto(overTheWire(federationConfigToProto(everyFieldSet, bytes)));
    expect(initialWeights).toEqual(bytes);
  });

  it('reads zero values and UNSPECIFIED enums as "use the default"', () => {
    const spec = FederationSpec.fromPartial({
      name: 'zeros',
      model: { builtin: 'fmnist-mlp' },
      plan: {},
      selection: {},
      deadlines: {},
      serverOptimizer: {},
      aggregation: {},
      evaluation: {},
      privacy: {},
    });
    const { config } = federationConfigFromProto(overTheWire(spec));
    const defaults = parseFederationConfig({ name: 'zeros', model: { builtin: 'fmnist-mlp' } });
    // Momentum 0 is a valid momentum, so a zero there is taken as given (see the module comment).
    expect(config).toEqual({ ...defaults, plan: { ...defaults.plan, momentum: 0 } });
  });

  it('reads absent sections as defaults', () => {
    const { config } = federationConfigFromProto(FederationSpec.fromPartial({ name: 'bare', model: { builtin: 'fmnist-mlp' } }));
    expect(config).toEqual(parseFederationConfig({ name: 'bare', model: { builtin: 'fmnist-mlp' } }));
  });

  it('rejects unknown enum values, naming the field', () => {
    const base = federationConfigToProto(everyFieldSet);
    expect(configInvalid(() => federationConfigFromProto({ ...base, plan: { ...base.plan!, optimizer: 99 as ClientOptimizer } }))).toBe('plan.optimizer: unknown enum value 99');
    expect(configInvalid(() => federationConfigFromProto({ ...base, selection: { ...base.selection!, mode: 7 as SelectionMode } }))).toBe('selection.mode: unknown enum value 7');
    expect(configInvalid(() => federationConfigFromProto({ ...base, serverOptimizer: { ...base.serverOptimizer!, kind: -1 as ServerOptimizerKind } }))).toBe(
      'serverOptimizer.kind: unknown enum value -1',
    );
  });

  it('maps each known enum member both ways', () => {
    for (const [optimizer, proto] of [['sgd', ClientOptimizer.CLIENT_OPTIMIZER_SGD], ['momentum', ClientOptimizer.CLIENT_OPTIMIZER_MOMENTUM], ['adam', ClientOptimizer.CLIENT_OPTIMIZER_ADAM]] as const) {
      const config = parseFederationConfig({ name: 'e', model: { builtin: 'x' }, plan: { optimizer } });
      const spec = federationConfigToProto(config);
      expect(spec.plan!.optimizer).toBe(proto);
      expect(federationConfigFromProto(spec).config.plan.optimizer).toBe(optimizer);
    }
    expect(federationConfigToProto(everyFieldSet).selection!.mode).toBe(SelectionMode.SELECTION_MODE_POISSON);
    expect(federationConfigToProto(everyFieldSet).serverOptimizer!.kind).toBe(ServerOptimizerKind.SERVER_OPTIMIZER_KIND_FEDADAM);
  });

  it('validates what it reads as a JSON spec is validated, naming the field', () => {
    expect(configInvalid(() => federationConfigFromProto(undefined))).toBe('spec is missing');
    const base = federationConfigToProto(parseFederationConfig({ name: 'v', model: { builtin: 'fmnist-mlp' } }));
    expect(configInvalid(() => federationConfigFromProto({ ...base, name: 'not ok' }))).toMatch(/^federation spec: name: /);
    expect(configInvalid(() => federationConfigFromProto({ ...base, model: undefined }))).toMatch(/^federation spec: model: /);
    expect(configInvalid(() => federationConfigFromProto({ ...base, selection: { ...base.selection!, cohortSize: 3, minClients: 4 } }))).toBe(
      'federation spec: selection.minClients: must be <= selection.cohortSize (3)',
    );
    expect(configInvalid(() => federationConfigFromProto({ ...base, plan: { ...base.plan!, learningRate: -1 } }))).toMatch(/plan\.learningRate: /);
    expect(configInvalid(() => federationConfigFromProto({ ...base, privacy: { targetEpsilon: 4, targetDelta: 0 } }))).toMatch(/privacy\.targetDelta: /);
  });
});
