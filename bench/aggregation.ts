/**
 * Section "aggregation": the FedAvg streaming accumulator (admission checks + float64 weighted sum) folding in 100
 * contributions of d = 1M, against a plain float32 add loop over the same vectors in the same run.
 */
import { createFedAvgAccumulator } from '../shared/src/core/aggregation/index.js';
import { createSeededRng } from '../shared/src/core/rng/rng.js';
import type { SectionResult } from './report.js';
import { row } from './report.js';
import { summarize } from './stats.js';

const DIMENSION = 1_000_000;
const CONTRIBUTIONS = 100;
/** Distinct vectors cycled through: 100 separate 4 MB vectors would only measure memory, not the accumulator. */
const DISTINCT_VECTORS = 4;
const REPS = 3;

/** The baseline: sum += v, float32, nothing checked. A function of its own so it is compiled like axpyInto is. */
function addInto(sum: Float32Array, v: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i]! += v[i]!;
}

export async function runAggregationSection(log: (line: string) => void): Promise<SectionResult> {
  const rng = createSeededRng('bench/aggregation');
  const vectors = Array.from({ length: DISTINCT_VECTORS }, () => {
    const v = new Float32Array(DIMENSION);
    for (let i = 0; i < DIMENSION; i++) v[i] = (rng.nextFloat() - 0.5) * 0.02;
    return v;
  });
  const accumulatorMs: number[] = [];
  const finishMs: number[] = [];
  const baselineMs: number[] = [];
  let checksum = 0;
  // Warm-up of both paths (JIT), then alternate so load from other processes hits both alike.
  for (let rep = -1; rep < REPS; rep++) {
    let start = performance.now();
    const acc = createFedAvgAccumulator(DIMENSION);
    for (let c = 0; c < CONTRIBUTIONS; c++) acc.add({ id: `c${c}`, clientIds: [`client-${c}`], delta: vectors[c % DISTINCT_VECTORS]!, weight: 10 + (c % 7) });
    const added = performance.now() - start;
    start = performance.now();
    const result = acc.finish();
    const finished = performance.now() - start;
    checksum += result.delta[12345]!;

    start = performance.now();
    const sum = new Float32Array(DIMENSION);
    for (let c = 0; c < CONTRIBUTIONS; c++) addInto(sum, vectors[c % DISTINCT_VECTORS]!);
    const plain = performance.now() - start;
    checksum += sum[12345]!;
    if (rep >= 0) {
      accumulatorMs.push(added);
      finishMs.push(finished);
      baselineMs.push(plain);
    }
  }
  const acc = summarize(accumulatorMs);
  const fin = summarize(finishMs);
  const base = summarize(baselineMs);
  log(`aggregation: accumulator ${acc.median.toFixed(0)} ms, plain add ${base.median.toFixed(0)} ms for ${CONTRIBUTIONS} x d=${DIMENSION}`);
  const baseline = { name: 'plain f32 add loop', value: base.median };
  const bytes = CONTRIBUTIONS * DIMENSION * 4;
  return {
    section: 'aggregation',
    title: `FedAvg streaming accumulator: ${CONTRIBUTIONS} contributions of d = ${DIMENSION.toLocaleString('en-US')} (median of ${REPS})`,
    ratioMeaning: 'accumulator time / plain float32 add-loop time (lower is better; the accumulator also checks every value and sums in float64)',
    rows: [
      row(`add ${CONTRIBUTIONS} contributions`, acc.median, 'ms', baseline, `${((bytes / 1e9) / (acc.median / 1000)).toFixed(2)} GB/s of updates`),
      row('finish() (mean, float32 out)', fin.median, 'ms', null),
      row(`plain f32 add loop, ${CONTRIBUTIONS} vectors`, base.median, 'ms', null, `${((bytes / 1e9) / (base.median / 1000)).toFixed(2)} GB/s`),
    ],
    parameters: { dimension: DIMENSION, contributions: CONTRIBUTIONS, distinctVectors: DISTINCT_VECTORS, reps: REPS },
    details: { accumulatorAddMs: acc, finishMs: fin, plainAddMs: base, checksum },
  };
}
