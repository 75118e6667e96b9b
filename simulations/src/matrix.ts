/**
 * `cohort simulate matrix`: attacks × defenses (× modes), one whole simulation per cell, run one after another with
 * the same seed (so the same partition, initial model, attackers and selection), each reported in its own folder,
 * then matrix.csv / matrix.json / matrix.md / matrix.svg over all of them and the Markdown table on stdout.
 */
import path from 'node:path';
import { CohortError, isCohortError } from '../../shared/src/core/errors.js';
import { createSeededRng, deriveSeed, normal } from '../../shared/src/core/rng/rng.js';
import { bucketCount } from '../../shared/src/core/secagg/graph.js';
import { BUILTIN_AGGREGATION_RULES } from '../../shared/src/core/aggregation/builtin-rules.js';
import type { AggregationRule } from '../../shared/src/core/aggregation/rules.js';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../../shared/src/cli/args.js';
import type { ParsedArgs } from '../../shared/src/cli/args.js';
import { ATTACK_NAMES, attackerCount, parseAttackSpec, resolveAttackParams } from './attacks/spec.js';
import type { AttackSpec } from './attacks/spec.js';
import { SIMULATION_DEFAULTS, SIMULATION_RUN_FLAGS } from './defaults.js';
import type { SimulationOptions } from './defaults.js';
import { parseRunOptions } from './cli.js';
import { createProgressDisplay, writeReport } from './report/index.js';
import { formatDuration } from './report/format.js';
import { CLEAN, emptyCell, matrixCellDir, matrixCellOf, matrixToJson, renderMatrixMarkdown, writeMatrixReport } from './report/matrix.js';
import type { MatrixCell, MatrixReport } from './report/matrix.js';

const d = SIMULATION_DEFAULTS;

/** Where the matrix's defaults differ from a single simulation's. */
export const MATRIX_DEFAULTS = {
  clients: 50,
  partition: 'dirichlet:0.5',
  fraction: 0.2,
  modes: ['plaintext'] as MatrixMode[],
  /** Bucketed mode: 50 clients make 10 buckets of 5, enough contributions for Krum with f = 3 or Bulyan with f = 1. */
  minBucketSize: 5,
} as const;

export const MATRIX_MODES = ['plaintext', 'bucketed'] as const;
export type MatrixMode = (typeof MATRIX_MODES)[number];

export const MATRIX_HELP = `cohort simulate matrix --attacks LIST --defenses LIST [flags]

Runs every attack against every defense, one whole simulation per cell (plus a run without attack per defense, the
reference), one after another with the same seed: the same partition, initial model, attackers and selection in every
cell. Each cell is reported in --report-dir/<mode>/<attack>/<defense>/ as a single simulation is; the matrix in
--report-dir/matrix.csv, matrix.json, matrix.md (a table per mode, then every cell in detail) and matrix.svg (a heat
map of final accuracy, each defense's clean run as reference). The Markdown table is printed on stdout.

  --attacks LIST           attacks, comma-separated: NAME[:K=V,...] (a K=V after a comma continues the attack before
                           it), e.g. sign-flip,scaling,ipm,alie,backdoor:boost=10,target=2. NAME: ${ATTACK_NAMES.join(', ')}
                           (see cohort simulate --help for their parameters)
  --defenses LIST          aggregation rules, comma-separated: RULE[:K=V,...], e.g. fedavg,median,multi-krum:f=10,m=30.
                           RULE: ${BUILTIN_AGGREGATION_RULES.map((r) => r.name).join(', ')}
  --fraction F             attackers: ⌈F·clients⌉, a seeded choice (default ${MATRIX_DEFAULTS.fraction})
  --modes LIST             plaintext (default) and/or bucketed: bucketed secure aggregation, where the rules see only
                           the means of buckets of at least --min-bucket-size clients (and the verdicts, reputation and
                           quarantine fall on whole buckets)
  --no-clean               no run without attack (the heat map then has no reference)
  --min-bucket-size M      bucketed mode: buckets of at least M clients (default ${MATRIX_DEFAULTS.minBucketSize}, so 50 clients make 10
                           buckets: robust rules need several contributions, Krum n > 2f + 2, Bulyan n ≥ 4f + 3)
  --secagg-buckets B --secagg-neighbours K --secagg-threshold T --secagg-clamp X     bucketed mode, as for simulate
  --clients N              client agents (default ${MATRIX_DEFAULTS.clients})
  --partition SPEC         iid | dirichlet:ALPHA | shards:N (default ${MATRIX_DEFAULTS.partition})
  --rounds R --seed S --dropout RATE[@STAGE] --model NAME --epochs E --batch-size B --lr LR --optimizer NAME
  --server-optimizer NAME --server-lr LR --cohort-size N --min-clients N --train-size N --test-size N --data-dir DIR
  --workers N --backend NAME --training-deadline S --clip-norm C --root-size N --verbose
                           as for cohort simulate (defaults ${d.rounds} rounds, seed ${d.seed}, ${d.model}, train/test ${d.trainSize}/${d.testSize})
  --report-dir DIR         where to write (default reports/matrix-<time>-seed<S>)
  --json                   print {"matrix": <matrix.json>, "reportDir": ...} instead of the table

A cell a rule cannot do is skipped, with the rule's reason in the table: the rule is tried on the run's nominal number
of contributions (the cohort in plaintext mode, its buckets in bucketed mode). Dropouts and quarantines can lower that
number during a run; a round the rule then cannot aggregate aborts, and aborted rounds, like a federation that fails
after too many of them, are results, not errors. Exit status: 0 when every cell ran or was skipped, 1 when a cell's
simulation failed (the others still run), 2 for bad flags.
`;

/** A defense: an aggregation rule of the registry with its parameters, labelled `rule[:k=v,...]`. */
export interface MatrixDefense {
  label: string;
  rule: string;
  params: Record<string, number>;
}

/** An attack of the library with its parameters, labelled as given (`backdoor:boost=10`). */
export interface MatrixAttack {
  label: string;
  spec: AttackSpec;
}

function invalid(message: string): never {
  throw new CohortError('CONFIG_INVALID', message);
}

/**
 * A comma-separated list of `NAME[:K=V,...]` items: a piece with `=` but no `:` continues the item before it, so
 * `multi-krum:f=10,m=30,median` is two items. Repeated flags are concatenated. Empty items are errors naming `flag`.
 */
export function splitSpecList(flag: string, values: readonly string[]): string[] {
  const items: string[] = [];
  for (const value of values) {
    let continuable = false;
    for (const raw of value.split(',')) {
      const piece = raw.trim();
      if (piece === '') invalid(`--${flag}: empty item in "${value}"`);
      if (piece.includes('=') && !piece.includes(':')) {
        if (!continuable) invalid(`--${flag}: "${piece}" is a parameter without a name before it (NAME:${piece})`);
        items[items.length - 1] += `,${piece}`;
        continue;
      }
      items.push(piece);
      continuable = piece.includes(':');
    }
  }
  return items;
}

/** `--defenses`: each item a rule of the registry, its parameters validated by the rule's own resolveParams. */
export function parseDefenses(values: readonly string[]): MatrixDefense[] {
  const out: MatrixDefense[] = [];
  for (const item of splitSpecList('defenses', values)) {
    const colon = item.indexOf(':');
    const name = (colon < 0 ? item : item.slice(0, colon)).trim();
    const rule = BUILTIN_AGGREGATION_RULES.find((r) => r.name === name);
    if (rule === undefined) invalid(`--defenses: unknown rule "${name}"; known rules: ${BUILTIN_AGGREGATION_RULES.map((r) => r.name).join(', ')}`);
    const params: Record<string, number> = {};
    for (const pair of colon < 0 ? [] : item.slice(colon + 1).split(',')) {
      const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(\S+)\s*$/.exec(pair);
      const value = Number(match?.[2]);
      if (match === null || !Number.isFinite(value)) invalid(`--defenses (${item}): expected K=V with a number V, got "${pair}"`);
      if (match[1]! in params) invalid(`--defenses (${item}): ${match[1]} is given twice`);
      params[match[1]!] = value;
    }
    try {
      rule.resolveParams(params);
    } catch (error) {
      invalid(`--defenses (${item}): ${(error as Error).message}`);
    }
    const label = Object.keys(params).length === 0 ? name : `${name}:${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(',')}`;
    if (out.some((x) => x.label === label)) invalid(`--defenses: "${label}" is listed twice`);
    out.push({ label, rule: name, params });
  }
  if (out.length === 0) invalid('--defenses: give at least one rule');
  return out;
}

/** `--attacks`: each item an attack of the library and its parameters, validated as `--attack` would be. */
export function parseAttacks(values: readonly string[], fraction: number): MatrixAttack[] {
  const out: MatrixAttack[] = [];
  for (const item of splitSpecList('attacks', values)) {
    const colon = item.indexOf(':');
    const name = (colon < 0 ? item : item.slice(0, colon)).trim();
    const params = colon < 0 ? '' : item.slice(colon + 1);
    if (name === CLEAN) invalid(`--attacks: "${CLEAN}" is the run without an attack, added for every defense unless --no-clean`);
    let spec: AttackSpec;
    try {
      spec = parseAttackSpec(`${name}:${fraction}${colon < 0 ? '' : `:${params}`}`);
    } catch (error) {
      invalid(`--attacks (${item}): ${(error as Error).message.replace(/^--attack: /, '')}`);
    }
    const label = item.replace(/\s+/g, '');
    if (out.some((x) => x.label === label)) invalid(`--attacks: "${label}" is listed twice`);
    out.push({ label, spec });
  }
  return out;
}

/** `--modes plaintext,bucketed`. */
export function parseModes(value: string | undefined): MatrixMode[] {
  if (value === undefined) return [...MATRIX_DEFAULTS.modes];
  const out: MatrixMode[] = [];
  for (const item of value.split(',').map((x) => x.trim())) {
    if (!(MATRIX_MODES as readonly string[]).includes(item)) invalid(`--modes: expected plaintext and/or bucketed, got "${item}"`);
    if (out.includes(item as MatrixMode)) invalid(`--modes: "${item}" is listed twice`);
    out.push(item as MatrixMode);
  }
  return out;
}

/**
 * Why `rule` cannot aggregate `n` contributions, in the rule's own words (`krum needs n > 2f + 2 contributions: n = 4,
 * f = 4`), or null when it can: the rule is run on n small seeded random contributions, and a FAILED_PRECONDITION
 * from it is the reason. Any other error is left to the real run.
 */
export function ruleLimitation(rule: AggregationRule, params: Record<string, number>, n: number, seed: number): string | null {
  const rng = createSeededRng(deriveSeed(seed, 'matrix/rule-probe'));
  const dimension = 16;
  try {
    // A reference update too, for the rules that judge against the server's own (fltrust).
    const reference = Float32Array.from({ length: dimension }, () => 0.01 * normal(rng));
    const accumulator = rule.createAccumulator({ dimension, params: rule.resolveParams(params), rng, referenceUpdate: () => reference });
    for (let i = 0; i < n; i++) {
      const delta = new Float32Array(dimension);
      for (let k = 0; k < dimension; k++) delta[k] = 0.01 * normal(rng);
      accumulator.add({ id: `probe-${i}`, clientIds: [`probe-${i}`], delta, weight: 1 + (i % 3) });
    }
    accumulator.finish();
    return null;
  } catch (error) {
    return isCohortError(error, 'FAILED_PRECONDITION') ? error.message : null;
  }
}

/** Contributions a round of `mode` hands the rule: the cohort, or its buckets. */
export function contributionsPerRound(options: Pick<SimulationOptions, 'clients' | 'cohortSize' | 'minBucketSize' | 'secaggBuckets'>, mode: MatrixMode): number {
  const cohort = options.cohortSize > 0 ? Math.min(options.cohortSize, options.clients) : options.clients;
  if (mode === 'plaintext') return cohort;
  return bucketCount(cohort, { minBucketSize: options.minBucketSize ?? MATRIX_DEFAULTS.minBucketSize, buckets: options.secaggBuckets });
}

function listFlag(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
}

/** The options every cell shares, from the flags (no attack, no secure aggregation, FedAvg: the cells set those). */
function baseOptions(args: ParsedArgs): SimulationOptions {
  return {
    ...parseRunOptions(args, { clients: MATRIX_DEFAULTS.clients, minClientsFlag: 2, partition: MATRIX_DEFAULTS.partition }),
    keepData: false,
    secagg: false,
    minBucketSize: numberFlag(args, 'min-bucket-size', MATRIX_DEFAULTS.minBucketSize, { min: 2, max: 2000, integer: true }),
    dp: 'off',
    dpEpsilon: d.dpEpsilon,
    dpDelta: d.dpDelta,
    aggregation: 'fedavg',
    ruleParams: {},
  };
}

/** The options of one cell: the shared ones, the mode's secure aggregation, the defense and the attack. */
export function cellOptions(base: SimulationOptions, mode: MatrixMode, defense: MatrixDefense, attack: MatrixAttack | null): SimulationOptions {
  const secure: Partial<SimulationOptions> =
    mode === 'bucketed'
      ? { secagg: true }
      : { secagg: false, secaggNeighbours: undefined, secaggThreshold: undefined, secaggBuckets: undefined, minBucketSize: undefined, secaggClamp: undefined };
  const { attack: _none, ...shared } = base;
  return { ...shared, ...secure, aggregation: defense.rule, ruleParams: { ...defense.params }, ...(attack === null ? {} : { attack: attack.spec }) };
}

export async function matrixCommand(argv: string[]): Promise<number> {
  const args = parseFlags(argv, {
    ...SIMULATION_RUN_FLAGS,
    attacks: { type: 'string', multiple: true },
    defenses: { type: 'string', multiple: true },
    fraction: { type: 'string' },
    modes: { type: 'string' },
    'no-clean': { type: 'boolean' },
  });
  if (boolFlag(args, 'help')) {
    process.stdout.write(MATRIX_HELP);
    return 0;
  }
  if (listFlag(args, 'attacks').length === 0) invalid(`--attacks is required: a list of attacks (${ATTACK_NAMES.join(', ')})`);
  if (listFlag(args, 'defenses').length === 0) invalid(`--defenses is required: a list of aggregation rules (${BUILTIN_AGGREGATION_RULES.map((r) => r.name).join(', ')})`);
  const fraction = numberFlag(args, 'fraction', MATRIX_DEFAULTS.fraction, { min: 1e-6, max: 0.999999 });
  const attacks = parseAttacks(listFlag(args, 'attacks'), fraction);
  const defenses = parseDefenses(listFlag(args, 'defenses'));
  const modes = parseModes(stringFlag(args, 'modes'));
  const base = baseOptions(args);
  const attackers = attackerCount(fraction, base.clients);
  if (attackers >= base.clients) invalid(`--fraction: ${attackers} attackers among ${base.clients} clients leave no honest client; lower the fraction`);
  if (base.cohortSize > base.clients) invalid(`--cohort-size: must be at most --clients (${base.clients}), got ${base.cohortSize}`);
  const bucketedOnly = ['secagg-neighbours', 'secagg-threshold', 'secagg-buckets', 'min-bucket-size', 'secagg-clamp'].find((f) => stringFlag(args, f) !== undefined);
  if (bucketedOnly !== undefined && !modes.includes('bucketed')) invalid(`--${bucketedOnly} needs --modes with bucketed`);
  if (modes.includes('plaintext') && ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'].includes(base.dropoutStage)) {
    invalid(`--dropout ...@${base.dropoutStage}: that stage exists only in bucketed mode; use --modes bucketed`);
  }
  if (modes.includes('bucketed')) {
    const cohort = base.cohortSize > 0 ? base.cohortSize : base.clients;
    const size = Math.floor(cohort / (base.secaggBuckets ?? 1));
    if (size < base.minBucketSize!) {
      invalid(`--${base.secaggBuckets === undefined ? 'min-bucket-size' : 'secagg-buckets'}: ${base.secaggBuckets ?? 1} bucket(s) of a cohort of ${cohort} are smaller than --min-bucket-size ${base.minBucketSize}`);
    }
  }
  const rows: Array<MatrixAttack | null> = [...(boolFlag(args, 'no-clean') ? [] : [null]), ...attacks];
  if (rows.length === 0) invalid('--no-clean with no attack leaves nothing to run');
  const json = boolFlag(args, 'json');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const reportDir = path.resolve(stringFlag(args, 'report-dir') ?? path.join('reports', `matrix-${stamp}-seed${base.seed}`));

  // Every cell: skipped up front when its rule cannot take the mode's contributions, else pending.
  interface Planned {
    cell: MatrixCell;
    options: SimulationOptions | null;
  }
  const plan: Planned[] = [];
  for (const mode of modes) {
    const n = contributionsPerRound(base, mode);
    for (const attack of rows) {
      for (const defense of defenses) {
        const label = attack?.label ?? CLEAN;
        const rule = BUILTIN_AGGREGATION_RULES.find((r) => r.name === defense.rule)!;
        const limitation = ruleLimitation(rule, defense.params, n, base.seed);
        plan.push(
          limitation === null
            ? { cell: emptyCell(mode, label, defense.label, 'pending'), options: cellOptions(base, mode, defense, attack) }
            : { cell: emptyCell(mode, label, defense.label, 'skipped', `${n} ${mode === 'bucketed' ? 'buckets' : 'clients'} per round: ${limitation}`), options: null },
        );
      }
    }
  }
  // Loaded only now: the harness pulls in TF.js and the coordinator, which bad flags should not wait for. Every cell's
  // federation is checked before the first runs, so a bad combination fails in seconds, not hours in.
  const { runSimulation, simulationFederation, checkSimulationOptions } = await import('./harness.js');
  for (const { cell, options } of plan) {
    if (options === null) continue;
    try {
      checkSimulationOptions(options);
      simulationFederation(options);
      // Class ids against Fashion-MNIST's ten classes (the run checks them only once its data is loaded).
      if (options.attack !== undefined) resolveAttackParams(options.attack, { cohortSize: contributionsPerRound(options, 'plaintext'), numClasses: 10 });
    } catch (error) {
      if (isCohortError(error, 'CONFIG_INVALID')) {
        const message = error.message;
        invalid(message.startsWith('--attack: ') ? `--attacks (${cell.attack}): ${message.slice('--attack: '.length)}` : `cell ${cell.mode} · ${cell.attack} · ${cell.defense}: ${message}`);
      }
      throw error;
    }
  }

  const report: MatrixReport = {
    modes: [...modes],
    attacks: rows.map((a) => a?.label ?? CLEAN),
    defenses: defenses.map((x) => x.label),
    cells: plan.map((p) => p.cell),
    subtitle:
      `fashion-mnist · ${base.clients} clients · ${base.partition} · ${attackers} attacker${attackers === 1 ? '' : 's'} (${Number((fraction * 100).toPrecision(6))}%) · ` +
      `${base.rounds} round${base.rounds === 1 ? '' : 's'} · ${base.model} · seed ${base.seed}` +
      (modes.includes('bucketed') ? ` · buckets of ≥ ${base.minBucketSize}${base.secaggBuckets === undefined ? '' : ` (${base.secaggBuckets})`}` : ''),
    settings: {
      dataset: 'fashion-mnist',
      clients: base.clients,
      attackers,
      fraction,
      partition: base.partition,
      rounds: base.rounds,
      seed: base.seed,
      model: base.model,
      epochs: base.epochs,
      batchSize: base.batchSize,
      optimizer: base.optimizer,
      learningRate: base.learningRate,
      serverOptimizer: base.serverOptimizer,
      cohortSize: base.cohortSize,
      trainSize: base.trainSize,
      testSize: base.testSize,
      dropout: base.dropout,
      clipNorm: base.clipNorm,
      minBucketSize: modes.includes('bucketed') ? (base.minBucketSize ?? null) : null,
      secaggBuckets: modes.includes('bucketed') ? (base.secaggBuckets ?? null) : null,
    },
  };
  await writeMatrixReport(reportDir, report);

  const runs = plan.filter((p) => p.options !== null);
  let done = 0;
  let secondsSpent = 0;
  let failed = 0;
  for (const [index, planned] of plan.entries()) {
    const { cell, options } = planned;
    if (options === null) continue;
    const relative = matrixCellDir(cell.mode, cell.attack, cell.defense);
    const dir = path.join(reportDir, ...relative.split('/'));
    const progress = createProgressDisplay({ stream: process.stderr, totalRounds: options.rounds });
    const left = done === 0 ? '' : `, about ${formatDuration((secondsSpent / done) * (runs.length - done))} left`;
    progress.log(`matrix ${done + 1}/${runs.length}: ${cell.mode} · ${cell.attack} · ${cell.defense}${left}`);
    const started = Date.now();
    let next: MatrixCell;
    try {
      const result = await runSimulation(options, { progress, log: (line) => progress.log(line) });
      progress.finish();
      const summary = { ...result.summary, reportDir: dir };
      await writeReport(dir, summary);
      next = matrixCellOf(summary, { mode: cell.mode, attack: cell.attack, defense: cell.defense, reportDir: relative });
    } catch (error) {
      progress.finish();
      failed++;
      const message = error instanceof Error ? error.message : String(error);
      progress.log(`matrix cell ${cell.mode} · ${cell.attack} · ${cell.defense} failed: ${message}`);
      next = { ...emptyCell(cell.mode, cell.attack, cell.defense, 'failed', message.split('\n')[0] ?? message), seconds: (Date.now() - started) / 1000 };
    }
    done++;
    secondsSpent += (Date.now() - started) / 1000;
    report.cells[index] = next;
    await writeMatrixReport(reportDir, report);
  }

  if (json) {
    process.stdout.write(`${JSON.stringify({ matrix: matrixToJson(report), reportDir })}\n`);
  } else {
    process.stdout.write(`${renderMatrixMarkdown(report, { detail: false })}report: ${reportDir} (matrix.md, matrix.csv, matrix.json, matrix.svg; ${formatDuration(secondsSpent)} for ${done} simulation${done === 1 ? '' : 's'})\n`);
  }
  return failed === 0 ? 0 : 1;
}
