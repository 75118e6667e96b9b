/**
 * Section "robust": what each built-in robust aggregation rule costs the coordinator, against FedAvg on the same
 * contributions in the same run. For n ∈ {10, 50, 200} contributions and d ∈ {100k, 1M}, a row times the n add()
 * calls and finish() of one round's accumulator, built by createStrategy({ rule, ruleParams, serverOptimizer: fedavg })
 * with a seeded Rng (FLAME's noise); the baseline is the fedavg rule at the same (n, d).
 *
 * Inputs, generated once per (n, d) from a seed and shared by every rule: honest updates are g + e_i with g (a signal
 * shared by the honest clients) and e_i both N(0, 0.01²/2) per coordinate (so each coordinate is ~N(0, 0.01²)), and
 * every fifth contribution (20%) is an attacker sending −10·g + e_i, far from the honest ones and close to each other,
 * so the distance, similarity and clustering rules have real work to do. Weights are uniform integers in [10, 100].
 * The n deltas are views into one Float32Array (n·d·4 bytes: 800 MB at n = 200, d = 1M; typed arrays live outside
 * the V8 heap, so no --max-old-space-size is needed), dropped before the next cell is generated.
 *
 * Repetitions: the O(n²·d) rules take tens of seconds at n = 200, d = 1M, so the d = 1M cells with n ≥ 50 time one
 * repetition of each robust rule and the others three (median reported); FedAvg, cheap, always three. Every rule is
 * run once untimed on a small cell first (JIT warm-up). COHORT_BENCH_ROBUST_QUICK=1 limits the grid to d = 100k and
 * n ∈ {10, 50}.
 */
import type { AggregateResult, Contribution } from '../shared/src/core/aggregation/types.js';
import { createStrategy } from '../shared/src/core/aggregation/strategy.js';
import type { Rng } from '../shared/src/core/rng/rng.js';
import { createSeededRng } from '../shared/src/core/rng/rng.js';
import type { BenchRow, SectionResult } from './report.js';
import { row } from './report.js';
import type { Samples } from './stats.js';
import { summarize } from './stats.js';

const FULL_COUNTS = [10, 50, 200] as const;
const FULL_DIMENSIONS = [100_000, 1_000_000] as const;
const QUICK_COUNTS = [10, 50] as const;
const QUICK_DIMENSIONS = [100_000] as const;
/** Every fifth contribution is an attacker (20%). */
const ATTACKER_EVERY = 5;
/** Standard deviation of an honest coordinate (signal and noise each carry half the variance). */
const HONEST_SIGMA = 0.01;
/** Attackers send ATTACK_SCALE · g (plus their own noise): far from the honest updates, pointing the other way. */
const ATTACK_SCALE = -10;
const MIN_WEIGHT = 10;
const MAX_WEIGHT = 100;
const REPS = 3;
const REPS_LARGE = 1;
const BASELINE_REPS = 3;
/** Cells at or above both of these get REPS_LARGE repetitions. */
const LARGE_N = 50;
const LARGE_D = 1_000_000;
const WARMUP_N = 11;
const WARMUP_D = 20_000;
const SEED = 'bench/robust';

const RULES = ['median', 'trimmed-mean', 'norm-bound', 'centered-clip', 'krum', 'multi-krum', 'bulyan', 'geometric-median', 'fltrust', 'foolsgold', 'flame'] as const;

/** One round's inputs: n contributions (deltas viewing one buffer) and the honest signal g. */
interface Cell {
  readonly n: number;
  readonly d: number;
  readonly contributions: Contribution[];
  readonly attackers: ReadonlySet<string>;
  readonly signal: Float32Array;
}

/** Rule parameters for n contributions, as the section's header describes. */
export function ruleParamsFor(rule: string, n: number): Record<string, number> {
  switch (rule) {
    case 'krum':
    case 'multi-krum': {
      // n > 2f + 2; ⌊(n − 3)/2⌋ already satisfies it, but n = 10 uses f = 2 (4 of 10 would be a different threat model).
      let f = n === 10 ? 2 : Math.max(0, Math.floor((n - 3) / 2));
      while (f > 0 && !(n > 2 * f + 2)) f--;
      return rule === 'krum' ? { f } : { f, m: n - f };
    }
    case 'bulyan':
      return { f: Math.max(0, Math.floor((n - 3) / 4)) };
    case 'trimmed-mean':
      return { beta: 0.1 };
    case 'flame':
      return { lambda: 0.001 };
    default:
      return {};
  }
}

function label(d: number): string {
  return d >= 1_000_000 && d % 1_000_000 === 0 ? `${d / 1_000_000}M` : d >= 1000 && d % 1000 === 0 ? `${d / 1000}k` : String(d);
}

/** Fills `out` with N(0, sigma²) samples: Box-Muller, both outputs of each pair, from 32-bit uniforms. */
function fillNormal(rng: Rng, out: Float32Array, sigma: number): void {
  const twoPi = 2 * Math.PI;
  for (let k = 0; k < out.length; k += 2) {
    const u = (rng.nextUint32() + 1) / 4_294_967_297; // (0, 1): log never sees 0
    const v = rng.nextUint32() / 4_294_967_296;
    const r = sigma * Math.sqrt(-2 * Math.log(u));
    out[k] = r * Math.cos(twoPi * v);
    if (k + 1 < out.length) out[k + 1] = r * Math.sin(twoPi * v);
  }
}

function makeCell(n: number, d: number): Cell {
  const rng = createSeededRng(`${SEED}/n=${n}/d=${d}`);
  const part = HONEST_SIGMA / Math.SQRT2;
  const signal = new Float32Array(d);
  fillNormal(rng, signal, part);
  const buffer = new Float32Array(n * d);
  fillNormal(rng, buffer, part);
  const contributions: Contribution[] = [];
  const attackers = new Set<string>();
  for (let i = 0; i < n; i++) {
    const delta = new Float32Array(buffer.buffer, i * d * Float32Array.BYTES_PER_ELEMENT, d);
    const attacker = i % ATTACKER_EVERY === ATTACKER_EVERY - 1;
    const scale = attacker ? ATTACK_SCALE : 1;
    for (let k = 0; k < d; k++) delta[k]! += scale * signal[k]!;
    const id = `c${i}`;
    if (attacker) attackers.add(id);
    contributions.push({ id, clientIds: [`client-${i}`], delta, weight: MIN_WEIGHT + Math.floor(rng.nextFloat() * (MAX_WEIGHT - MIN_WEIGHT + 1)) });
  }
  return { n, d, contributions, attackers, signal };
}

/** One round: strategy (not timed), then the timed add() of every contribution and finish(). */
function aggregateOnce(rule: string, cell: Cell, seed: string): { ms: number; result: AggregateResult } {
  const strategy = createStrategy({ rule, ruleParams: ruleParamsFor(rule, cell.n), serverOptimizer: { kind: 'fedavg' } }, { rng: createSeededRng(seed) });
  // FLTrust's server update: the honest signal, as a clean root dataset would give (training it is not timed here).
  const accumulator = strategy.createAccumulator(cell.d, { referenceUpdate: () => cell.signal });
  const start = performance.now();
  for (const c of cell.contributions) accumulator.add(c);
  const result = accumulator.finish();
  return { ms: performance.now() - start, result };
}

/** What a rule did with the round: verdict counts, over everyone and over the attackers, and the aggregate's error. */
interface Outcome {
  readonly rejected: number;
  readonly downWeighted: number;
  readonly attackersRejected: number;
  readonly attackersDownWeighted: number;
  /** ‖aggregate − g‖ / ‖g‖: how far the aggregate is from the honest signal (FedAvg's is pulled by the attackers). */
  readonly relativeError: number;
}

function outcomeOf(result: AggregateResult, cell: Cell): Outcome {
  let rejected = 0;
  let downWeighted = 0;
  let attackersRejected = 0;
  let attackersDownWeighted = 0;
  for (const v of result.verdicts) {
    const attacker = cell.attackers.has(v.contributionId);
    if (v.verdict === 'rejected') {
      rejected++;
      if (attacker) attackersRejected++;
    } else if (v.verdict === 'down-weighted') {
      downWeighted++;
      if (attacker) attackersDownWeighted++;
    }
  }
  let error = 0;
  let norm = 0;
  for (let k = 0; k < cell.d; k++) {
    const g = cell.signal[k]!;
    const e = result.delta[k]! - g;
    error += e * e;
    norm += g * g;
  }
  return { rejected, downWeighted, attackersRejected, attackersDownWeighted, relativeError: Math.sqrt(error / norm) };
}

function describe(o: Outcome, attackers: number): string {
  return `rejected ${o.rejected} (${o.attackersRejected}/${attackers} attackers), down-weighted ${o.downWeighted} (${o.attackersDownWeighted} attackers); error ${o.relativeError.toFixed(3)}`;
}

export async function runRobustSection(log: (line: string) => void): Promise<SectionResult> {
  const quick = process.env['COHORT_BENCH_ROBUST_QUICK'] === '1';
  const counts: readonly number[] = quick ? QUICK_COUNTS : FULL_COUNTS;
  const dimensions: readonly number[] = quick ? QUICK_DIMENSIONS : FULL_DIMENSIONS;

  // JIT warm-up: every rule (and FedAvg) once on a small cell, untimed.
  const warm = makeCell(WARMUP_N, WARMUP_D);
  for (const rule of ['fedavg', ...RULES]) aggregateOnce(rule, warm, `${SEED}/warmup/${rule}`);

  const rows: BenchRow[] = [];
  const details: Record<string, { reps: number; ms: Samples; ratio: number; outcome: Outcome; params: Record<string, number> }> = {};
  for (const d of dimensions) {
    for (const n of counts) {
      const name = `n=${n} d=${label(d)}`;
      const generated = performance.now();
      let cell: Cell | null = makeCell(n, d);
      log(`robust: ${name}: ${cell.attackers.size} of ${n} attackers, inputs generated in ${((performance.now() - generated) / 1000).toFixed(1)} s`);
      const reps = n >= LARGE_N && d >= LARGE_D ? REPS_LARGE : REPS;
      const fedavgMs: number[] = [];
      let fedavgOutcome: Outcome | null = null;
      for (let rep = 0; rep < BASELINE_REPS; rep++) {
        const { ms, result } = aggregateOnce('fedavg', cell, `${SEED}/fedavg`);
        fedavgMs.push(ms);
        fedavgOutcome = outcomeOf(result, cell);
      }
      const fedavg = summarize(fedavgMs);
      const baseline = { name: `fedavg ${name}`, value: fedavg.median };
      details[`fedavg ${name}`] = { reps: BASELINE_REPS, ms: fedavg, ratio: 1, outcome: fedavgOutcome!, params: {} };
      log(`robust: fedavg ${name}: ${fedavg.median.toFixed(1)} ms (error ${fedavgOutcome!.relativeError.toFixed(3)})`);
      for (const rule of RULES) {
        const samples: number[] = [];
        let outcome: Outcome | null = null;
        for (let rep = 0; rep < reps; rep++) {
          const { ms, result } = aggregateOnce(rule, cell, `${SEED}/${rule}/${name}`);
          samples.push(ms);
          outcome = outcomeOf(result, cell);
        }
        const s = summarize(samples);
        const params = ruleParamsFor(rule, n);
        const paramText = Object.entries(params)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        const note = `${describe(outcome!, cell.attackers.size)}${paramText === '' ? '' : `; ${paramText}`}${reps === 1 ? '; 1 rep' : ''}`;
        rows.push(row(`${rule} ${name}`, s.median, 'ms', baseline, note));
        details[`${rule} ${name}`] = { reps, ms: s, ratio: s.median / fedavg.median, outcome: outcome!, params };
        log(`robust: ${rule} ${name}: ${s.median.toFixed(1)} ms (${(s.median / fedavg.median).toFixed(1)}x fedavg); ${describe(outcome!, cell.attackers.size)}`);
      }
      // Release the cell's n·d floats before the next one is generated.
      cell = null;
    }
  }

  return {
    section: 'robust',
    title: `Robust aggregation rules vs FedAvg: add n contributions + finish(), 20% attackers (median of ${REPS}; ${REPS_LARGE} rep at n >= ${LARGE_N}, d = ${label(LARGE_D)})${quick ? ' [quick]' : ''}`,
    ratioMeaning: 'rule time / FedAvg time at the same n and d, same run (lower is better); note: verdicts and ‖aggregate − g‖/‖g‖ (g = honest signal)',
    rows,
    parameters: {
      quick,
      counts,
      dimensions,
      rules: RULES,
      reps: REPS,
      repsLarge: REPS_LARGE,
      largeCell: { minN: LARGE_N, minD: LARGE_D },
      baselineReps: BASELINE_REPS,
      attackerFraction: 1 / ATTACKER_EVERY,
      honestSigma: HONEST_SIGMA,
      attackScale: ATTACK_SCALE,
      weights: [MIN_WEIGHT, MAX_WEIGHT],
      seed: SEED,
      warmup: { n: WARMUP_N, d: WARMUP_D },
    },
    details,
  };
}
