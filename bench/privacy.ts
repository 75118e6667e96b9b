/**
 * Section "privacy": the Rényi-DP accountant. Time to compute ε after T = 10,000 rounds of the Poisson-subsampled
 * Gaussian over the default orders (90 fractional orders by the exact series, 66 integer ones by the binomial sum),
 * and to calibrate the noise multiplier for a target ε by bisection; baselines measured in the same run: the same ε
 * over the integer orders only, and one ε evaluation.
 */
import { DEFAULT_RDP_ORDERS, epsilonOf, noiseMultiplierFor } from '../shared/src/core/dp/rdp.js';
import type { SectionResult } from './report.js';
import { row } from './report.js';
import { summarize } from './stats.js';

const STEPS = 10_000;
const SAMPLING_RATE = 0.01;
const NOISE_MULTIPLIER = 1.1;
const DELTA = 1e-5;
const TARGET_EPSILON = 8;
const REPS = 7;

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
    ],
    parameters: { steps: STEPS, samplingRate: SAMPLING_RATE, noiseMultiplier: NOISE_MULTIPLIER, delta: DELTA, targetEpsilon: TARGET_EPSILON, reps: REPS },
    details: { epsilonMs: eps, integerOrdersMs: ints, calibrateMs: cal, epsilon, order, noiseMultiplier: z },
  };
}
