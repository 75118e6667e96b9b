import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../core/errors.js';
import { isCohortError } from '../core/errors.js';
import { createLayout } from '../core/tensor/layout.js';
import { ClientCapabilities, ClientOptimizer, DType, ModelLayout, TrainingPlan } from '../gen/fl/v1/common.pb.js';
import { ModelRef, UpdateKind as ProtoUpdateKind } from '../gen/fl/v1/client.pb.js';
import {
  capabilitiesFromProto,
  capabilitiesToProto,
  layoutFromProto,
  layoutToProto,
  metricsFromProto,
  metricsToProto,
  modelRefFromProto,
  modelRefToProto,
  planFromProto,
  planToProto,
  requireSha256Hex,
  updateKindFromProto,
  updateKindToProto,
} from './mapping.js';
import type { AgentCapabilities, ClientTrainingPlan, ModelReference } from './types.js';

function expectRefused(fn: () => unknown, message: string | RegExp, code: ErrorCode = 'INVALID_ARGUMENT'): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(isCohortError(caught, code), `expected CohortError ${code}, got ${String(caught)}`).toBe(true);
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

const SHA = 'ab'.repeat(32);

const plan: ClientTrainingPlan = {
  epochs: 2,
  batchSize: 16,
  optimizer: 'momentum',
  learningRate: 0.05,
  momentum: 0.9,
  proximalMu: 0.01,
  maxExamples: 300,
  seed: 1234,
  localEvalFraction: 0.1,
  clipNorm: 2.5,
  perLayerClipNorms: [0.5, 1.25],
  secagg: null,
  noise: null,
};

const caps: AgentCapabilities = {
  backend: 'wasm',
  platform: 'linux-x64',
  agentVersion: '0.1.0',
  numExamples: 600,
  inputShape: [28, 28, 1],
  numClasses: 10,
  features: ['plaintext', 'secagg-plus'],
  tasks: ['fashion-mnist'],
};

/** Through the wire bytes, as the peer receives it. */
const wire = {
  plan: (p: TrainingPlan) => TrainingPlan.decode(TrainingPlan.encode(p).finish()),
  layout: (l: ModelLayout) => ModelLayout.decode(ModelLayout.encode(l).finish()),
  ref: (r: ModelRef) => ModelRef.decode(ModelRef.encode(r).finish()),
  caps: (c: ClientCapabilities) => ClientCapabilities.decode(ClientCapabilities.encode(c).finish()),
};

describe('requireSha256Hex', () => {
  it('accepts 64 lowercase hex characters and names the field otherwise', () => {
    expect(requireSha256Hex(SHA, 'x')).toBe(SHA);
    expectRefused(() => requireSha256Hex(SHA.toUpperCase(), 'header.sha256'), /^header\.sha256 must be a lowercase hex SHA-256 \(64 characters\)/);
    expectRefused(() => requireSha256Hex(SHA.slice(1), 'model.sha256'), /^model\.sha256 /);
    expectRefused(() => requireSha256Hex(`${SHA}0`, 'model.sha256'), /^model\.sha256 /);
    expectRefused(() => requireSha256Hex('g'.repeat(64), 'model.sha256'), /^model\.sha256 /);
  });
});

describe('layout mapping', () => {
  const layout = createLayout([
    { name: 'conv/kernel', shape: [3, 3, 1, 8] },
    { name: 'conv/bias', shape: [8] },
  ]);

  it('round-trips through the wire', () => {
    const proto = wire.layout(layoutToProto(layout));
    expect(proto.tensors.every((t) => t.dtype === DType.DTYPE_FLOAT32)).toBe(true);
    expect(layoutFromProto(proto)).toEqual(layout);
  });

  it('accepts total_elements 0 as "not given"', () => {
    expect(layoutFromProto({ ...layoutToProto(layout), totalElements: 0 })).toEqual(layout);
  });

  it('refuses a missing or empty layout, naming the field', () => {
    expectRefused(() => layoutFromProto(undefined), 'layout is missing');
    expectRefused(() => layoutFromProto({ tensors: [], totalElements: 0 }, 'header.layout'), 'header.layout is missing');
  });

  it('refuses a total that does not match the tensors', () => {
    expectRefused(() => layoutFromProto({ ...layoutToProto(layout), totalElements: 81 }), 'layout.total_elements is 81 but the tensors add up to 80');
  });

  it('refuses bad tensors: zero dimension, duplicate or empty name', () => {
    const t = (name: string, shape: number[]) => ({ name, shape, dtype: DType.DTYPE_FLOAT32 });
    expectRefused(() => layoutFromProto({ tensors: [t('a', [3, 0])], totalElements: 0 }), /tensor "a" has invalid dimension 0/);
    expectRefused(() => layoutFromProto({ tensors: [t('a', [2]), t('a', [2])], totalElements: 0 }), /tensor name "a" appears twice/);
    expectRefused(() => layoutFromProto({ tensors: [t('', [2])], totalElements: 0 }), /tensor name is empty/);
  });
});

describe('training plan mapping', () => {
  it('round-trips through the wire', () => {
    expect(planFromProto(wire.plan(planToProto(plan)))).toEqual(plan);
    for (const optimizer of ['sgd', 'adam'] as const) expect(planFromProto(planToProto({ ...plan, optimizer })).optimizer).toBe(optimizer);
  });

  it('reads absent clipping as no clipping', () => {
    expect(planFromProto({ ...planToProto(plan), clipping: undefined }).clipNorm).toBe(0);
  });

  it('refuses a missing plan and unsupported optimizers', () => {
    expectRefused(() => planFromProto(undefined), 'plan is missing');
    expectRefused(() => planFromProto({ ...planToProto(plan), optimizer: ClientOptimizer.CLIENT_OPTIMIZER_UNSPECIFIED }), 'plan.optimizer 0 is not supported');
    expectRefused(() => planFromProto({ ...planToProto(plan), optimizer: 42 as ClientOptimizer }), 'plan.optimizer 42 is not supported');
  });

  it.each([
    ['epochs', 'epochs', 0, 'plan.epochs must be > 0, got 0'],
    ['batchSize', 'batch_size', 0, 'plan.batch_size must be > 0, got 0'],
    ['learningRate', 'learning_rate', 0, 'plan.learning_rate must be > 0, got 0'],
    ['learningRate', 'learning_rate', Number.NaN, 'plan.learning_rate must be > 0, got NaN'],
    ['learningRate', 'learning_rate', Number.POSITIVE_INFINITY, 'plan.learning_rate must be > 0, got Infinity'],
    ['momentum', 'momentum', -0.5, 'plan.momentum must be in [0, 1), got -0.5'],
    ['momentum', 'momentum', 1, 'plan.momentum must be in [0, 1), got 1'],
    ['proximalMu', 'proximal_mu', -1, 'plan.proximal_mu must be >= 0, got -1'],
    ['proximalMu', 'proximal_mu', Number.NaN, 'plan.proximal_mu must be >= 0, got NaN'],
    ['maxExamples', 'max_examples', -1, 'plan.max_examples must be >= 0, got -1'],
    ['seed', 'seed', -1, 'plan.seed must be >= 0, got -1'],
    ['localEvalFraction', 'local_eval_fraction', -0.1, 'plan.local_eval_fraction must be in [0, 1), got -0.1'],
    ['localEvalFraction', 'local_eval_fraction', 1, 'plan.local_eval_fraction must be in [0, 1), got 1'],
  ] as const)('refuses %s (plan.%s) = %s, naming the field', (field, _wireName, value, message) => {
    expectRefused(() => planFromProto({ ...planToProto(plan), [field]: value }), message);
  });

  it('refuses a negative or non-finite clip norm, naming plan.clipping.clip_norm', () => {
    for (const clipNorm of [-1, Number.NaN]) {
      expectRefused(() => planFromProto({ ...planToProto(plan), clipping: { clipNorm, adaptive: false, targetQuantile: 0, perLayerClipNorms: [], adaptiveLearningRate: 0, countNoise: 0 } }), `plan.clipping.clip_norm must be >= 0, got ${clipNorm}`);
    }
  });

  it('carries per-layer clip norms and refuses a non-positive one, naming its index', () => {
    expect(planFromProto(planToProto(plan)).perLayerClipNorms).toEqual([0.5, 1.25]);
    expectRefused(() => planFromProto({ ...planToProto(plan), clipping: { clipNorm: 1, adaptive: false, targetQuantile: 0, perLayerClipNorms: [0.5, 0], adaptiveLearningRate: 0, countNoise: 0 } }), 'plan.clipping.per_layer_clip_norms[1] must be > 0, got 0');
  });
});

describe('model reference mapping', () => {
  const ref: ModelReference = { federationId: 'f1', version: 3, sha256: SHA, sizeBytes: 40, signature: new Uint8Array(64).fill(9) };

  it('round-trips through the wire', () => {
    expect(modelRefFromProto(wire.ref(modelRefToProto(ref)))).toEqual(ref);
  });

  it('refuses a missing reference and a malformed hash, naming the field', () => {
    expectRefused(() => modelRefFromProto(undefined), 'model is missing');
    expectRefused(() => modelRefFromProto(undefined, 'end.model'), 'end.model is missing');
    expectRefused(() => modelRefFromProto({ ...modelRefToProto(ref), sha256: 'abc' }, 'header.model'), /^header\.model\.sha256 must be a lowercase hex SHA-256/);
  });
});

describe('update kind mapping', () => {
  it('maps both kinds both ways and refuses UNSPECIFIED and unknown values', () => {
    for (const kind of ['delta-float32', 'masked-uint32'] as const) expect(updateKindFromProto(updateKindToProto(kind))).toBe(kind);
    expectRefused(() => updateKindFromProto(ProtoUpdateKind.UPDATE_KIND_UNSPECIFIED), 'update kind 0 is not one of UPDATE_KIND_DELTA_FLOAT32, UPDATE_KIND_MASKED_UINT32');
    expectRefused(() => updateKindFromProto(9 as ProtoUpdateKind), /^update kind 9 is not one of/);
  });
});

describe('capabilities mapping', () => {
  it('round-trips through the wire', () => {
    expect(capabilitiesFromProto(wire.caps(capabilitiesToProto(caps)))).toEqual(caps);
  });

  it('reads absent capabilities as empty ones', () => {
    expect(capabilitiesFromProto(undefined)).toEqual({ backend: '', platform: '', agentVersion: '', numExamples: 0, inputShape: [], numClasses: 0, features: [], tasks: [] });
  });

  it('does not share arrays with the message it read', () => {
    const proto = capabilitiesToProto(caps);
    const mapped = capabilitiesFromProto(proto);
    proto.inputShape.push(5);
    proto.tasks.push('other');
    expect(mapped.inputShape).toEqual([28, 28, 1]);
    expect(mapped.tasks).toEqual(['fashion-mnist']);
  });

  it('bounds string lengths, naming the field', () => {
    const long = 'x'.repeat(129);
    expect(capabilitiesFromProto({ ...capabilitiesToProto(caps), backend: 'x'.repeat(128) }).backend).toHaveLength(128);
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), backend: long }), 'capabilities.backend is longer than 128 characters');
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), platform: long }), 'capabilities.platform is longer than 128 characters');
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), agentVersion: long }), 'capabilities.agent_version is longer than 128 characters');
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), tasks: ['ok', long] }), 'capabilities.tasks is longer than 128 characters');
  });

  it('bounds list sizes, naming the field', () => {
    const many = Array.from({ length: 33 }, (_, i) => `f${i}`);
    expect(capabilitiesFromProto({ ...capabilitiesToProto(caps), features: many.slice(0, 32) }).features).toHaveLength(32);
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), features: many }), 'capabilities.features has more than 32 entries');
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), tasks: many }), 'capabilities.tasks has more than 32 entries');
  });

  it('refuses an input shape that is not at most 8 positive dimensions', () => {
    expect(capabilitiesFromProto({ ...capabilitiesToProto(caps), inputShape: [1, 1, 1, 1, 1, 1, 1, 1] }).inputShape).toHaveLength(8);
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), inputShape: [1, 1, 1, 1, 1, 1, 1, 1, 1] }), /^capabilities\.input_shape \[1,1,1,1,1,1,1,1,1\] is not a shape/);
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), inputShape: [28, 0] }), /^capabilities\.input_shape \[28,0\]/);
    expectRefused(() => capabilitiesFromProto({ ...capabilitiesToProto(caps), inputShape: [2.5] }), /^capabilities\.input_shape \[2\.5\]/);
  });
});

describe('metrics mapping', () => {
  it('copies values both ways and reads absent metrics as none', () => {
    const values = { loss: 0.25, accuracy: 0.9 };
    const proto = metricsToProto(values);
    expect(proto).toEqual({ values });
    expect(proto.values).not.toBe(values);
    expect(metricsFromProto(proto)).toEqual(values);
    expect(metricsFromProto(undefined)).toEqual({});
  });
});
