/**
 * Section "privacy": the Rényi-DP accountant. Time to compute ε after T = 10,000 rounds of the Poisson-subsampled
 * Gaussian over the default orders (90 fractional orders by the exact series, 66 integer ones by the binomial sum),
 * and to calibrate the noise multiplier for a target ε by bisection; baselines measured in the same run: the same ε
 * over the integer orders only, and one ε evaluation. Distributed mode: the Skellam accountant over the same T (against
 * the Gaussian's), and a client's Skellam encoding of a 101,770-parameter update (scale, conditional rounding, noise)
 * against the plain secure-aggregation quantization of the same update.
 */
import { DEFAULT_RDP_ORDERS, epsilonFromRdp, epsilonOf, noiseMultiplierFor } from '../shared/src/core/dp/rdp.js';
import { encodeSkellamInput, planSkellam } from '../shared/src/core/dp/skellam.js';
import { createSeededRng } from '../shared/src/core/rng/rng.js';
import { quantizationParams, quantizeWeighted } from '../shared/src/core/secagg/quantize.js';
import { plannedDistributedRound, roundRdp } from '../coordinator/src/privacy/budget.js';
import type { SectionResult } from './report.js';
import { row } from './report.js';
import { summarize } from './stats.js';

const STEPS = 10_000;
const SAMPLING_RATE = 0.01;
const NOISE_MULTIPLIER = 1.1;
const DELTA = 1e-5;
const TARGET_EPSILON = 8;
const REPS = 7;
/** fmnist-mlp's parameter count. */
const DIMENSION = 101_770;

function time<T>(fn: () => T): { ms: number; value: T } {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}

export async function runPrivacySection(log: (line: string) => void): Promise<SectionResult> {
  const integerOrders = DEFAULT_RDP_ORDERS.filter((a) => Number.isInteger(a));
  const input = { samplingRate: SAMPLING_RATE, noiseMultiplier: NOISE_MULTIPLIER, steps: STEPS, delta: DELTA };
  const epsMs: number[] = [];
  const intMs: number[] = [];
  const calibrateMs: number[] = [];
  let epsilon = 0;
  let order = 0;
  let z = 0;
  for (let rep = -1; rep < REPS; rep++) {
    const all = time(() => epsilonOf(input));
    const ints = time(() => epsilonOf({ ...input, orders: integerOrders }));
    const cal = time(() => noiseMultiplierFor({ targetEpsilon: TARGET_EPSILON, samplingRate: SAMPLING_RATE, steps: STEPS, delta: DELTA }));
    if (rep < 0) continue;
    epsMs.push(all.ms);
    intMs.push(ints.ms);
    calibrateMs.push(cal.ms);
    ({ epsilon, order } = all.value);
    z = cal.value;
  }
  // Distributed: T rounds of the planned Skellam round, composed and converted (integer orders).
  const skellamMs: number[] = [];
  let skellamEpsilon = 0;
  for (let rep = -1; rep < REPS; rep++) {
    const run = time(() => {
      // A fresh orders array: the accountant caches curves by the default one, and this times the computation.
      const one = roundRdp(plannedDistributedRound(SAMPLING_RATE, NOISE_MULTIPLIER), [...DEFAULT_RDP_ORDERS]);
      return epsilonFromRdp(DEFAULT_RDP_ORDERS, one.map((v) => v * STEPS), DELTA).epsilon;
    });
    if (rep >= 0) skellamMs.push(run.ms);
    skellamEpsilon = run.value;
  }
  const rng = createSeededRng(5);
  const update = Float32Array.from({ length: DIMENSION }, () => rng.nextFloat() - 0.5);
  let squares = 0;
  for (const v of update) squares += v * v;
  // Clipped to norm 1, as a client's update is before encoding.
  for (let i = 0; i < DIMENSION; i++) update[i] = update[i]! / Math.sqrt(squares);
  const plan = planSkellam({ clipNorm: 1, dimension: DIMENSION, modulusBits: 32, maxInputs: 10, minSurvivors: 9, noiseMultiplier: NOISE_MULTIPLIER });
  const params = quantizationParams({ modulusBits: 32, clamp: 1, maxInputs: 10, weightCap: 100 });
  const encodeMs: number[] = [];
  const quantizeMs: number[] = [];
  for (let rep = -1; rep < REPS; rep++) {
    const e = time(() => encodeSkellamInput(update, plan, 32, rng));
    const q = time(() => quantizeWeighted(update, 50, params, rng));
    if (rep < 0) continue;
    encodeMs.push(e.ms);
    quantizeMs.push(q.ms);
  }
  const skellam = summarize(skellamMs);
  const encode = summarize(encodeMs);
  const quantize = summarize(quantizeMs);
  const eps = summarize(epsMs);
  const ints = summarize(intMs);
  const cal = summarize(calibrateMs);
  log(`privacy: epsilon ${epsilon.toFixed(4)} at order ${order} in ${eps.median.toFixed(2)} ms; z for epsilon ${TARGET_EPSILON}: ${z.toFixed(6)} in ${cal.median.toFixed(1)} ms`);
  return {
    section: 'privacy',
    title: `Rényi-DP accountant: q = ${SAMPLING_RATE}, z = ${NOISE_MULTIPLIER}, T = ${STEPS.toLocaleString('en-US')}, δ = ${DELTA} (median of ${REPS})`,
    ratioMeaning: 'time / baseline time in the same run (lower is better)',
    rows: [
      row(`ε over the ${DEFAULT_RDP_ORDERS.length} default orders`, eps.median, 'ms', { name: `integer orders only (${integerOrders.length})`, value: ints.median }, `ε = ${epsilon.toFixed(4)} at order ${order}`),
      row(`noise multiplier for ε = ${TARGET_EPSILON}`, cal.median, 'ms', { name: 'one ε evaluation', value: eps.median }, `z = ${z.toFixed(6)} (bisection to 1e-10 relative)`),
      row('distributed (Skellam) ε, same T', skellam.median, 'ms', { name: 'Gaussian ε, default orders', value: eps.median }, `ε = ${skellamEpsilon.toFixed(4)} (Gaussian ${epsilon.toFixed(4)})`),
      row(`Skellam encoding of d = ${DIMENSION.toLocaleString('en-US')}`, encode.median, 'ms', { name: 'secure-aggregation quantization', value: quantize.median }, `scale ${plan.scale.toExponential(3)}, noise variance ${plan.perClientVariance.toExponential(3)} per client`),
    ],
    parameters: { steps: STEPS, samplingRate: SAMPLING_RATE, noiseMultiplier: NOISE_MULTIPLIER, delta: DELTA, targetEpsilon: TARGET_EPSILON, reps: REPS },
    details: { epsilonMs: eps, integerOrdersMs: ints, calibrateMs: cal, epsilon, order, noiseMultiplier: z, skellamEpsilonMs: skellam, skellamEpsilon, skellamEncodeMs: encode, quantizeMs: quantize },
  };
}
