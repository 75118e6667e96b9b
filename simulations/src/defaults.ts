/** Simulation options and their defaults (kept apart from the harness so the CLI parses flags without loading TF.js). */
import type { FlagSpec } from '../../shared/src/cli/args.js';
import type { AttackSpec } from './attacks/spec.js';

export interface SimulationOptions {
  clients: number;
  rounds: number;
  seed: number;
  /** iid | dirichlet:<alpha> | shards:<n>. */
  partition: string;
  /** Probability a selected client drops out of a round, and where. */
  dropout: number;
  dropoutStage: DropoutStage;
  model: 'fmnist-cnn' | 'fmnist-mlp';
  epochs: number;
  batchSize: number;
  optimizer: 'sgd' | 'momentum' | 'adam';
  learningRate: number;
  serverOptimizer: 'fedavg' | 'fedavgm' | 'fedadam' | 'fedyogi';
  serverLearningRate?: number;
  /** Clients per round (0 = all). */
  cohortSize: number;
  minClients: number;
  /** Training examples drawn (stratified) from the dataset; 0 = all. */
  trainSize: number;
  testSize: number;
  /** --data-dir for Fashion-MNIST. */
  dataDir?: string;
  /** Worker threads (0 = one per core). */
  workers: number;
  backend: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  trainingDeadlineMs: number;
  configureDeadlineMs: number;
  /** Keep the coordinator's temporary data folder (database, model files) and print where it is. */
  keepData: boolean;
  verbose: boolean;
  /** L2 clip norm of client updates (0 = none). */
  clipNorm: number;
  /** Secure aggregation (SecAgg+). */
  secagg: boolean;
  /** SecAgg+ neighbour degree k (undefined = default from n). */
  secaggNeighbours?: number;
  /** Shamir threshold t (undefined = ⌊k/2⌋ + 1). */
  secaggThreshold?: number;
  /** Bucketed mode: number of buckets, and/or the minimum bucket size (default 10); either turns it on. */
  secaggBuckets?: number;
  minBucketSize?: number;
  /** Per-coordinate clamp before quantization (undefined = the clip norm, or 1 without clipping). */
  secaggClamp?: number;
  /** Differential privacy: off, or central noise added by the coordinator. */
  dp: 'off' | 'central' | 'distributed' | 'local';
  /** Privacy budget (ε, δ) the federation stops at. */
  dpEpsilon: number;
  dpDelta: number;
  /** Noise multiplier z (undefined = calibrated to spend the budget over --rounds). */
  dpNoise?: number;
  /** Poisson sampling rate of the cohort (undefined = the fixed cohort of --cohort-size). */
  samplingRate?: number;
  /** Central mode: adaptive clipping to this quantile of update norms (undefined = a fixed clip norm). */
  adaptiveClipQuantile?: number;
  /** Aggregation rule by name (fedavg, median, multi-krum ...; see shared/src/core/aggregation/builtin-rules.ts). */
  aggregation: string;
  /** The rule's numeric parameters (e.g. f for Krum). */
  ruleParams: Record<string, number>;
  /** Rule fltrust: the server's root dataset, this many training examples outside the clients' sample. */
  rootSize: number;
  /** The attack some clients mount (undefined = every client honest). */
  attack?: AttackSpec;
}

/** Where a simulated dropout happens: any stage, or one of the round's stages. */
export type DropoutStage = 'any' | 'configuring' | 'training' | 'upload' | 'advertise-keys' | 'share-keys' | 'masked-input' | 'consistency-check' | 'unmasking';

export const DROPOUT_STAGES: readonly DropoutStage[] = ['any', 'configuring', 'training', 'upload', 'advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'];

export const SIMULATION_DEFAULTS: SimulationOptions = {
  clients: 10,
  rounds: 5,
  seed: 1,
  partition: 'dirichlet:0.5',
  dropout: 0,
  dropoutStage: 'any',
  model: 'fmnist-cnn',
  // Chosen on the shipped subset (10 clients, Dirichlet 0.5, 5 rounds, CNN): Adam 2e-3 x 3 local epochs reached
  // 78.6 / 77.8 / 75.8% held-out accuracy for seeds 1 / 2 / 3; Adam 1e-3 x 3 epochs 77.3 / 73.6 / 73.7%;
  // SGD 0.05 x 2 epochs 66%.
  epochs: 3,
  batchSize: 32,
  optimizer: 'adam',
  learningRate: 0.002,
  serverOptimizer: 'fedavg',
  cohortSize: 0,
  minClients: 2,
  trainSize: 6000,
  testSize: 1000,
  workers: 0,
  backend: 'auto',
  trainingDeadlineMs: 600_000,
  configureDeadlineMs: 5_000,
  keepData: false,
  verbose: false,
  clipNorm: 0,
  secagg: false,
  dp: 'off',
  dpEpsilon: 8,
  dpDelta: 1e-5,
  aggregation: 'fedavg',
  ruleParams: {},
  // FLTrust's paper: 100 root examples.
  rootSize: 100,
};

/** Flags every simulation run takes, shared by `cohort simulate` and `cohort simulate matrix`. */
export const SIMULATION_RUN_FLAGS: FlagSpec = {
  clients: { type: 'string' },
  rounds: { type: 'string' },
  seed: { type: 'string' },
  partition: { type: 'string' },
  dropout: { type: 'string' },
  model: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  optimizer: { type: 'string' },
  'server-optimizer': { type: 'string' },
  'server-lr': { type: 'string' },
  'cohort-size': { type: 'string' },
  'min-clients': { type: 'string' },
  'train-size': { type: 'string' },
  'test-size': { type: 'string' },
  'data-dir': { type: 'string' },
  workers: { type: 'string' },
  backend: { type: 'string' },
  'report-dir': { type: 'string' },
  'training-deadline': { type: 'string' },
  'clip-norm': { type: 'string' },
  'root-size': { type: 'string' },
  'secagg-neighbours': { type: 'string' },
  'secagg-threshold': { type: 'string' },
  'secagg-buckets': { type: 'string' },
  'min-bucket-size': { type: 'string' },
  'secagg-clamp': { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};
