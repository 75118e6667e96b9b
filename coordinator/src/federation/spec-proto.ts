/**
 * FederationConfig <-> fl.v1.FederationSpec. Proto3 cannot tell "unset" from zero, so zero values (and the
 * UNSPECIFIED enum members) mean "use the default" for every field where zero would be invalid anyway (the server
 * optimizer's fields, where 0 can be meant, are proto3 `optional` and keep an explicit 0); the result
 * goes through parseFederationConfig, the same validation a JSON or YAML spec gets.
 */
import { CohortError } from '../../../shared/src/core/errors.js';
import { ClientOptimizer, NoiseMode } from '../../../shared/src/gen/fl/v1/common.pb.js';
import { SelectionMode, ServerOptimizerKind } from '../../../shared/src/gen/fl/v1/operator.pb.js';
import type { FederationSpec } from '../../../shared/src/gen/fl/v1/operator.pb.js';
import { parseFederationConfig } from './config.js';
import type { FederationConfig } from './config.js';

const OPTIMIZERS = { sgd: ClientOptimizer.CLIENT_OPTIMIZER_SGD, momentum: ClientOptimizer.CLIENT_OPTIMIZER_MOMENTUM, adam: ClientOptimizer.CLIENT_OPTIMIZER_ADAM } as const;
const MODES = { fixed: SelectionMode.SELECTION_MODE_FIXED, poisson: SelectionMode.SELECTION_MODE_POISSON } as const;
const SERVER_OPTIMIZERS = {
  fedavg: ServerOptimizerKind.SERVER_OPTIMIZER_KIND_FEDAVG,
  fedavgm: ServerOptimizerKind.SERVER_OPTIMIZER_KIND_FEDAVGM,
  fedadam: ServerOptimizerKind.SERVER_OPTIMIZER_KIND_FEDADAM,
  fedyogi: ServerOptimizerKind.SERVER_OPTIMIZER_KIND_FEDYOGI,
} as const;

function keyOf<T extends Record<string, number>>(table: T, value: number, field: string): keyof T | undefined {
  if (value === 0) return undefined;
  const key = (Object.keys(table) as (keyof T)[]).find((k) => table[k] === value);
  if (key === undefined) throw new CohortError('CONFIG_INVALID', `${field}: unknown enum value ${value}`);
  return key;
}

/** Drops undefined values so zod defaults apply. */
function defined<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const nz = (value: number): number | undefined => (value === 0 ? undefined : value);

const NOISE_MODES = {
  off: NoiseMode.NOISE_MODE_NONE,
  central: NoiseMode.NOISE_MODE_CENTRAL,
  distributed: NoiseMode.NOISE_MODE_DISTRIBUTED,
  local: NoiseMode.NOISE_MODE_LOCAL,
} as const;

function noiseModeOf(mode: NoiseMode, mechanism: string): keyof typeof NOISE_MODES {
  if (mechanism !== '' && mechanism !== 'skellam') throw new CohortError('CONFIG_INVALID', `plan.noise.mechanism "${mechanism.slice(0, 40)}" is not supported (skellam)`);
  const found = (Object.entries(NOISE_MODES) as [keyof typeof NOISE_MODES, NoiseMode][]).find(([, v]) => v === mode);
  if (found === undefined) throw new CohortError('CONFIG_INVALID', `plan.noise.mode ${NoiseMode[mode] ?? mode} is not supported (none, central, distributed or local)`);
  return found[0];
}

/** Operator-API spec -> validated config (+ initial weights carried inline, if any). */
export function federationConfigFromProto(spec: FederationSpec | undefined): { config: FederationConfig; initialWeights: Uint8Array | null } {
  if (spec === undefined) throw new CohortError('CONFIG_INVALID', 'spec is missing');
  const model = spec.model;
  const plan = spec.plan;
  const selection = spec.selection;
  const deadlines = spec.deadlines;
  const server = spec.serverOptimizer;
  const input = defined({
    name: spec.name,
    task: spec.task,
    model: model === undefined
      ? undefined
      : defined({
          builtin: model.builtin || undefined,
          topologyJson: model.topologyJson || undefined,
          initialWeightsPath: model.initialWeightsPath || undefined,
          initSeed: model.initSeed,
        }),
    plan: plan === undefined
      ? undefined
      : defined({
          epochs: nz(plan.epochs),
          batchSize: nz(plan.batchSize),
          optimizer: keyOf(OPTIMIZERS, plan.optimizer, 'plan.optimizer'),
          learningRate: nz(plan.learningRate),
          momentum: plan.momentum,
          proximalMu: plan.proximalMu,
          maxExamples: plan.maxExamples,
          seed: plan.seed,
          localEvalFraction: plan.localEvalFraction,
          clipNorm: plan.clipping?.clipNorm ?? 0,
          perLayerClipNorms: plan.clipping?.perLayerClipNorms ?? [],
        }),
    selection: selection === undefined
      ? undefined
      : defined({
          mode: keyOf(MODES, selection.mode, 'selection.mode'),
          cohortSize: nz(selection.cohortSize),
          overSelection: selection.overSelection,
          samplingRate: nz(selection.samplingRate),
          minClients: nz(selection.minClients),
          minConnected: selection.minConnected,
        }),
    deadlines: deadlines === undefined ? undefined : defined({ configureMs: nz(deadlines.configureMs), trainingMs: nz(deadlines.trainingMs), stageMs: nz(deadlines.stageMs) }),
    serverOptimizer: server === undefined
      ? undefined
      : defined({
          kind: keyOf(SERVER_OPTIMIZERS, server.kind, 'serverOptimizer.kind'),
          learningRate: server.learningRate,
          momentum: server.momentum,
          beta1: server.beta1,
          beta2: server.beta2,
          tau: server.tau,
        }),
    aggregation:
      spec.aggregation === undefined
        ? undefined
        : defined({
            rule: spec.aggregation.rule || undefined,
            params: spec.aggregation.params,
            rootDataset:
              spec.aggregation.rootDataset === undefined
                ? undefined
                : defined({ dataset: spec.aggregation.rootDataset.dataset, split: spec.aggregation.rootDataset.split || undefined, examples: nz(spec.aggregation.rootDataset.examples) }),
          }),
    evaluation: spec.evaluation === undefined || spec.evaluation.dataset === ''
      ? undefined
      : defined({ dataset: spec.evaluation.dataset, split: spec.evaluation.split || undefined, maxExamples: spec.evaluation.maxExamples }),
    rounds: nz(spec.rounds),
    privacy: spec.privacy === undefined || spec.privacy.targetEpsilon === 0 ? undefined : { targetEpsilon: spec.privacy.targetEpsilon, targetDelta: spec.privacy.targetDelta },
    dp: plan?.noise === undefined || plan.noise.mode === NoiseMode.NOISE_MODE_UNSPECIFIED
      ? undefined
      : defined({
          mode: noiseModeOf(plan.noise.mode, plan.noise.mechanism),
          noiseMultiplier: nz(plan.noise.noiseMultiplier),
          wrapProbability: nz(plan.noise.wrapProbability),
          adaptiveClipping: plan.clipping?.adaptive === true
            ? defined({ targetQuantile: nz(plan.clipping.targetQuantile), learningRate: nz(plan.clipping.adaptiveLearningRate), countNoise: nz(plan.clipping.countNoise) })
            : undefined,
        }),
    secagg: plan?.secagg === undefined
      ? undefined
      : defined({
          enabled: plan.secagg.enabled,
          neighbours: nz(plan.secagg.neighbours),
          threshold: nz(plan.secagg.threshold),
          modulusBits: nz(plan.secagg.quantization?.modulusBits ?? 0),
          clamp: nz(plan.secagg.quantization?.clamp ?? 0),
          weightCap: nz(plan.secagg.quantization?.weightCap ?? 0),
          bucketed: plan.secagg.bucketed,
          minBucketSize: nz(plan.secagg.minBucketSize),
          buckets: nz(plan.secagg.buckets),
        }),
    reputation: spec.reputation === undefined
      ? undefined
      : defined({
          enabled: !spec.reputation.disabled,
          learningRate: nz(spec.reputation.learningRate),
          quarantineZ: nz(spec.reputation.quarantineZ),
          minRounds: nz(spec.reputation.minRounds),
        }),
    selectionSeed: spec.selectionSeed,
    maxConsecutiveAborts: nz(spec.maxConsecutiveAborts),
  });
  const initialWeights = model !== undefined && model.initialWeights.length > 0 ? new Uint8Array(model.initialWeights) : null;
  return { config: parseFederationConfig(input), initialWeights };
}

/** Validated config -> operator-API spec. */
export function federationConfigToProto(config: FederationConfig, initialWeights: Uint8Array | null = null): FederationSpec {
  return {
    name: config.name,
    task: config.task,
    model: {
      builtin: config.model.builtin ?? '',
      topologyJson: config.model.topologyJson ?? '',
      initialWeights: Buffer.from(initialWeights ?? new Uint8Array(0)),
      initSeed: config.model.initSeed,
      initialWeightsPath: config.model.initialWeightsPath ?? '',
    },
    plan: {
      epochs: config.plan.epochs,
      batchSize: config.plan.batchSize,
      optimizer: OPTIMIZERS[config.plan.optimizer],
      learningRate: config.plan.learningRate,
      momentum: config.plan.momentum,
      proximalMu: config.plan.proximalMu,
      maxExamples: config.plan.maxExamples,
      seed: config.plan.seed,
      localEvalFraction: config.plan.localEvalFraction,
      clipping: {
        clipNorm: config.plan.clipNorm,
        adaptive: config.dp.adaptiveClipping !== null,
        targetQuantile: config.dp.adaptiveClipping?.targetQuantile ?? 0,
        perLayerClipNorms: [...config.plan.perLayerClipNorms],
        adaptiveLearningRate: config.dp.adaptiveClipping?.learningRate ?? 0,
        countNoise: config.dp.adaptiveClipping?.countNoise ?? 0,
      },
      noise: {
        mode: NOISE_MODES[config.dp.mode],
        noiseMultiplier: config.dp.noiseMultiplier ?? 0,
        mechanism: config.dp.mode === 'distributed' ? 'skellam' : '',
        perClientScale: 0,
        expectedCohortSize: 0,
        quantizationScale: 0,
        l2Bound: 0,
        perClientVariance: 0,
        wrapProbability: config.dp.wrapProbability,
      },
      secagg: {
        enabled: config.secagg.enabled,
        neighbours: config.secagg.neighbours ?? 0,
        threshold: config.secagg.threshold ?? 0,
        quantization: { modulusBits: config.secagg.modulusBits, scale: 0, clamp: config.secagg.clamp ?? 0, maxInputs: 0, weightCap: config.secagg.weightCap ?? 0 },
        minBucketSize: config.secagg.minBucketSize,
        permutationCommitment: '',
        buckets: config.secagg.buckets ?? 0,
        bucketed: config.secagg.bucketed,
      },
    },
    selection: {
      mode: MODES[config.selection.mode],
      cohortSize: config.selection.cohortSize,
      overSelection: config.selection.overSelection,
      samplingRate: config.selection.samplingRate,
      minClients: config.selection.minClients,
      minConnected: config.selection.minConnected,
    },
    deadlines: { ...config.deadlines },
    serverOptimizer: {
      kind: SERVER_OPTIMIZERS[config.serverOptimizer.kind],
      learningRate: config.serverOptimizer.learningRate,
      momentum: config.serverOptimizer.momentum,
      beta1: config.serverOptimizer.beta1,
      beta2: config.serverOptimizer.beta2,
      tau: config.serverOptimizer.tau,
    },
    aggregation: {
      rule: config.aggregation.rule,
      params: { ...config.aggregation.params },
      rootDataset: config.aggregation.rootDataset === undefined ? undefined : { ...config.aggregation.rootDataset },
    },
    evaluation: config.evaluation === null ? undefined : { ...config.evaluation },
    rounds: config.rounds,
    privacy: config.privacy === null ? undefined : { ...config.privacy },
    selectionSeed: config.selectionSeed,
    maxConsecutiveAborts: config.maxConsecutiveAborts,
    reputation: {
      disabled: !config.reputation.enabled,
      learningRate: config.reputation.learningRate,
      quarantineZ: config.reputation.quarantineZ,
      minRounds: config.reputation.minRounds,
    },
  };
}
