/** `cohort simulate` (a whole federation on loopback) and `cohort data split` (per-client data folders). */
import path from 'node:path';
import { CohortError } from '../../shared/src/core/errors.js';
import { subsetDataset } from '../../shared/src/core/data/dataset.js';
import { createSeededRng, deriveSeed } from '../../shared/src/core/rng/rng.js';
import { boolFlag, choiceFlag, numberFlag, parseFlags, requiredString, stringFlag } from '../../shared/src/cli/args.js';
import { loadFashionMnist } from '../../shared/src/data/fashion-mnist.js';
import { BUILTIN_AGGREGATION_RULES } from '../../shared/src/core/aggregation/builtin-rules.js';
import { ATTACKS, chooseAttackers, parseAttackSpec } from './attacks/spec.js';
import { parsePartitionSpec, partitionBySpec, stratifiedSample } from './datasets/partition.js';
import { writeIdxPair } from './datasets/idx-writer.js';
import { DROPOUT_STAGES, SIMULATION_DEFAULTS, SIMULATION_RUN_FLAGS } from './defaults.js';
import type { SimulationOptions } from './defaults.js';
import { createProgressDisplay, renderSummaryTable, renderSweepTable, summaryToJson, sweepRowOf, sweepRunDirName, sweepToJson, writeReport, writeSweepReport } from './report/index.js';
import type { SweepRow } from './report/index.js';

const d = SIMULATION_DEFAULTS;

export const SIMULATE_HELP = `cohort simulate [flags]

Runs a real federation on this machine: a coordinator on an ephemeral loopback port with a temporary SQLite
database, and --clients client agents in worker threads, each a real gRPC client training with TF.js on its share
of Fashion-MNIST. Writes a report folder (per-round JSON and CSV, accuracy chart, summary) and prints a summary.

  cohort simulate matrix --attacks LIST --defenses LIST [flags]
                           attacks × defenses, one simulation per cell, into a table and a heat map (its own --help)

  --clients N              client agents (default ${d.clients})
  --rounds R               committed rounds to run (default ${d.rounds})
  --seed S                 seeds partition, initial model, client identities, selection, dropouts (default ${d.seed})
  --partition SPEC         iid | dirichlet:ALPHA | shards:N (default ${d.partition})
  --dropout RATE[@STAGE]   chance a selected client drops out of a round; STAGE = configuring, training, upload,
                           or a secure-aggregation stage: advertise-keys, share-keys, masked-input,
                           consistency-check, unmasking
                           or any (default any)
  --model NAME             fmnist-cnn (default) or fmnist-mlp
  --epochs E --batch-size B --lr LR --optimizer sgd|momentum|adam     local training (default ${d.epochs}, ${d.batchSize}, ${d.learningRate}, ${d.optimizer})
  --server-optimizer NAME  fedavg (default), fedavgm, fedadam, fedyogi;  --server-lr LR
  --cohort-size N          clients per round (default all);  --min-clients N (default ${d.minClients}; with
                           --dp distributed the cohort less the expected dropouts, since each client's share of the
                           noise is sized for that many)
  --train-size N --test-size N   stratified sample of the dataset (default ${d.trainSize} / ${d.testSize}; 0 = all)
  --data-dir DIR           Fashion-MNIST folder (default: $COHORT_DATA_DIR, /usr/share/datasets/fashion-mnist,
                           then the subset shipped in data/)
  --workers N              worker threads (default: one per core)
  --backend NAME           auto (default), wasm, cpu, tensorflow, tensorflow-gpu
  --report-dir DIR         where to write the report (default reports/sim-<time>-seed<S>)
  --json                   print only the summary as one JSON object on stdout
  --keep-data              keep the coordinator's database and model files, and print where
  --verbose                coordinator and agent logs
  --clip-norm C            clip each client update to L2 norm C (default none)
  --secagg                 secure aggregation (SecAgg+): the coordinator learns only sums
  --secagg-neighbours K    neighbour degree of the SecAgg+ graph (default 4·⌈log2 n⌉, even, at most n − 1)
  --secagg-threshold T     Shamir threshold, more than K/2 (default ⌊K/2⌋ + 1)
  --secagg-buckets B       bucketed mode: B independent secure sums of at least --min-bucket-size M clients
  --min-bucket-size M      bucketed mode, buckets of at least M clients (default 10; as many as fit)
  --secagg-clamp X         per-coordinate clamp before quantization (default the clip norm, or 1)
  --dp MODE                differential privacy (clip norm 1 unless --clip-norm); the federation stops before a
                           round would exceed the budget. MODE: off (default); central (the coordinator adds
                           Gaussian noise to the sum); distributed (each client adds Skellam noise to its quantized
                           update, so the secure sum carries it all; needs --secagg); local (each client adds
                           Gaussian noise to its own update; ε is per client over the rounds it joined)
  --adaptive-clip Q        central mode: the clip norm tracks the Q-quantile of update norms (Andrew et al. 2021)
  --dp-epsilon E --dp-delta D     the privacy budget (default 8, 1e-5)
  --dp-epsilon E1,E2,...   a sweep: one run per budget (same seed, data and clients), plus one without DP, each
                           reported in --report-dir/epsilon-E (the baseline in no-dp/), then sweep.csv, sweep.svg
                           (accuracy vs ε) and sweep.json there and a table of all runs (--json: {"sweep": [...]})
  --no-baseline            a sweep without the run without DP
  --dp-noise Z             noise multiplier (default: calibrated to spend the budget over --rounds)
  --sampling-rate Q        Poisson sampling of the cohort with rate Q (privacy amplification); default a fixed cohort
  --aggregation RULE       aggregation rule (default fedavg), one of
                           ${BUILTIN_AGGREGATION_RULES.map((r) => r.name).join(', ')}
  --rule-param K=V         a numeric parameter of the rule, e.g. f=1 for Krum (repeat, or K=V,K=V)
  --root-size N            fltrust: the server's clean root dataset, N training examples outside the clients' sample
                           (default ${d.rootSize})
  --attack NAME:FRACTION[:K=V,...]
                           ⌈FRACTION·clients⌉ clients (a seeded choice) are attackers: real agents whose training
                           step is malicious. The report names them, the verdicts' precision and recall at finding
                           them, and for a backdoor its success rate on triggered held-out images. Colluding attacks
                           pool only the attackers' own honest updates (they never see the others'). NAME:
${ATTACKS.map((a) => `    ${a.name.padEnd(12)}${a.summary}${Object.keys(a.params).length > 0 ? `\n    ${''.padEnd(12)}K: ${Object.entries(a.params).map(([k, p]) => (p.default === undefined ? k : `${k}=${p.default}`)).join(', ')}` : ''}`).join('\n')}
`;

const SECAGG_DROPOUT_STAGES: readonly string[] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'];

export function optionalNumber(args: Parameters<typeof stringFlag>[0], name: string, limits: Parameters<typeof numberFlag>[3]): number | undefined {
  return stringFlag(args, name) === undefined ? undefined : numberFlag(args, name, 0, limits);
}

/** "0.1", "0.1@training" -> rate and stage. */
export function parseDropout(value: string | undefined): { rate: number; stage: SimulationOptions['dropoutStage'] } {
  if (value === undefined) return { rate: 0, stage: 'any' };
  const [rateText, stage = 'any', ...rest] = value.split('@');
  const rate = Number(rateText);
  const stages: readonly string[] = DROPOUT_STAGES;
  if (rest.length > 0 || rateText === undefined || rateText.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate >= 1 || !stages.includes(stage)) {
    throw new CohortError('CONFIG_INVALID', `--dropout: expected RATE[@STAGE] with RATE in [0, 1) and STAGE one of ${stages.join(', ')}, got "${value}"`);
  }
  return { rate, stage: stage as SimulationOptions['dropoutStage'] };
}

/** "2,4,8" -> the budgets of a sweep; null for a single value (or none), which numberFlag reads as before. */
export function parseEpsilonList(value: string | undefined): number[] | null {
  if (value === undefined || !value.includes(',')) return null;
  const budgets: number[] = [];
  for (const item of value.split(',').map((x) => x.trim())) {
    const e = Number(item);
    if (item === '' || !Number.isFinite(e) || e <= 0) throw new CohortError('CONFIG_INVALID', `--dp-epsilon: "${item}" is not a number > 0`);
    if (e < 1e-6 || e > 1e6) throw new CohortError('CONFIG_INVALID', `--dp-epsilon: "${item}" is outside 0.000001..1000000`);
    if (budgets.includes(e)) throw new CohortError('CONFIG_INVALID', `--dp-epsilon: "${item}" is listed twice`);
    budgets.push(e);
  }
  return budgets;
}

/** --aggregation RULE and its --rule-param K=V (repeated or comma-separated), validated by the rule itself. */
export function parseAggregation(rule: string | undefined, ruleParams: readonly string[] | undefined): { aggregation: string; ruleParams: Record<string, number> } {
  const name = rule ?? 'fedavg';
  const found = BUILTIN_AGGREGATION_RULES.find((r) => r.name === name);
  if (found === undefined) throw new CohortError('CONFIG_INVALID', `--aggregation: unknown rule "${name}"; known rules: ${BUILTIN_AGGREGATION_RULES.map((r) => r.name).join(', ')}`);
  const params: Record<string, number> = {};
  for (const item of (ruleParams ?? []).flatMap((p) => p.split(','))) {
    const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(\S+)\s*$/.exec(item);
    const value = Number(match?.[2]);
    if (match === null || !Number.isFinite(value)) throw new CohortError('CONFIG_INVALID', `--rule-param: expected K=V with a number V, got "${item}"`);
    if (match[1]! in params) throw new CohortError('CONFIG_INVALID', `--rule-param: ${match[1]} is given twice`);
    params[match[1]!] = value;
  }
  try {
    found.resolveParams(params);
  } catch (error) {
    throw new CohortError('CONFIG_INVALID', `--rule-param (${name}): ${(error as Error).message}`);
  }
  return { aggregation: name, ruleParams: params };
}

/** The options every simulation run reads from the shared run flags (SIMULATION_RUN_FLAGS), with the caller's defaults. */
export function parseRunOptions(
  args: Parameters<typeof stringFlag>[0],
  defaults: { clients: number; minClientsFlag: number; partition: string },
): Omit<SimulationOptions, 'keepData' | 'secagg' | 'minBucketSize' | 'dp' | 'dpEpsilon' | 'dpDelta' | 'aggregation' | 'ruleParams'> {
  const dropout = parseDropout(stringFlag(args, 'dropout'));
  const partition = stringFlag(args, 'partition') ?? defaults.partition;
  parsePartitionSpec(partition);
  return {
    clients: numberFlag(args, 'clients', defaults.clients, { min: defaults.minClientsFlag, max: 2000, integer: true }),
    rounds: numberFlag(args, 'rounds', d.rounds, { min: 1, max: 100_000, integer: true }),
    seed: numberFlag(args, 'seed', d.seed, { min: 0, max: 2 ** 32 - 1, integer: true }),
    partition,
    dropout: dropout.rate,
    dropoutStage: dropout.stage,
    model: choiceFlag(args, 'model', ['fmnist-cnn', 'fmnist-mlp'] as const, d.model),
    epochs: numberFlag(args, 'epochs', d.epochs, { min: 1, max: 1000, integer: true }),
    batchSize: numberFlag(args, 'batch-size', d.batchSize, { min: 1, max: 65536, integer: true }),
    optimizer: choiceFlag(args, 'optimizer', ['sgd', 'momentum', 'adam'] as const, d.optimizer),
    learningRate: numberFlag(args, 'lr', d.learningRate, { min: 1e-9, max: 100 }),
    serverOptimizer: choiceFlag(args, 'server-optimizer', ['fedavg', 'fedavgm', 'fedadam', 'fedyogi'] as const, d.serverOptimizer),
    serverLearningRate: optionalNumber(args, 'server-lr', { min: 1e-9, max: 100 }),
    cohortSize: numberFlag(args, 'cohort-size', d.cohortSize, { min: 0, max: 2000, integer: true }),
    minClients: numberFlag(args, 'min-clients', d.minClients, { min: 1, max: 2000, integer: true }),
    trainSize: numberFlag(args, 'train-size', d.trainSize, { min: 0, integer: true }),
    testSize: numberFlag(args, 'test-size', d.testSize, { min: 0, integer: true }),
    dataDir: stringFlag(args, 'data-dir'),
    workers: numberFlag(args, 'workers', d.workers, { min: 0, max: 64, integer: true }),
    backend: choiceFlag(args, 'backend', ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, d.backend),
    trainingDeadlineMs: numberFlag(args, 'training-deadline', d.trainingDeadlineMs / 1000, { min: 1, max: 86_400 }) * 1000,
    configureDeadlineMs: d.configureDeadlineMs,
    verbose: boolFlag(args, 'verbose'),
    clipNorm: numberFlag(args, 'clip-norm', 0, { min: 0, max: 1e6 }),
    rootSize: numberFlag(args, 'root-size', d.rootSize, { min: 1, max: 100_000, integer: true }),
    secaggNeighbours: optionalNumber(args, 'secagg-neighbours', { min: 1, max: 2000, integer: true }),
    secaggThreshold: optionalNumber(args, 'secagg-threshold', { min: 1, max: 2000, integer: true }),
    secaggBuckets: optionalNumber(args, 'secagg-buckets', { min: 1, max: 2000, integer: true }),
    secaggClamp: optionalNumber(args, 'secagg-clamp', { min: 1e-9, max: 1e6 }),
  };
}

export async function simulateCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'matrix') return (await import('./matrix.js')).matrixCommand(argv.slice(1));
  const args = parseFlags(argv, {
    ...SIMULATION_RUN_FLAGS,
    secagg: { type: 'boolean' },
    dp: { type: 'string' },
    'dp-epsilon': { type: 'string' },
    'no-baseline': { type: 'boolean' },
    'dp-delta': { type: 'string' },
    'dp-noise': { type: 'string' },
    'adaptive-clip': { type: 'string' },
    'sampling-rate': { type: 'string' },
    aggregation: { type: 'string' },
    'rule-param': { type: 'string', multiple: true },
    attack: { type: 'string' },
    'keep-data': { type: 'boolean' },
  });
  if (boolFlag(args, 'help')) {
    process.stdout.write(SIMULATE_HELP);
    return 0;
  }
  const sweepBudgets = parseEpsilonList(stringFlag(args, 'dp-epsilon'));
  const options: SimulationOptions = {
    ...parseRunOptions(args, { clients: d.clients, minClientsFlag: 1, partition: d.partition }),
    keepData: boolFlag(args, 'keep-data'),
    secagg: boolFlag(args, 'secagg'),
    minBucketSize: optionalNumber(args, 'min-bucket-size', { min: 2, max: 2000, integer: true }),
    dp: choiceFlag(args, 'dp', ['off', 'central', 'distributed', 'local'] as const, 'off'),
    dpEpsilon: sweepBudgets?.[0] ?? numberFlag(args, 'dp-epsilon', d.dpEpsilon, { min: 1e-6, max: 1e6 }),
    dpDelta: numberFlag(args, 'dp-delta', d.dpDelta, { min: 1e-300, max: 0.999999 }),
    dpNoise: optionalNumber(args, 'dp-noise', { min: 1e-6, max: 1e6 }),
    samplingRate: optionalNumber(args, 'sampling-rate', { min: 1e-9, max: 1 }),
    adaptiveClipQuantile: optionalNumber(args, 'adaptive-clip', { min: 1e-6, max: 1 - 1e-6 }),
    ...parseAggregation(stringFlag(args, 'aggregation'), args.values['rule-param'] as string[] | undefined),
    ...(stringFlag(args, 'attack') === undefined ? {} : { attack: parseAttackSpec(stringFlag(args, 'attack')!) }),
  };
  if (options.attack !== undefined) {
    const attackers = chooseAttackers(options.attack.fraction, options.clients, options.seed).length;
    if (attackers >= options.clients) throw new CohortError('CONFIG_INVALID', `--attack: ${attackers} attackers among ${options.clients} clients leave no honest client; lower the fraction`);
  }
  const dpOnly = ['dp-epsilon', 'dp-delta', 'dp-noise'].find((f) => stringFlag(args, f) !== undefined);
  if (options.dp === 'distributed' && stringFlag(args, 'min-clients') === undefined) {
    // Clients size their noise share for minClients − 1 others: the closer it is to the survivors, the less excess noise.
    // Poisson sampling: two standard deviations below the expected sample, so few rounds fall short of it.
    const q = options.samplingRate;
    const cohort =
      q !== undefined
        ? q * options.clients - 2 * Math.sqrt(options.clients * q * (1 - q))
        : options.cohortSize > 0
          ? Math.min(options.cohortSize, options.clients)
          : options.clients;
    options.minClients = Math.max(2, Math.floor(cohort * (1 - options.dropout)));
  }
  if (dpOnly !== undefined && options.dp === 'off') throw new CohortError('CONFIG_INVALID', `--${dpOnly} needs --dp central, distributed or local`);
  if (boolFlag(args, 'no-baseline') && sweepBudgets === null) throw new CohortError('CONFIG_INVALID', '--no-baseline needs a list of budgets: --dp-epsilon E1,E2,...');
  if (options.dp === 'central' && options.secagg) {
    throw new CohortError('CONFIG_INVALID', '--dp central adds noise at the coordinator, which sees only sums under --secagg; use --dp distributed with --secagg');
  }
  if (options.dp === 'distributed' && !options.secagg) throw new CohortError('CONFIG_INVALID', '--dp distributed needs --secagg: the secure sum is what carries the clients\' noise');
  if (options.adaptiveClipQuantile !== undefined && options.dp !== 'central') throw new CohortError('CONFIG_INVALID', '--adaptive-clip needs --dp central');
  const secaggOnly = ['secagg-neighbours', 'secagg-threshold', 'secagg-buckets', 'min-bucket-size', 'secagg-clamp'].find((f) => stringFlag(args, f) !== undefined);
  if (secaggOnly !== undefined && !options.secagg) throw new CohortError('CONFIG_INVALID', `--${secaggOnly} needs --secagg`);
  if (SECAGG_DROPOUT_STAGES.includes(options.dropoutStage) && !options.secagg) {
    throw new CohortError('CONFIG_INVALID', `--dropout ...@${options.dropoutStage}: that stage exists only with --secagg`);
  }
  const json = boolFlag(args, 'json');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const reportDir = path.resolve(stringFlag(args, 'report-dir') ?? path.join('reports', `sim-${stamp}-seed${options.seed}`));
  if (sweepBudgets !== null) {
    // A sweep: one run per budget, smallest first, then the baseline without DP; every other option identical.
    const runs: Array<{ targetEpsilon: number | null; options: SimulationOptions }> = [...sweepBudgets]
      .sort((a, b) => a - b)
      .map((e) => ({ targetEpsilon: e, options: { ...options, dpEpsilon: e } }));
    if (!boolFlag(args, 'no-baseline')) runs.push({ targetEpsilon: null, options: { ...options, dp: 'off', dpNoise: undefined, adaptiveClipQuantile: undefined } });
    const { runSimulation } = await import('./harness.js');
    const { dpPlanOf } = await import('../../coordinator/src/privacy/budget.js');
    // z as the coordinator resolves it from the run's federation config (the summary holds the config, not the
    // calibrated z); empty when that config is missing or cannot be resolved.
    const noiseOf = (o: SimulationOptions, config: Record<string, unknown>): number | null => {
      if (o.dp === 'off') return null;
      if (o.dpNoise !== undefined) return o.dpNoise;
      if (typeof config['federation'] !== 'object' || config['federation'] === null) return null;
      try {
        return dpPlanOf(config['federation'] as Parameters<typeof dpPlanOf>[0])?.noiseMultiplier ?? null;
      } catch {
        return null;
      }
    };
    const rows: SweepRow[] = [];
    const kept: string[] = [];
    let allEnded = true;
    let dataset = 'fashion-mnist';
    for (const [i, run] of runs.entries()) {
      const dir = path.join(reportDir, sweepRunDirName(run.targetEpsilon));
      const progress = createProgressDisplay({ stream: process.stderr, totalRounds: run.options.rounds });
      progress.log(`sweep ${i + 1}/${runs.length}: ${run.targetEpsilon === null ? 'baseline, --dp off' : `--dp ${run.options.dp} --dp-epsilon ${run.targetEpsilon}`}`);
      const result = await runSimulation(run.options, { progress, log: (line) => progress.log(line) });
      progress.finish();
      const summary = { ...result.summary, reportDir: dir };
      await writeReport(dir, summary);
      dataset = summary.dataset;
      rows.push(sweepRowOf(summary, { targetEpsilon: run.targetEpsilon, mechanism: run.options.dp, noiseMultiplier: noiseOf(run.options, summary.config), reportDir: path.relative(reportDir, dir) }));
      if (result.dataDir !== null) kept.push(`coordinator data of ${sweepRunDirName(run.targetEpsilon)} kept in ${result.dataDir}\n`);
      // The same rule as a single run: all rounds committed, or stopped by the privacy budget.
      allEnded &&= summary.roundsCommitted === run.options.rounds || summary.config['outcome'] === 'budget-exhausted';
    }
    const subtitle = `${dataset} · ${options.clients} clients · ${options.partition} · seed ${options.seed} · dp ${options.dp}, delta ${options.dpDelta}`;
    await writeSweepReport(reportDir, rows, { subtitle });
    if (json) {
      process.stdout.write(`${JSON.stringify({ sweep: sweepToJson(rows).runs, reportDir })}\n`);
    } else {
      process.stdout.write(`${renderSweepTable(rows)}report: ${reportDir}\n${kept.join('')}`);
    }
    return allEnded ? 0 : 1;
  }
  const progress = createProgressDisplay({ stream: process.stderr, totalRounds: options.rounds });
  // Loaded only now: the harness pulls in TF.js and the coordinator, which bad flags should not wait for.
  const { runSimulation } = await import('./harness.js');
  const result = await runSimulation(options, { progress, log: (line) => progress.log(line) });
  progress.finish();
  const summary = { ...result.summary, reportDir };
  await writeReport(reportDir, summary);
  if (json) {
    process.stdout.write(`${JSON.stringify(summaryToJson(summary))}\n`);
  } else {
    process.stdout.write(`${renderSummaryTable(summary, { color: process.stdout.isTTY === true })}\n`);
    if (result.dataDir !== null) process.stdout.write(`coordinator data kept in ${result.dataDir}\n`);
  }
  // A federation stopped by its privacy budget ended as designed.
  return summary.roundsCommitted === options.rounds || summary.config['outcome'] === 'budget-exhausted' ? 0 : 1;
}

export const DATA_HELP = `cohort data split --clients N --out DIR [--partition SPEC] [--seed S] [--train-size N] [--data-dir DIR]

Writes one folder per client (DIR/client-01 ...) holding its share of Fashion-MNIST as gzip IDX files, ready for
\`cohort client run --data DIR/client-01\`, plus DIR/test with the held-out split.
`;

export async function dataCommand(argv: string[]): Promise<number> {
  if (argv[0] !== 'split') throw new CohortError('CONFIG_INVALID', `unknown command "cohort data ${argv[0] ?? ''}"; did you mean "cohort data split"?`);
  const args = parseFlags(argv.slice(1), {
    clients: { type: 'string' },
    out: { type: 'string' },
    partition: { type: 'string' },
    seed: { type: 'string' },
    'train-size': { type: 'string' },
    'data-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (boolFlag(args, 'help')) {
    process.stdout.write(DATA_HELP);
    return 0;
  }
  const clients = numberFlag(args, 'clients', 2, { min: 1, max: 2000, integer: true });
  const out = requiredString(args, 'out', 'the folder to write client data folders into');
  const seed = numberFlag(args, 'seed', 1, { min: 0, integer: true });
  const spec = parsePartitionSpec(stringFlag(args, 'partition') ?? 'iid');
  const trainSize = numberFlag(args, 'train-size', 6000, { min: 0, integer: true });
  const dataset = await loadFashionMnist({ dataDir: stringFlag(args, 'data-dir') });
  const train = trainSize === 0 || trainSize >= dataset.train.count
    ? dataset.train
    : subsetDataset(dataset.train, stratifiedSample(dataset.train.labels, dataset.train.numClasses, trainSize, createSeededRng(deriveSeed(seed, 'train-sample'))));
  const parts = partitionBySpec(spec, train.labels, train.numClasses, clients, createSeededRng(deriveSeed(seed, 'partition')));
  const width = String(clients).length < 2 ? 2 : String(clients).length;
  parts.forEach((indices, i) => {
    const dir = path.join(out, `client-${String(i + 1).padStart(width, '0')}`);
    writeIdxPair(dir, 'train', subsetDataset(train, indices));
    process.stdout.write(`${dir}: ${indices.length} examples\n`);
  });
  writeIdxPair(path.join(out, 'test'), 't10k', dataset.test);
  writeIdxPair(path.join(out, 'test'), 'train', dataset.test);
  process.stdout.write(`${path.join(out, 'test')}: ${dataset.test.count} held-out examples\n`);
  return 0;
}
