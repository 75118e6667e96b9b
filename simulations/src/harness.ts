/**
 * The simulation harness: a real coordinator on an ephemeral loopback port with a temporary SQLite database, and N
 * real client agents in worker threads talking gRPC to it. The harness acts as an operator through the
 * OperatorService (create the federation, issue tokens, watch events, read rounds) and writes a report.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { CohortError } from '../../shared/src/core/errors.js';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import { subsetDataset } from '../../shared/src/core/data/dataset.js';
import { createSeededRng, deriveSeed } from '../../shared/src/core/rng/rng.js';
import { sha256 } from '../../shared/src/crypto/hash.js';
import { cryptoReady, signingKeyPairFromSeed } from '../../shared/src/crypto/sodium.js';
import { clientIdFromPublicKey } from '../../shared/src/protocol/identity.js';
import { layoutFromProto } from '../../shared/src/protocol/mapping.js';
import { bytesToFloat32 } from '../../shared/src/core/tensor/bytes.js';
import { evaluateModel } from '../../client/src/training/index.js';
import { loadFashionMnist } from '../../shared/src/data/fashion-mnist.js';
import { packageRoot } from '../../shared/src/data/repo-root.js';
import type { Round } from '../../shared/src/gen/fl/v1/operator.pb.js';
import { Coordinator } from '../../coordinator/src/coordinator.js';
import { parseFederationConfig } from '../../coordinator/src/federation/config.js';
import type { FederationConfig, FederationConfigInput } from '../../coordinator/src/federation/config.js';
import { federationConfigToProto } from '../../coordinator/src/federation/spec-proto.js';
import { OperatorClient } from '../../coordinator/src/operator-client.js';
import { parsePartitionSpec, partitionBySpec, stratifiedSample } from './datasets/partition.js';
import { chooseAttackers, createCollusionBroker, flipLabels, poisonWithBackdoor, resolveAttackParams, triggeredTestSet } from './attacks/index.js';
import type { AttackParamValue, CollusionBroker } from './attacks/index.js';
import type { AttackReport, ProgressDisplay, RoundDetection, RoundReport, SimulationSummary } from './report/index.js';
import type { HarnessMessage, WorkerAttack, WorkerClient, WorkerInput, WorkerMessage } from './worker.js';
import type { SimulationOptions } from './defaults.js';

export { SIMULATION_DEFAULTS } from './defaults.js';
export type { SimulationOptions } from './defaults.js';

export interface SimulationIo {
  progress: ProgressDisplay;
  log: (line: string) => void;
  /** Coordinator log lines (verbose only). */
  coordinatorLog?: (line: string) => void;
}

export interface SimulationResult {
  summary: Omit<SimulationSummary, 'reportDir'>;
  /** The coordinator's data folder when kept. */
  dataDir: string | null;
}

/** Worker entry: the compiled worker when running from source (tests build first), else next to this file. */
function workerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) return new URL(`file://${path.join(packageRoot(), 'dist', 'simulations', 'src', 'worker.js')}`);
  return new URL('./worker.js', import.meta.url);
}

/** Validates options; the errors name the flag. */
export function checkSimulationOptions(o: SimulationOptions): void {
  const need = (ok: boolean, flag: string, message: string): void => {
    if (!ok) throw new CohortError('CONFIG_INVALID', `--${flag}: ${message}`);
  };
  need(Number.isInteger(o.clients) && o.clients >= 1 && o.clients <= 2000, 'clients', `must be an integer in 1..2000, got ${o.clients}`);
  need(Number.isInteger(o.rounds) && o.rounds >= 1, 'rounds', `must be a positive integer, got ${o.rounds}`);
  need(o.dropout >= 0 && o.dropout < 1, 'dropout', `rate must be in [0, 1), got ${o.dropout}`);
  need(o.cohortSize >= 0 && o.cohortSize <= o.clients, 'cohort-size', `must be at most --clients (${o.clients}), got ${o.cohortSize}`);
  need(o.minClients >= 1 && o.minClients <= (o.cohortSize || o.clients), 'min-clients', `must be in 1..${o.cohortSize || o.clients}, got ${o.minClients}`);
  parsePartitionSpec(o.partition);
  if (o.attack !== undefined) {
    const attackers = chooseAttackers(o.attack.fraction, o.clients, o.seed).length;
    need(attackers < o.clients, 'attack', `${attackers} attackers among ${o.clients} clients leave no honest client; lower the fraction`);
  }
}

/** Runs a whole simulated federation and returns its summary (the caller writes the report). */
export async function runSimulation(options: SimulationOptions, io: SimulationIo): Promise<SimulationResult> {
  checkSimulationOptions(options);
  const startedAt = new Date();
  await cryptoReady();

  const dataset = await loadFashionMnist({ dataDir: options.dataDir });
  const { train, root } = clientAndRootData(dataset.train, options, io);
  const test = sample(dataset.test, options.testSize, createSeededRng(deriveSeed(options.seed, 'test-sample')));
  const partition = partitionBySpec(parsePartitionSpec(options.partition), train.labels, train.numClasses, options.clients, createSeededRng(deriveSeed(options.seed, 'partition')));
  io.log(`dataset: Fashion-MNIST from ${dataset.dir} (${dataset.origin}); ${train.count} training examples over ${options.clients} clients (${options.partition}), ${test.count} held-out`);
  const cohortSize = options.cohortSize > 0 ? options.cohortSize : options.clients;
  const attack = options.attack === undefined ? null : planAttack(options, cohortSize, train.numClasses);
  const triggered = attack?.spec.name === 'backdoor' ? triggeredTestSet(test, { target: attack.params['target'] as number, size: attack.params['size'] as number }) : null;
  if (attack !== null) {
    io.log(`attack: ${attack.spec.name} by ${attack.indices.length} of ${options.clients} clients (${attack.indices.map((i) => i + 1).join(', ')})`);
  }

  const dataDir = mkdtempSync(path.join(tmpdir(), 'cohort-sim-'));
  const coordinator = await Coordinator.create({
    dataDir,
    listen: '127.0.0.1:0',
    adminToken: `sim_${randomBytes(18).toString('base64url')}`,
    heartbeatMs: 5_000,
    datasets: { 'simulation-test': test, ...(root === null ? {} : { [ROOT_DATASET]: root }) },
    log: options.verbose ? (io.coordinatorLog ?? io.log) : () => undefined,
    schedulerPollMs: 100,
    // Central DP noise replays with the run's seed, like everything else a simulation draws.
    noiseRng: createSeededRng(deriveSeed(options.seed, 'coordinator-dp-noise')),
    ruleRng: createSeededRng(deriveSeed(options.seed, 'coordinator-rule-noise')),
  });
  const info = await coordinator.start();
  const operator = new OperatorClient(info.address, info.adminToken);
  const workers: Worker[] = [];
  let stopWatch: (() => void) | null = null;
  let broker: CollusionBroker | null = null;
  try {
    const config = simulationFederation(options);
    const federation = await operator.createFederation(federationConfigToProto(config), true);
    io.log(`coordinator on ${info.address}; federation ${config.name}: ${config.rounds} rounds, ${config.selection.cohortSize} clients per round, ${options.model}, ${config.serverOptimizer.kind}`);

    // Watch events over gRPC, as an operator would. A commit emits its quarantines just before round.committed.
    const quarantinedIn = new Map<string, string[]>();
    let quarantinedPending: string[] = [];
    const finished = new Promise<'completed' | 'failed' | 'budget-exhausted'>((resolve, reject) => {
      let stage = '';
      // The display counts committed rounds (an aborted attempt is retried under the same display number).
      let committed = 0;
      let roundNumber = 1;
      let done = 0;
      let expected = 0;
      let lastAccuracy: number | null = null;
      stopWatch = operator.watchEvents(federation.id, 0, (event) => {
        const m = event.metrics?.values ?? {};
        switch (event.type) {
          case 'round.started':
            roundNumber = Math.min(options.rounds, committed + 1);
            stage = 'selecting';
            done = 0;
            break;
          case 'round.stage':
            stage = event.message.replace(/^round \d+ entered /, '');
            expected = m['live'] ?? expected;
            break;
          case 'round.progress':
            done = m['uploaded'] ?? done;
            expected = (m['selected'] ?? expected) - (m['dropouts'] ?? 0);
            break;
          case 'client.quarantined':
            quarantinedPending.push(event.clientId);
            return;
          case 'round.committed':
            quarantinedIn.set(event.roundId, quarantinedPending);
            quarantinedPending = [];
            stage = 'committed';
            committed++;
            lastAccuracy = m['eval_accuracy'] ?? lastAccuracy;
            io.progress.roundFinished(progressReport(roundNumber, 'committed', null, m));
            break;
          case 'round.aborted':
            stage = 'aborted';
            io.progress.roundFinished(progressReport(roundNumber, 'aborted', event.message.replace(/^round \d+ aborted: /, ''), m));
            break;
          case 'federation.completed':
            return resolve('completed');
          case 'federation.failed':
            io.log(`federation failed: ${event.message}`);
            return resolve('failed');
          case 'federation.budget-exhausted':
            io.log(`privacy budget exhausted: ${event.message}`);
            return resolve('budget-exhausted');
          default:
            return;
        }
        io.progress.update({ round: roundNumber, stage, clientsDone: done, clientsExpected: expected, lastAccuracy });
      }, (error) => reject(new CohortError('INTERNAL', `event stream ended: ${error?.details ?? 'closed'}`)));
    });

    const tokens: string[] = [];
    for (let i = 0; i < options.clients; i++) tokens.push((await operator.createEnrollmentToken(`sim-client-${i + 1}`, 3600)).token);
    const clients: WorkerClient[] = partition.map((indices, i) => ({
      index: i,
      token: tokens[i]!,
      identitySeed: sha256(`cohort-simulation/${options.seed}/client-${i}`),
      displayName: `sim-client-${String(i + 1).padStart(String(options.clients).length, '0')}`,
      train: attack?.indices.includes(i) === true ? poisonData(attack, subsetDataset(train, indices), options.seed, i) : subsetDataset(train, indices),
    }));
    // Ids follow from the identity seeds (the agents derive the same ones when they enroll).
    const clientIds = clients.map((c) => clientIdFromPublicKey(signingKeyPairFromSeed(c.identitySeed).publicKey));
    const attackerIds = new Set(attack?.indices.map((i) => clientIds[i]!) ?? []);
    const workerCount = Math.max(1, Math.min(options.clients, options.workers > 0 ? options.workers : availableParallelism()));
    const post = (clientIndex: number, message: HarnessMessage): void => workers[clientIndex % workerCount]?.postMessage(message);
    broker =
      attack?.spec.kind === 'colluding'
        ? createCollusionBroker({
            name: attack.spec.name,
            params: attack.params,
            members: async (roundId) => {
              const round = await operator.getRound(roundId);
              const selected = new Set(round.selected);
              return { n: round.selected.length, attackers: attack.indices.filter((i) => selected.has(clientIds[i]!)) };
            },
            fallback: { n: cohortSize, attackers: attack.indices },
            deliver: (clientIndex, roundId, result) => post(clientIndex, { type: 'attack-update', clientIndex, roundId, ...result }),
            log: io.log,
          })
        : null;
    const workerAttack: WorkerAttack | null = attack === null ? null : { name: attack.spec.name, kind: attack.spec.kind, params: attack.params, attackers: attack.indices };
    const backends = new Set<string>();
    const stopped: Promise<void>[] = [];
    for (let w = 0; w < workerCount; w++) {
      const input: WorkerInput = {
        address: info.address,
        clients: clients.filter((c) => c.index % workerCount === w),
        backend: options.backend,
        seed: options.seed,
        dropoutRate: options.dropout,
        dropoutStage: options.dropoutStage,
        secagg: options.secagg,
        verbose: options.verbose,
        attack: workerAttack,
      };
      const worker = new Worker(workerUrl(), { workerData: input });
      workers.push(worker);
      stopped.push(
        new Promise<void>((resolve) => {
          worker.on('message', (message: WorkerMessage) => {
            if (message.type === 'ready') backends.add(message.backend);
            else if (message.type === 'log') io.log(message.line);
            else if (message.type === 'fatal') io.log(`worker ${w}: ${message.message}`);
            else if (message.type === 'attack-honest') broker?.report(message);
            else if (message.type === 'round' && attack?.indices.includes(message.clientIndex) === true) broker?.roundDone(message.clientIndex, message.summary.roundId, message.summary.outcome);
            // Its agents have stopped: the thread itself is terminated below, which is quicker than waiting for it to exit.
            else if (message.type === 'stopped') resolve();
          });
          worker.on('error', (error) => io.log(`worker ${w} crashed: ${error.message}`));
          worker.on('exit', () => resolve());
        }),
      );
    }
    io.log(`${options.clients} client agents in ${workerCount} worker thread(s)`);
    const outcome = await finished;
    const rounds = (await operator.listRounds(federation.id, 1000)).sort((a, b) => a.number - b.number);
    const final = await operator.getFederation(federation.id);
    const budget = options.dp === 'off' ? null : await operator.getPrivacyBudget(federation.id);
    for (const worker of workers) worker.postMessage({ type: 'stop' } satisfies HarnessMessage);
    await Promise.race([Promise.all(stopped), new Promise((r) => setTimeout(r, 10_000).unref())]);

    const reports = rounds.map(roundReport);
    let attackReport: AttackReport | undefined;
    if (attack !== null) {
      rounds.forEach((r, i) => (reports[i]!.detection = r.state === 'committed' ? roundDetection(r, attackerIds) : null));
      if (triggered !== null) {
        io.log(`backdoor: measuring the attack success rate of ${reports.filter((r) => r.modelVersion !== null).length} committed models on ${triggered.count} triggered held-out images`);
        for (const r of reports) {
          if (r.modelVersion === null) {
            r.attackSuccessRate = null;
            continue;
          }
          const exported = await operator.exportModel(federation.id, r.modelVersion);
          const result = await evaluateModel({
            topologyJson: exported.header.topologyJson,
            layout: layoutFromProto(exported.header.layout),
            weights: bytesToFloat32(exported.bytes),
            data: triggered,
          });
          r.attackSuccessRate = result.accuracy;
        }
      }
      attackReport = await attackSummary(attack, clients, clientIds, reports, triggered?.count ?? null, broker, operator);
      attackReport.quarantinedByRound = quarantineByRound(rounds, quarantinedIn, attackerIds);
    }
    const committed = reports.filter((r) => r.state === 'committed');
    const accuracies = committed.map((r) => r.accuracy).filter((a): a is number => a !== null);
    const finishedAt = new Date();
    if (outcome === 'failed') io.log(`federation ended as failed: ${final.statusReason}`);
    return {
      summary: {
        finalAccuracy: committed.at(-1)?.accuracy ?? null,
        finalLoss: committed.at(-1)?.loss ?? null,
        bestAccuracy: accuracies.length > 0 ? Math.max(...accuracies) : null,
        rounds: reports,
        roundsCommitted: committed.length,
        roundsAborted: reports.length - committed.length,
        clients: options.clients,
        seed: options.seed,
        partition: options.partition,
        dataset: 'fashion-mnist',
        datasetOrigin: `${dataset.origin} (${dataset.dir})`,
        model: options.model,
        backend: [...backends].join(',') || options.backend,
        totalSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
        totalBytesUp: reports.reduce((n, r) => n + r.bytesUp, 0),
        totalBytesDown: reports.reduce((n, r) => n + r.bytesDown, 0),
        config: { ...options, dataDir: options.dataDir ?? null, federation: config, outcome, federationStatusReason: final.statusReason },
        ...(attackReport === undefined ? {} : { attack: attackReport }),
        ...(budget === null
          ? {}
          : {
              privacy: {
                mechanism: options.dp,
                targetEpsilon: budget.targetEpsilon,
                delta: budget.targetDelta,
                amplified: options.dp !== 'local' && config.selection.mode === 'poisson',
                clientEpsilons: budget.clientEpsilons.map((c) => ({ clientId: c.clientId, roundsJoined: c.roundsJoined, epsilon: c.epsilon })),
              },
            }),
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
      },
      dataDir: options.keepData ? dataDir : null,
    };
  } finally {
    (stopWatch as (() => void) | null)?.();
    (broker as CollusionBroker | null)?.close();
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
    operator.close();
    await coordinator.stop('simulation finished');
    if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The federation a simulation runs. */
export function simulationFederation(o: SimulationOptions): FederationConfig {
  const cohort = o.cohortSize > 0 ? o.cohortSize : o.clients;
  const input: FederationConfigInput = {
    name: `simulation-seed-${o.seed}`,
    task: 'fashion-mnist',
    model: { builtin: o.model, initSeed: o.seed },
    plan: { epochs: o.epochs, batchSize: o.batchSize, optimizer: o.optimizer, learningRate: o.learningRate, seed: o.seed, clipNorm: o.dp !== 'off' && o.clipNorm === 0 ? 1 : o.clipNorm },
    dp: {
      mode: o.dp,
      ...(o.dpNoise === undefined ? {} : { noiseMultiplier: o.dpNoise }),
      ...(o.adaptiveClipQuantile === undefined ? {} : { adaptiveClipping: { targetQuantile: o.adaptiveClipQuantile } }),
    },
    ...(o.dp === 'off' ? {} : { privacy: { targetEpsilon: o.dpEpsilon, targetDelta: o.dpDelta } }),
    secagg: {
      enabled: o.secagg,
      ...(o.secaggNeighbours === undefined ? {} : { neighbours: o.secaggNeighbours }),
      ...(o.secaggThreshold === undefined ? {} : { threshold: o.secaggThreshold }),
      ...(o.secaggBuckets === undefined ? {} : { buckets: o.secaggBuckets }),
      ...(o.minBucketSize === undefined ? {} : { bucketed: true, minBucketSize: o.minBucketSize }),
      // Without clipping, a clamp of 1 bounds coordinates far beyond what a round of local training moves them.
      ...(o.secagg && o.clipNorm === 0 ? { clamp: o.secaggClamp ?? 1 } : o.secaggClamp === undefined ? {} : { clamp: o.secaggClamp }),
    },
    selection:
      o.samplingRate === undefined
        ? { mode: 'fixed', cohortSize: cohort, overSelection: 0, minClients: Math.min(o.minClients, cohort), minConnected: o.clients }
        : { mode: 'poisson', samplingRate: o.samplingRate, cohortSize: cohort, minClients: Math.min(o.minClients, cohort), minConnected: o.clients },
    deadlines: { configureMs: o.configureDeadlineMs, trainingMs: o.trainingDeadlineMs, stageMs: 60_000 },
    serverOptimizer: { kind: o.serverOptimizer, ...(o.serverLearningRate === undefined ? {} : { learningRate: o.serverLearningRate }) },
    aggregation: {
      rule: o.aggregation,
      params: { ...o.ruleParams },
      ...(o.aggregation === 'fltrust' ? { rootDataset: { dataset: ROOT_DATASET, split: 'train' as const, examples: o.rootSize } } : {}),
    },
    evaluation: { dataset: 'simulation-test', split: 'test' },
    rounds: o.rounds,
    selectionSeed: o.seed,
    maxConsecutiveAborts: 20,
  };
  return parseFederationConfig(input, 'simulation');
}

/** An attack as this run mounts it: the spec, its parameters with the run's defaults, and the attackers' indices. */
interface PlannedAttack {
  spec: NonNullable<SimulationOptions['attack']>;
  params: Record<string, AttackParamValue>;
  indices: number[];
}

function planAttack(options: SimulationOptions, cohortSize: number, numClasses: number): PlannedAttack {
  const spec = options.attack!;
  return { spec, params: resolveAttackParams(spec, { cohortSize, numClasses }), indices: chooseAttackers(spec.fraction, options.clients, options.seed) };
}

/** An attacker's training data: poisoned for the data attacks, as dealt otherwise. */
function poisonData(attack: PlannedAttack, data: LabeledDataset, seed: number, clientIndex: number): LabeledDataset {
  const p = attack.params;
  if (attack.spec.name === 'label-flip') {
    return flipLabels(data, p['source'] === undefined ? {} : { source: p['source'] as number, target: p['target'] as number });
  }
  if (attack.spec.name === 'backdoor') {
    return poisonWithBackdoor(data, { target: p['target'] as number, poisonFraction: p['poison'] as number, size: p['size'] as number }, createSeededRng(deriveSeed(seed, `attack/backdoor/${clientIndex}`)));
  }
  return data;
}

/** Verdicts of a committed round against the known attackers; null when the round recorded none. */
export function roundDetection(r: Pick<Round, 'participations'>, attackerIds: ReadonlySet<string>): RoundDetection | null {
  const judged = r.participations.filter((p) => p.verdict !== '');
  if (judged.length === 0) return null;
  const flagged = judged.filter((p) => p.verdict === 'rejected' || p.verdict === 'down-weighted');
  const attackers = judged.filter((p) => attackerIds.has(p.clientId)).length;
  const truePositives = flagged.filter((p) => attackerIds.has(p.clientId)).length;
  return {
    judged: judged.length,
    attackers,
    flagged: flagged.length,
    truePositives,
    precision: flagged.length === 0 ? null : truePositives / flagged.length,
    recall: attackers === 0 ? null : truePositives / attackers,
  };
}

/** Clients quarantined so far after each round (cumulative), attackers against the others, in round order. */
export function quarantineByRound(
  rounds: readonly Pick<Round, 'id' | 'number'>[],
  quarantinedIn: ReadonlyMap<string, readonly string[]>,
  attackerIds: ReadonlySet<string>,
): NonNullable<AttackReport['quarantinedByRound']> {
  const seen = new Set<string>();
  return rounds.map((r) => {
    for (const id of quarantinedIn.get(r.id) ?? []) seen.add(id);
    const attackers = [...seen].filter((id) => attackerIds.has(id)).length;
    return { round: r.number, attackers, benign: seen.size - attackers };
  });
}

async function attackSummary(
  attack: PlannedAttack,
  clients: readonly WorkerClient[],
  clientIds: readonly string[],
  reports: readonly RoundReport[],
  triggeredExamples: number | null,
  broker: CollusionBroker | null,
  operator: OperatorClient,
): Promise<AttackReport> {
  const detections = reports.map((r) => r.detection).filter((d): d is RoundDetection => d !== undefined && d !== null);
  const sum = (key: 'attackers' | 'flagged' | 'truePositives'): number => detections.reduce((n, d) => n + d[key], 0);
  const [attackers, flagged, truePositives] = [sum('attackers'), sum('flagged'), sum('truePositives')];
  let reputation: AttackReport['reputation'] = null;
  try {
    const known = await operator.listClients();
    const attackerIds = new Set(attack.indices.map((i) => clientIds[i]!));
    const simulated = new Set(clientIds);
    const group = (isAttacker: boolean): { mean: number; quarantined: number } => {
      const members = known.filter((c) => simulated.has(c.id) && attackerIds.has(c.id) === isAttacker);
      return { mean: members.length === 0 ? 0 : members.reduce((n, c) => n + c.reputation, 0) / members.length, quarantined: members.filter((c) => c.status === 'quarantined').length };
    };
    reputation = { attackers: group(true), benign: group(false) };
  } catch {
    reputation = null;
  }
  const committed = reports.filter((r) => r.state === 'committed');
  return {
    name: attack.spec.name,
    kind: attack.spec.kind,
    fraction: attack.spec.fraction,
    params: { ...attack.params },
    attackers: attack.indices.map((i) => ({ index: i, clientId: clientIds[i]!, displayName: clients[i]!.displayName })),
    detection: detections.length === 0 ? null : { rounds: detections.length, attackers, flagged, truePositives, precision: flagged === 0 ? null : truePositives / flagged, recall: attackers === 0 ? null : truePositives / attackers },
    ...(triggeredExamples === null ? {} : { finalAttackSuccessRate: committed.at(-1)?.attackSuccessRate ?? null, triggeredExamples }),
    reputation,
    ...(broker === null || broker.crafted.length === 0 ? {} : { meanPooled: broker.crafted.reduce((n, c) => n + c.pooled, 0) / broker.crafted.length }),
  };
}

function sample(data: LabeledDataset, n: number, rng: ReturnType<typeof createSeededRng>): LabeledDataset {
  const indices = sampleIndices(data, n, rng);
  return indices === null ? data : subsetDataset(data, indices);
}

/** A stratified sample's indices, or null for all of the data (n = 0 or n ≥ its size). */
function sampleIndices(data: LabeledDataset, n: number, rng: ReturnType<typeof createSeededRng>): Uint32Array | null {
  if (n === 0 || n >= data.count) return null;
  return stratifiedSample(data.labels, data.numClasses, n, rng);
}

/** The in-memory dataset fltrust's root dataset names. */
const ROOT_DATASET = 'simulation-root';

/**
 * The clients' training sample and, for fltrust, the server's root dataset: a stratified sample of training examples
 * no client holds, so the server's data is its own (clean, from the task's distribution, as the paper assumes) and
 * not a copy of some client's. When the clients' sample leaves too few examples over, the root is drawn first and
 * the clients' sample comes from the rest (and is that much smaller), which the log says.
 */
function clientAndRootData(data: LabeledDataset, options: SimulationOptions, io: SimulationIo): { train: LabeledDataset; root: LabeledDataset | null } {
  const trainRng = createSeededRng(deriveSeed(options.seed, 'train-sample'));
  const clientIndices = sampleIndices(data, options.trainSize, trainRng);
  if (options.aggregation !== 'fltrust') return { train: clientIndices === null ? data : subsetDataset(data, clientIndices), root: null };
  const n = options.rootSize;
  if (n >= data.count) throw new CohortError('CONFIG_INVALID', `--root-size: fltrust's root dataset of ${n} examples leaves none of the ${data.count} training examples for the clients`);
  const rootRng = createSeededRng(deriveSeed(options.seed, 'root-sample'));
  const taken = new Uint8Array(data.count);
  if (clientIndices === null) taken.fill(1);
  else for (const i of clientIndices) taken[i] = 1;
  const free = Uint32Array.from({ length: data.count }, (_, i) => i).filter((i) => taken[i] === 0);
  if (free.length >= n) {
    const rest = subsetDataset(data, free);
    return { train: clientIndices === null ? data : subsetDataset(data, clientIndices), root: subsetDataset(rest, stratifiedSample(rest.labels, rest.numClasses, n, rootRng)) };
  }
  const rootIndices = stratifiedSample(data.labels, data.numClasses, n, rootRng);
  const isRoot = new Uint8Array(data.count);
  for (const i of rootIndices) isRoot[i] = 1;
  const rest = subsetDataset(data, Uint32Array.from({ length: data.count }, (_, i) => i).filter((i) => isRoot[i] === 0));
  const clients = Math.min(options.trainSize === 0 ? rest.count : options.trainSize, rest.count);
  io.log(`fltrust: the root dataset takes ${n} training examples first, so the clients share ${clients} (not ${Math.min(options.trainSize || data.count, data.count)})`);
  return { train: sample(rest, clients, trainRng), root: subsetDataset(data, rootIndices) };
}

function progressReport(round: number, state: 'committed' | 'aborted', reason: string | null, m: Record<string, number>): RoundReport {
  return {
    round,
    state,
    abortReason: reason,
    accuracy: m['eval_accuracy'] ?? null,
    loss: m['eval_loss'] ?? null,
    trainLoss: m['client_train_loss'] ?? null,
    trainAccuracy: m['client_train_accuracy'] ?? null,
    selected: m['selected'] ?? 0,
    participants: m['participants'] ?? 0,
    dropouts: m['dropouts'] ?? 0,
    dropoutsByStage: {},
    bytesByStage: {},
    epsilon: m['epsilon'] ?? null,
    bytesUp: m['bytes_up'] ?? 0,
    bytesDown: m['bytes_down'] ?? 0,
    seconds: m['seconds'] ?? 0,
    modelVersion: m['version'] ?? null,
  };
}

/** Secure-aggregation traffic per stage from the round metrics (bytes_up_<stage>, bytes_down_<stage>). */
function stageTraffic(m: Record<string, number>, survivors: Record<string, number>): RoundReport['bytesByStage'] {
  const out: RoundReport['bytesByStage'] = {};
  for (const stage of ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking']) {
    const key = stage.replace(/-/g, '_');
    const up = m[`bytes_up_${key}`];
    const down = m[`bytes_down_${key}`];
    if (up === undefined && down === undefined) continue;
    out[stage] = { up: up ?? 0, down: down ?? 0, clients: survivors[stage] ?? 0 };
  }
  return out;
}

/** A stored round as the report shows it. */
export function roundReport(r: Round): RoundReport {
  const m = r.metrics?.values ?? {};
  const dropoutsByStage: Record<string, number> = {};
  for (const p of r.participations) if (p.dropped) dropoutsByStage[p.dropoutStage] = (dropoutsByStage[p.dropoutStage] ?? 0) + 1;
  const committed = r.state === 'committed';
  return {
    round: r.number,
    state: committed ? 'committed' : 'aborted',
    abortReason: committed ? null : r.abortReason,
    accuracy: m['eval_accuracy'] ?? null,
    loss: m['eval_loss'] ?? null,
    trainLoss: m['client_train_loss'] ?? null,
    trainAccuracy: m['client_train_accuracy'] ?? null,
    selected: r.selected.length,
    participants: m['participants'] ?? r.survivors['training'] ?? r.survivors['masked-input'] ?? 0,
    dropouts: r.participations.filter((p) => p.dropped).length,
    dropoutsByStage,
    bytesByStage: stageTraffic(m, r.survivors),
    epsilon: m['epsilon'] ?? null,
    ...(m['secagg_smallest_sum'] === undefined ? {} : { secureSums: { count: (m['secagg_buckets'] ?? 0) - (m['secagg_buckets_failed'] ?? 0), smallestSum: m['secagg_smallest_sum'] } }),
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    seconds: r.endedAtMs > 0 ? (r.endedAtMs - r.startedAtMs) / 1000 : 0,
    modelVersion: committed ? r.modelOutVersion : null,
  };
}
