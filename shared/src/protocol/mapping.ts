/**
 * fl.v1 <-> domain mappings used by both the coordinator and the client agent. Generated types stop here: nothing
 * past the adapters sees a protobuf message. Every "from proto" mapping validates what it reads and throws
 * CohortError('INVALID_ARGUMENT') naming the field, because the peer on the other end may be anyone.
 */
import { CohortError } from '../core/errors.js';
import { createLayout } from '../core/tensor/layout.js';
import type { ModelLayout } from '../core/tensor/layout.js';
import { ClientOptimizer, DType, NoiseMode } from '../gen/fl/v1/common.pb.js';
import type { ClientCapabilities, ModelLayout as ProtoLayout, TrainingPlan } from '../gen/fl/v1/common.pb.js';
import { UpdateKind as ProtoUpdateKind } from '../gen/fl/v1/client.pb.js';
import type { ModelRef } from '../gen/fl/v1/client.pb.js';
import type { AgentCapabilities, ClientNoisePlan, ClientTrainingPlan, ModelReference, SecAggTaskPlan, UpdateKind } from './types.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Throws INVALID_ARGUMENT unless `value` is a lowercase hex SHA-256. */
export function requireSha256Hex(value: string, field: string): string {
  if (!SHA256_HEX.test(value)) throw new CohortError('INVALID_ARGUMENT', `${field} must be a lowercase hex SHA-256 (64 characters), got "${value.slice(0, 80)}"`);
  return value;
}

export function layoutToProto(layout: ModelLayout): ProtoLayout {
  return {
    tensors: layout.tensors.map((t) => ({ name: t.name, shape: [...t.shape], dtype: DType.DTYPE_FLOAT32 })),
    totalElements: layout.totalElements,
  };
}

/** Largest model a peer may describe: 2^28 float32 parameters (1 GiB). */
export const MAX_MODEL_ELEMENTS = 2 ** 28;

export function layoutFromProto(proto: ProtoLayout | undefined, field = 'layout'): ModelLayout {
  if (proto === undefined || proto.tensors.length === 0) throw new CohortError('INVALID_ARGUMENT', `${field} is missing`);
  const wrongType = proto.tensors.find((t) => t.dtype !== DType.DTYPE_FLOAT32 && t.dtype !== DType.DTYPE_UNSPECIFIED);
  if (wrongType !== undefined) throw new CohortError('INVALID_ARGUMENT', `${field}: tensor "${wrongType.name}" has dtype ${wrongType.dtype}; model weights are float32`);
  const layout = createLayout(proto.tensors.map((t) => ({ name: t.name, shape: t.shape })));
  if (layout.totalElements > MAX_MODEL_ELEMENTS) {
    throw new CohortError('INVALID_ARGUMENT', `${field}: ${layout.totalElements} parameters exceed the limit of ${MAX_MODEL_ELEMENTS}`);
  }
  if (proto.totalElements !== 0 && proto.totalElements !== layout.totalElements) {
    throw new CohortError('INVALID_ARGUMENT', `${field}.total_elements is ${proto.totalElements} but the tensors add up to ${layout.totalElements}`);
  }
  return layout;
}

const OPTIMIZER_TO_PROTO: Record<ClientTrainingPlan['optimizer'], ClientOptimizer> = {
  sgd: ClientOptimizer.CLIENT_OPTIMIZER_SGD,
  momentum: ClientOptimizer.CLIENT_OPTIMIZER_MOMENTUM,
  adam: ClientOptimizer.CLIENT_OPTIMIZER_ADAM,
};

export function planToProto(plan: ClientTrainingPlan): TrainingPlan {
  return {
    epochs: plan.epochs,
    batchSize: plan.batchSize,
    optimizer: OPTIMIZER_TO_PROTO[plan.optimizer],
    learningRate: plan.learningRate,
    momentum: plan.momentum,
    proximalMu: plan.proximalMu,
    maxExamples: plan.maxExamples,
    seed: plan.seed,
    localEvalFraction: plan.localEvalFraction,
    clipping: { clipNorm: plan.clipNorm, adaptive: false, targetQuantile: 0, perLayerClipNorms: [...plan.perLayerClipNorms], adaptiveLearningRate: 0, countNoise: 0 },
    noise: noisePlanToProto(plan.noise),
    secagg:
      plan.secagg === null
        ? undefined
        : {
            enabled: true,
            neighbours: 0,
            threshold: 0,
            quantization: { modulusBits: plan.secagg.modulusBits, scale: 0, clamp: plan.secagg.clamp, maxInputs: plan.secagg.maxInputs, weightCap: plan.secagg.weightCap },
            minBucketSize: 0,
            permutationCommitment: '',
            buckets: plan.secagg.buckets,
            bucketed: plan.secagg.buckets > 1,
          },
  };
}

export function planFromProto(proto: TrainingPlan | undefined): ClientTrainingPlan {
  if (proto === undefined) throw new CohortError('INVALID_ARGUMENT', 'plan is missing');
  const optimizer = (Object.entries(OPTIMIZER_TO_PROTO) as [ClientTrainingPlan['optimizer'], ClientOptimizer][]).find(([, v]) => v === proto.optimizer)?.[0];
  if (optimizer === undefined) throw new CohortError('INVALID_ARGUMENT', `plan.optimizer ${proto.optimizer} is not supported`);
  const positive = (value: number, field: string): number => {
    if (!(Number.isFinite(value) && value > 0)) throw new CohortError('INVALID_ARGUMENT', `plan.${field} must be > 0, got ${value}`);
    return value;
  };
  const nonNegative = (value: number, field: string): number => {
    if (!(Number.isFinite(value) && value >= 0)) throw new CohortError('INVALID_ARGUMENT', `plan.${field} must be >= 0, got ${value}`);
    return value;
  };
  const belowOne = (value: number, field: string): number => {
    if (!(Number.isFinite(value) && value >= 0 && value < 1)) throw new CohortError('INVALID_ARGUMENT', `plan.${field} must be in [0, 1), got ${value}`);
    return value;
  };
  return {
    epochs: positive(proto.epochs, 'epochs'),
    batchSize: positive(proto.batchSize, 'batch_size'),
    optimizer,
    learningRate: positive(proto.learningRate, 'learning_rate'),
    momentum: belowOne(proto.momentum, 'momentum'),
    proximalMu: nonNegative(proto.proximalMu, 'proximal_mu'),
    maxExamples: nonNegative(proto.maxExamples, 'max_examples'),
    seed: nonNegative(proto.seed, 'seed'),
    localEvalFraction: belowOne(proto.localEvalFraction, 'local_eval_fraction'),
    clipNorm: nonNegative(proto.clipping?.clipNorm ?? 0, 'clipping.clip_norm'),
    perLayerClipNorms: perLayerNormsFromProto(proto.clipping?.perLayerClipNorms ?? []),
    secagg: secAggPlanFromProto(proto.secagg),
    noise: noisePlanFromProto(proto.noise, proto.secagg?.enabled === true),
  };
}

function noisePlanToProto(plan: ClientNoisePlan | null): TrainingPlan['noise'] {
  if (plan === null) return undefined;
  const base = { noiseMultiplier: 0, mechanism: '', perClientScale: 0, expectedCohortSize: 0, quantizationScale: 0, l2Bound: 0, perClientVariance: 0, wrapProbability: 0 };
  if (plan.mode === 'local') return { ...base, mode: NoiseMode.NOISE_MODE_LOCAL, noiseMultiplier: plan.noiseMultiplier };
  return { ...base, mode: NoiseMode.NOISE_MODE_DISTRIBUTED, mechanism: 'skellam', quantizationScale: plan.scale, l2Bound: plan.l2Bound, perClientVariance: plan.perClientVariance };
}

/** The noise a client must add; none for central DP (the coordinator adds it) or no DP. */
function noisePlanFromProto(proto: TrainingPlan['noise'], secure: boolean): ClientNoisePlan | null {
  if (proto === undefined || proto.mode === NoiseMode.NOISE_MODE_UNSPECIFIED || proto.mode === NoiseMode.NOISE_MODE_NONE || proto.mode === NoiseMode.NOISE_MODE_CENTRAL) return null;
  const positive = (value: number, field: string): number => {
    if (!(Number.isFinite(value) && value > 0)) throw new CohortError('INVALID_ARGUMENT', `plan.noise.${field} must be > 0, got ${value}`);
    return value;
  };
  if (proto.mode === NoiseMode.NOISE_MODE_LOCAL) return { mode: 'local', noiseMultiplier: positive(proto.noiseMultiplier, 'noise_multiplier') };
  if (proto.mode !== NoiseMode.NOISE_MODE_DISTRIBUTED) throw new CohortError('INVALID_ARGUMENT', `plan.noise.mode ${proto.mode} is not supported`);
  if (proto.mechanism !== 'skellam') throw new CohortError('INVALID_ARGUMENT', `plan.noise.mechanism "${proto.mechanism.slice(0, 40)}" is not supported (skellam)`);
  if (!secure) throw new CohortError('INVALID_ARGUMENT', 'plan.noise: distributed noise needs plan.secagg (the secure sum carries it)');
  const scale = positive(proto.quantizationScale, 'quantization_scale');
  const l2Bound = positive(proto.l2Bound, 'l2_bound');
  // The Poisson sampler is exact up to a mean of 2^40 (the variance is split between two Poissons).
  if (l2Bound >= 2 ** 31) throw new CohortError('INVALID_ARGUMENT', `plan.noise.l2_bound must be < 2^31, got ${l2Bound}`);
  const perClientVariance = positive(proto.perClientVariance, 'per_client_variance');
  if (perClientVariance > 2 ** 41) throw new CohortError('INVALID_ARGUMENT', `plan.noise.per_client_variance must be <= 2^41, got ${perClientVariance}`);
  return { mode: 'distributed', scale, l2Bound, perClientVariance };
}

function perLayerNormsFromProto(norms: readonly number[]): number[] {
  if (norms.length > 4096) throw new CohortError('INVALID_ARGUMENT', `plan.clipping.per_layer_clip_norms has ${norms.length} entries, more than 4096`);
  norms.forEach((n, i) => {
    if (!(Number.isFinite(n) && n > 0)) throw new CohortError('INVALID_ARGUMENT', `plan.clipping.per_layer_clip_norms[${i}] must be > 0, got ${n}`);
  });
  return [...norms];
}

function secAggPlanFromProto(proto: TrainingPlan['secagg']): SecAggTaskPlan | null {
  if (proto === undefined || !proto.enabled) return null;
  const q = proto.quantization;
  if (q === undefined) throw new CohortError('INVALID_ARGUMENT', 'plan.secagg.quantization is missing');
  const integer = (value: number, field: string, min: number, max: number): number => {
    if (!Number.isInteger(value) || value < min || value > max) throw new CohortError('INVALID_ARGUMENT', `plan.secagg.${field} must be an integer in [${min}, ${max}], got ${value}`);
    return value;
  };
  if (!(Number.isFinite(q.clamp) && q.clamp > 0)) throw new CohortError('INVALID_ARGUMENT', `plan.secagg.quantization.clamp must be > 0, got ${q.clamp}`);
  return {
    modulusBits: integer(q.modulusBits, 'quantization.modulus_bits', 8, 32),
    clamp: q.clamp,
    maxInputs: integer(q.maxInputs, 'quantization.max_inputs', 1, 2 ** 20),
    weightCap: integer(q.weightCap, 'quantization.weight_cap', 1, 2 ** 31),
    buckets: integer(proto.buckets === 0 ? 1 : proto.buckets, 'buckets', 1, 2 ** 20),
  };
}

export function modelRefToProto(ref: ModelReference): ModelRef {
  return { federationId: ref.federationId, version: ref.version, sha256: ref.sha256, sizeBytes: ref.sizeBytes, signature: Buffer.from(ref.signature) };
}

export function modelRefFromProto(proto: ModelRef | undefined, field = 'model'): ModelReference {
  if (proto === undefined) throw new CohortError('INVALID_ARGUMENT', `${field} is missing`);
  return {
    federationId: proto.federationId,
    version: proto.version,
    sha256: requireSha256Hex(proto.sha256, `${field}.sha256`),
    sizeBytes: proto.sizeBytes,
    signature: new Uint8Array(proto.signature),
  };
}

export function updateKindToProto(kind: UpdateKind): ProtoUpdateKind {
  return kind === 'delta-float32' ? ProtoUpdateKind.UPDATE_KIND_DELTA_FLOAT32 : ProtoUpdateKind.UPDATE_KIND_MASKED_UINT32;
}

export function updateKindFromProto(kind: ProtoUpdateKind): UpdateKind {
  if (kind === ProtoUpdateKind.UPDATE_KIND_DELTA_FLOAT32) return 'delta-float32';
  if (kind === ProtoUpdateKind.UPDATE_KIND_MASKED_UINT32) return 'masked-uint32';
  throw new CohortError('INVALID_ARGUMENT', `update kind ${kind} is not one of UPDATE_KIND_DELTA_FLOAT32, UPDATE_KIND_MASKED_UINT32`);
}

export function capabilitiesToProto(c: AgentCapabilities): ClientCapabilities {
  return { ...c, inputShape: [...c.inputShape], features: [...c.features], tasks: [...c.tasks] };
}

/** Capabilities are client-controlled: bound their sizes so a peer cannot bloat the store. */
export function capabilitiesFromProto(proto: ClientCapabilities | undefined): AgentCapabilities {
  const c = proto ?? { backend: '', platform: '', agentVersion: '', numExamples: 0, inputShape: [], numClasses: 0, features: [], tasks: [] };
  const short = (value: string, field: string): string => {
    if (value.length > 128) throw new CohortError('INVALID_ARGUMENT', `capabilities.${field} is longer than 128 characters`);
    return value;
  };
  const list = (values: string[], field: string): string[] => {
    if (values.length > 32) throw new CohortError('INVALID_ARGUMENT', `capabilities.${field} has more than 32 entries`);
    return values.map((v) => short(v, field));
  };
  if (c.inputShape.length > 8 || c.inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new CohortError('INVALID_ARGUMENT', `capabilities.input_shape [${c.inputShape.join(',')}] is not a shape of at most 8 positive dimensions`);
  }
  return {
    backend: short(c.backend, 'backend'),
    platform: short(c.platform, 'platform'),
    agentVersion: short(c.agentVersion, 'agent_version'),
    numExamples: c.numExamples,
    inputShape: [...c.inputShape],
    numClasses: c.numClasses,
    features: list(c.features, 'features'),
    tasks: list(c.tasks, 'tasks'),
  };
}

/** Domain metrics <-> fl.v1.Metrics. */
export function metricsToProto(values: Record<string, number>): { values: Record<string, number> } {
  return { values: { ...values } };
}

export function metricsFromProto(proto: { values: Record<string, number> } | undefined): Record<string, number> {
  return { ...(proto?.values ?? {}) };
}
