/**
 * One TF.js backend's training benchmark, run in its own worker thread: the TF.js engine is global to a thread and
 * selectBackend() decides once, so wasm and cpu cannot share one. Trains the built-in topologies with the real
 * client code (trainLocal) on the shipped Fashion-MNIST subset and posts the timings to the parent.
 */
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createSeededRng } from '../shared/src/core/rng/rng.js';
import { initializeWeights } from '../shared/src/core/tensor/init.js';
import { loadDataDir, packageRoot, SUBSET_RELATIVE_DIR } from '../shared/src/data/index.js';
import { builtinTopology, describeTopology, selectBackend, trainLocal } from '../client/src/training/index.js';
import type { BuiltinTopologyName, LocalTrainingPlan } from '../client/src/training/index.js';

/** One topology to measure on this worker's backend. */
export interface TrainingJob {
  readonly topology: BuiltinTopologyName;
  /** Examples of the untimed warm-up call (kernels initialised, caches filled). */
  readonly warmupExamples: number;
  /** Wall time each timed call should take; its example count is sized from the warm-up's rate. */
  readonly targetRepMs: number;
  /** Timed calls (the median is reported)... */
  readonly reps: number;
  /** ...but no more than fit in this many milliseconds at the warm-up's rate (at least one). */
  readonly maxTimedMs: number;
}

/** What the parent sends. */
export interface TrainingWorkerInput {
  readonly backend: 'wasm' | 'cpu';
  readonly batchSize: number;
  readonly jobs: readonly TrainingJob[];
}

/** One timed trainLocal call. */
export interface TrainingRep {
  readonly examples: number;
  /** Wall time of the whole trainLocal call (weights in and out included). */
  readonly ms: number;
  readonly samplesPerSecond: number;
  /** trainLocal's own samples_per_second metric: the batch loop only. */
  readonly loopSamplesPerSecond: number;
}

/** One topology's figures. */
export interface TrainingJobResult {
  readonly topology: BuiltinTopologyName;
  readonly parameterCount: number;
  readonly warmup: { readonly examples: number; readonly ms: number };
  readonly examplesPerRep: number;
  readonly reps: TrainingRep[];
}

/** What the worker posts back: results, or the error that stopped it. */
export type TrainingWorkerOutput =
  | { readonly ok: true; readonly backend: string; readonly backendDetail: string; readonly dataSource: string; readonly results: TrainingJobResult[] }
  | { readonly ok: false; readonly error: string };

function plan(batchSize: number, maxExamples: number, seed: number): LocalTrainingPlan {
  return { epochs: 1, batchSize, optimizer: 'sgd', learningRate: 0.05, momentum: 0, proximalMu: 0, maxExamples, seed, localEvalFraction: 0 };
}

async function main(input: TrainingWorkerInput): Promise<TrainingWorkerOutput> {
  // The backend's log line is info.detail, which the parent reports; keep the worker's stderr quiet.
  const info = await selectBackend(input.backend, () => undefined);
  const { train, source } = await loadDataDir(path.join(packageRoot(), SUBSET_RELATIVE_DIR), { numClasses: 10 });
  const results: TrainingJobResult[] = [];
  for (const job of input.jobs) {
    const topologyJson = builtinTopology(job.topology);
    const { layout, parameterCount } = await describeTopology(topologyJson);
    const weights = initializeWeights(layout, createSeededRng(`bench/${job.topology}`));
    const run = async (examples: number, seed: number): Promise<{ ms: number; loop: number }> => {
      const start = performance.now();
      const result = await trainLocal({ topologyJson, layout, weights, data: train, plan: plan(input.batchSize, examples, seed) });
      const ms = performance.now() - start;
      if (result.numExamples !== examples) throw new Error(`trained on ${result.numExamples} examples, asked for ${examples}`);
      return { ms, loop: result.metrics['samples_per_second'] ?? Number.NaN };
    };
    const warmupExamples = Math.min(job.warmupExamples, train.count);
    const warm = await run(warmupExamples, 1);
    // Size the timed calls from the warm-up rate, in whole batches (the warm-up is the slowest call, so this errs short).
    const rate = warmupExamples / (warm.ms / 1000);
    const batches = Math.max(1, Math.round((rate * job.targetRepMs) / 1000 / input.batchSize));
    const examplesPerRep = Math.min(train.count, batches * input.batchSize);
    const estimatedRepMs = (examplesPerRep / rate) * 1000;
    const repCount = Math.max(1, Math.min(job.reps, Math.floor(job.maxTimedMs / estimatedRepMs)));
    const reps: TrainingRep[] = [];
    for (let i = 0; i < repCount; i++) {
      const { ms, loop } = await run(examplesPerRep, 100 + i);
      reps.push({ examples: examplesPerRep, ms, samplesPerSecond: examplesPerRep / (ms / 1000), loopSamplesPerSecond: loop });
    }
    results.push({ topology: job.topology, parameterCount, warmup: { examples: warmupExamples, ms: warm.ms }, examplesPerRep, reps });
  }
  return { ok: true, backend: info.name, backendDetail: info.detail, dataSource: source, results };
}

if (parentPort !== null) {
  const port = parentPort;
  main(workerData as TrainingWorkerInput).then(
    (output) => port.postMessage(output),
    (error: unknown) => port.postMessage({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies TrainingWorkerOutput),
  );
}
