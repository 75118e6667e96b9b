/**
 * Section "training": samples/s of local training (trainLocal, batch 32, real Fashion-MNIST images) for the
 * reference CNN and the MLP on the wasm and cpu backends, each backend in its own worker thread, one after the other
 * so they do not compete for cores. Baseline: the cpu backend, measured in the same run.
 */
import { Worker } from 'node:worker_threads';
import type { BenchRow, SectionResult } from './report.js';
import { formatNumber, row } from './report.js';
import { median } from './stats.js';
import type { TrainingJob, TrainingJobResult, TrainingWorkerInput, TrainingWorkerOutput } from './training-worker.js';

/** DESIGN §10: the WASM backend trains the 100k-parameter CNN at ≥ 300 samples/s on one core. */
export const CNN_WASM_TARGET_SAMPLES_PER_SECOND = 300;

const BATCH_SIZE = 32;

/**
 * Per backend: timed calls of ~1-1.5 s each, three of them. The cpu backend trains the CNN at a few samples/s, so
 * there a tiny warm-up, one batch per timed call, and only as many calls as fit in ~8 s (one on most machines).
 */
const JOBS: Record<'wasm' | 'cpu', TrainingJob[]> = {
  wasm: [
    { topology: 'fmnist-cnn', warmupExamples: 64, targetRepMs: 1500, reps: 3, maxTimedMs: 10_000 },
    { topology: 'fmnist-mlp', warmupExamples: 64, targetRepMs: 1000, reps: 3, maxTimedMs: 10_000 },
  ],
  cpu: [
    { topology: 'fmnist-cnn', warmupExamples: 2, targetRepMs: 0, reps: 3, maxTimedMs: 8_000 },
    { topology: 'fmnist-mlp', warmupExamples: 64, targetRepMs: 1000, reps: 3, maxTimedMs: 10_000 },
  ],
};

/** Runs one backend's jobs in a fresh worker thread and waits for its answer; the worker is always terminated. */
function runWorker(input: TrainingWorkerInput): Promise<Extract<TrainingWorkerOutput, { ok: true }>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./training-worker.js', import.meta.url), { workerData: input, stderr: true });
    let stderr = '';
    worker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (output: TrainingWorkerOutput) => {
      settle(() => (output.ok ? resolve(output) : reject(new Error(`${input.backend} training worker failed: ${output.error}`))));
    });
    worker.once('error', (error) => settle(() => reject(error)));
    worker.once('exit', (code) => settle(() => reject(new Error(`${input.backend} training worker exited (code ${code}) without a result${stderr ? `: ${stderr.trim()}` : ''}`))));
  });
}

export async function runTrainingSection(log: (line: string) => void): Promise<SectionResult> {
  const outputs: Record<string, Extract<TrainingWorkerOutput, { ok: true }>> = {};
  for (const backend of ['wasm', 'cpu'] as const) {
    log(`training: ${backend} worker (${JOBS[backend].map((j) => j.topology).join(', ')})`);
    outputs[backend] = await runWorker({ backend, batchSize: BATCH_SIZE, jobs: JOBS[backend] });
  }
  const find = (backend: string, topology: string): TrainingJobResult => {
    const result = outputs[backend]!.results.find((r) => r.topology === topology);
    if (result === undefined) throw new Error(`no ${topology} result from the ${backend} worker`);
    return result;
  };
  const rate = (r: TrainingJobResult): number => median(r.reps.map((x) => x.samplesPerSecond));
  const rows: BenchRow[] = [];
  for (const topology of ['fmnist-cnn', 'fmnist-mlp'] as const) {
    const wasm = find('wasm', topology);
    const cpu = find('cpu', topology);
    const params = `${wasm.parameterCount.toLocaleString('en-US')} params`;
    const repsNote = (r: TrainingJobResult): string => `median of ${r.reps.length} x ${r.examplesPerRep} examples`;
    let wasmNote = `${params}; ${repsNote(wasm)}`;
    if (topology === 'fmnist-cnn') {
      const met = rate(wasm) >= CNN_WASM_TARGET_SAMPLES_PER_SECOND;
      wasmNote = `target >= ${CNN_WASM_TARGET_SAMPLES_PER_SECOND} (DESIGN §10): ${met ? 'met' : 'NOT met'}; ${wasmNote}`;
    }
    rows.push(row(`${topology} train, wasm`, rate(wasm), 'samples/s', { name: 'cpu', value: rate(cpu) }, wasmNote));
    rows.push(row(`${topology} train, cpu`, rate(cpu), 'samples/s', null, `${params}; ${repsNote(cpu)}`));
  }
  const cnnWasm = rate(find('wasm', 'fmnist-cnn'));
  log(`training: fmnist-cnn on wasm ${formatNumber(cnnWasm)} samples/s (target ${CNN_WASM_TARGET_SAMPLES_PER_SECOND})`);
  return {
    section: 'training',
    title: `Training throughput (trainLocal, batch ${BATCH_SIZE}, Fashion-MNIST subset; each backend in its own worker thread)`,
    ratioMeaning: 'wasm samples/s / cpu samples/s (higher is better)',
    rows,
    parameters: { batchSize: BATCH_SIZE, optimizer: 'sgd', learningRate: 0.05, epochs: 1, jobs: JOBS, targetCnnWasmSamplesPerSecond: CNN_WASM_TARGET_SAMPLES_PER_SECOND },
    details: Object.fromEntries(
      Object.entries(outputs).map(([backend, o]) => [backend, { backendDetail: o.backendDetail, dataSource: o.dataSource, results: o.results }]),
    ),
  };
}
