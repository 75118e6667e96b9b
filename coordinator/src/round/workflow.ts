/**
 * One federated round, plaintext mode: selecting → configuring → training → aggregating → committed, or aborted with
 * a reason at any stage. The strategy decides what to aggregate and how to apply it; this workflow decides the
 * order of stages, their deadlines, and who dropped out. Nothing is committed unless enough clients survive.
 */
import { CohortError, isCohortError } from '../../../shared/src/core/errors.js';
import type { AggregationAccumulator, ServerOptimizerState, Strategy } from '../../../shared/src/core/aggregation/index.js';
import { firstNonFinite } from '../../../shared/src/core/tensor/ops.js';
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import type { EventBus } from '../events.js';
import type { FederationConfig } from '../federation/config.js';
import type { ModelRepository } from '../models.js';
import type {
  CommitRoundResult,
  CoordinatorStore,
  FederationRecord,
  ModelVersionRecord,
  ParticipationRecord,
  RoundRecord,
  RoundState,
} from '../store/types.js';
import type { ActiveRound, ClientGateway, RoundHub, UploadSink } from './hub.js';
import type { ClientTrainingPlan, ConnectedClient, InboundRoundMessage, ReceivedUpdate, UploadHeaderInfo } from './messages.js';
import { fixedSelectionTarget, selectCohort } from './selection.js';

/** Held-out evaluation of a candidate model. */
export interface Evaluator {
  evaluate(federation: FederationRecord, config: FederationConfig, weights: Float32Array): Promise<Record<string, number>>;
}

export interface RoundDependencies {
  store: CoordinatorStore;
  gateway: ClientGateway;
  hub: RoundHub;
  models: ModelRepository;
  events: EventBus;
  evaluator: Evaluator | null;
  now: () => number;
  log: (line: string) => void;
}

export interface RoundInput {
  federation: FederationRecord;
  config: FederationConfig;
  strategy: Strategy;
  /** Cohort-selection randomness for a given round number. */
  selectionRngFor: (roundNumber: number) => Rng;
  /** Model input shape (without the batch dimension), to skip clients whose data cannot fit. */
  inputShape: readonly number[] | null;
  /** Aborts the round (coordinator shutting down, federation paused). */
  signal: AbortSignal;
}

export type RoundResult =
  | { outcome: 'committed'; round: RoundRecord; commit: CommitRoundResult }
  | { outcome: 'aborted'; round: RoundRecord; reason: string };

type ParticipantStage = 'selected' | 'accepted' | 'uploading' | 'uploaded';

interface Participant {
  clientId: string;
  stage: ParticipantStage;
  dropped: boolean;
  released: boolean;
  dropoutStage: string | null;
  dropoutReason: string | null;
  numExamples: number;
  metrics: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  backend: string | null;
}

const ACTOR = 'coordinator';

/** True when a connected client may be selected for this federation. */
export function isEligible(client: ConnectedClient, config: FederationConfig, inputShape: readonly number[] | null, status: string | undefined): boolean {
  if (status !== 'active') return false;
  const tasks = client.capabilities.tasks;
  if (config.task.length > 0 && tasks.length > 0 && !tasks.includes(config.task)) return false;
  const local = client.capabilities.inputShape;
  if (inputShape !== null && local.length > 0 && (local.length !== inputShape.length || local.some((d, i) => d !== inputShape[i]))) return false;
  return true;
}

/** The plan clients receive, from the federation config. */
export function clientPlanOf(config: FederationConfig, roundNumber: number): ClientTrainingPlan {
  const p = config.plan;
  return {
    epochs: p.epochs,
    batchSize: p.batchSize,
    optimizer: p.optimizer,
    learningRate: p.learningRate,
    momentum: p.momentum,
    proximalMu: p.proximalMu,
    maxExamples: p.maxExamples,
    // A fresh shuffle seed per round, reproducible from the federation seed.
    seed: (p.seed * 1_000_003 + roundNumber) % 2 ** 32,
    localEvalFraction: p.localEvalFraction,
    clipNorm: p.clipNorm,
  };
}

/** Runs one round to its end. Never throws for client behaviour: that ends as an aborted round with a reason. */
export async function runRound(deps: RoundDependencies, input: RoundInput): Promise<RoundResult> {
  const round = new PlaintextRound(deps, input);
  return round.run();
}

class PlaintextRound implements ActiveRound {
  readonly federationId: string;
  roundId = '';
  private record!: RoundRecord;
  private readonly participants = new Map<string, Participant>();
  private state: RoundState = 'selecting';
  private accumulator: AggregationAccumulator | null = null;
  private modelIn!: ModelVersionRecord;
  private weightsIn!: Float32Array;
  private waiter: { check: () => boolean; resolve: () => void } | null = null;
  private taskSentAt = 0;
  private readonly startedAt: number;

  constructor(
    private readonly deps: RoundDependencies,
    private readonly input: RoundInput,
  ) {
    this.federationId = input.federation.id;
    this.startedAt = deps.now();
  }

  involves(clientId: string): boolean {
    const p = this.participants.get(clientId);
    return p !== undefined && !p.dropped && !p.released;
  }

  async run(): Promise<RoundResult> {
    const { store, hub, models, events } = this.deps;
    const { federation, config } = this.input;
    this.modelIn = store.getCurrentModelVersion(federation.id);
    this.weightsIn = models.weights(this.modelIn);
    this.record = store.startRound(
      {
        id: crypto.randomUUID(),
        federationId: federation.id,
        startedAt: this.startedAt,
        modelInVersion: this.modelIn.version,
        config: { plan: config.plan, selection: config.selection, deadlines: config.deadlines, serverOptimizer: config.serverOptimizer, aggregation: config.aggregation },
      },
      ACTOR,
    );
    this.roundId = this.record.id;
    hub.register(this);
    events.emit({ type: 'round.started', federationId: federation.id, roundId: this.roundId, message: `round ${this.record.number} started`, metrics: { round: this.record.number } });
    try {
      return await this.stages();
    } catch (error) {
      // A failure of ours (store, model files, evaluation) still ends the round cleanly, with the cause logged.
      const reason = isCohortError(error) ? error.message : 'internal error during the round (see coordinator log)';
      if (!isCohortError(error)) this.deps.log(`round ${this.record.number} of ${federation.name} failed: ${String((error as Error)?.stack ?? error)}`);
      return this.abort(reason);
    } finally {
      hub.unregister(this.roundId);
    }
  }

  private async stages(): Promise<RoundResult> {
    const { config, signal } = this.input;
    const { selection, deadlines } = config;

    // selecting
    const eligible = this.eligibleClients();
    const cohort = selectCohort(eligible, selection, this.input.selectionRngFor(this.record.number));
    if (cohort.length < selection.minClients) {
      return this.abort(`too few eligible clients: ${cohort.length} selected of ${eligible.length} eligible, minimum ${selection.minClients}`);
    }
    for (const clientId of cohort) this.participants.set(clientId, newParticipant(clientId, this.backendOf(clientId)));
    this.setState('configuring', { selected: cohort, survivors: { selected: cohort.length } });

    // configuring: send tasks, wait for every answer or the configure deadline.
    this.accumulator = this.input.strategy.createAccumulator(this.weightsIn.length);
    this.taskSentAt = this.deps.now();
    const trainingDeadline = this.taskSentAt + deadlines.trainingMs;
    const modelRef = this.deps.models.reference(this.modelIn);
    const plan = clientPlanOf(config, this.record.number);
    for (const clientId of cohort) {
      const sent = this.deps.gateway.send(clientId, {
        kind: 'task',
        roundId: this.roundId,
        federationId: this.federationId,
        roundNumber: this.record.number,
        task: config.task,
        model: modelRef,
        layout: this.input.federation.layout,
        topologyJson: this.input.federation.topologyJson,
        plan,
        updateKind: 'delta-float32',
        deadlineMs: trainingDeadline,
      });
      if (!sent) this.drop(clientId, 'configuring', 'not connected when the task was sent');
    }
    // Stop waiting as soon as every client answered, or too few are left for the round to succeed anyway.
    await this.waitUntil(() => this.live().every((p) => p.stage !== 'selected') || this.live().length < selection.minClients, this.taskSentAt + deadlines.configureMs, signal);
    if (signal.aborted) return this.abort(abortReasonOf(signal));
    for (const p of this.live()) if (p.stage === 'selected') this.drop(p.clientId, 'configuring', 'did not answer the task before the configure deadline');
    const accepted = this.live().length;
    if (accepted < selection.minClients) {
      return this.abort(`too few clients accepted the task (configuring): ${accepted} of ${cohort.length} selected, minimum ${selection.minClients}`, {
        selected: cohort.length,
        configuring: accepted,
      });
    }
    this.setState('training', { survivors: { selected: cohort.length, configuring: accepted } });

    // training: updates stream into the accumulator as they arrive.
    const target = selection.mode === 'fixed' ? Math.min(selection.cohortSize, accepted) : accepted;
    await this.waitUntil(
      () => this.uploadedCount() >= target || this.live().every((p) => p.stage === 'uploaded') || this.live().length < selection.minClients,
      trainingDeadline,
      signal,
    );
    if (signal.aborted) return this.abort(abortReasonOf(signal));
    for (const p of this.live()) {
      if (p.stage === 'uploaded') continue;
      if (this.uploadedCount() >= target && selection.mode === 'fixed') this.release(p.clientId, 'the cohort was filled by faster clients');
      else this.drop(p.clientId, 'training', 'did not upload an update before the training deadline');
    }
    const uploaded = this.uploadedCount();
    const survivors = { selected: cohort.length, configuring: accepted, training: uploaded };
    if (uploaded < selection.minClients) {
      return this.abort(`too few updates before the training deadline: ${uploaded} of ${accepted} accepted, minimum ${selection.minClients}`, survivors);
    }

    // aggregating: first let I/O run once, so the receipt of the last upload is flushed before the (synchronous)
    // aggregation, file writes and commit hold the event loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.setState('aggregating', { survivors });
    return this.aggregateAndCommit(survivors);
  }

  private async aggregateAndCommit(survivors: Record<string, number>): Promise<RoundResult> {
    const { store, models, evaluator, events } = this.deps;
    const { federation, config, strategy } = this.input;
    const aggregate = this.accumulator!.finish();
    const stateIn: ServerOptimizerState | null = models.optimizerState(this.modelIn);
    const applied = strategy.apply(this.weightsIn, aggregate, stateIn);
    const bad = firstNonFinite(applied.weights);
    if (bad >= 0) return this.abort(`the aggregated model is not finite at element ${bad}; nothing committed`, survivors);

    const metrics: Record<string, number> = {
      ...this.clientMetricMeans(),
      participants: aggregate.count,
      selected: survivors['selected'] ?? 0,
      dropouts: [...this.participants.values()].filter((p) => p.dropped).length,
      total_weight: aggregate.totalWeight,
      round: this.record.number,
    };
    if (evaluator !== null) Object.assign(metrics, await evaluator.evaluate(federation, config, applied.weights));
    if (this.input.signal.aborted) return this.abort(abortReasonOf(this.input.signal), survivors);

    // Files first (fsynced), then one transaction that makes them current.
    const file = models.save(applied.weights);
    const optimizerStateSha256 = models.saveOptimizerState(applied.state);
    const now = this.deps.now();
    metrics['seconds'] = (now - this.startedAt) / 1000;
    const { bytesUp, bytesDown } = this.byteTotals();
    const commit = store.commitRound(
      {
        roundId: this.roundId,
        now,
        model: { sha256: file.sha256, sizeBytes: file.sizeBytes, optimizerStateSha256 },
        metrics,
        survivors,
        participations: this.participationRecords(),
        bytesUp,
        bytesDown,
        completesFederation: federation.roundsCommitted + 1 >= federation.roundsTarget,
        verdicts: aggregate.verdicts.map((v) => ({
          contributionId: v.contributionId,
          clientId: v.clientIds.length === 1 ? v.clientIds[0]! : null,
          bucket: null,
          verdict: v.verdict,
          reason: v.reason,
          scores: v.scores,
        })),
      },
      ACTOR,
    );
    this.state = 'committed';
    const reference = models.reference(commit.modelVersion);
    for (const p of this.participants.values()) {
      if (p.dropped || p.released) continue;
      this.deps.gateway.send(p.clientId, { kind: 'end', roundId: this.roundId, outcome: 'committed', reason: '', model: reference });
    }
    events.emit({
      type: 'round.committed',
      federationId: federation.id,
      roundId: this.roundId,
      message: `round ${this.record.number} committed model version ${commit.modelVersion.version}`,
      metrics: { ...metrics, version: commit.modelVersion.version, bytes_up: bytesUp, bytes_down: bytesDown },
    });
    return { outcome: 'committed', round: commit.round, commit };
  }

  private abort(reason: string, survivors?: Record<string, number>): RoundResult {
    const { store, events } = this.deps;
    if (survivors !== undefined) {
      try {
        store.updateRound(this.roundId, { survivors });
      } catch {
        // The survivors are informative only; the abort below is what matters.
      }
    }
    const { bytesUp, bytesDown } = this.byteTotals();
    try {
      store.updateRound(this.roundId, { bytesUp, bytesDown });
    } catch {
      // Same: byte counts are informative.
    }
    const round = store.abortRound(this.roundId, reason, this.deps.now(), ACTOR, this.participationRecords());
    this.state = 'aborted';
    for (const p of this.participants.values()) {
      if (p.dropped || p.released) continue;
      this.deps.gateway.send(p.clientId, { kind: 'end', roundId: this.roundId, outcome: 'aborted', reason, model: null });
    }
    events.emit({ type: 'round.aborted', federationId: this.federationId, roundId: this.roundId, message: `round ${this.record.number} aborted: ${reason}`, metrics: { round: this.record.number } });
    this.deps.log(`round ${this.record.number} of federation ${this.input.federation.name} aborted: ${reason}`);
    return { outcome: 'aborted', round, reason };
  }

  // ActiveRound: client input.

  exclusionReason(clientId: string): string {
    const p = this.participants.get(clientId);
    const n = `${this.record?.number ?? '?'} (${this.roundId})`;
    if (p === undefined) return `client ${clientId} was not selected for round ${n}`;
    if (p.dropped) return `client ${clientId} was dropped from round ${n} at ${p.dropoutStage ?? 'an earlier stage'}: ${p.dropoutReason ?? 'no reason recorded'}`;
    if (p.released) return `client ${clientId} was released from round ${n} (${p.dropoutReason ?? 'no longer needed'})`;
    return `client ${clientId} is still part of round ${n}`;
  }

  onMessage(clientId: string, message: InboundRoundMessage): void {
    const p = this.participants.get(clientId);
    if (p === undefined || p.dropped || p.released) return;
    if (message.kind === 'failed') {
      this.drop(clientId, this.state, `client reported failure: ${message.reason}`);
    } else if (!message.accepted) {
      this.drop(clientId, 'configuring', `declined the task: ${message.reason}`);
    } else if (p.stage === 'selected') {
      p.stage = 'accepted';
      this.progress();
    }
    this.notify();
  }

  onDisconnect(clientId: string, reason: string): void {
    if (!this.involves(clientId)) return;
    this.drop(clientId, this.state, `disconnected: ${reason}`);
    this.notify();
  }

  recordDownload(clientId: string, bytes: number): void {
    const p = this.participants.get(clientId);
    if (p !== undefined) p.bytesDown += bytes;
  }

  beginUpload(clientId: string, header: UploadHeaderInfo): UploadSink {
    const p = this.participants.get(clientId)!;
    const n = this.record.number;
    if (this.state !== 'configuring' && this.state !== 'training') {
      throw new CohortError('ROUND_WRONG_STAGE', `round ${n} is in stage ${this.state}, not accepting updates`);
    }
    if (p.stage === 'uploaded') throw new CohortError('FAILED_PRECONDITION', `update for round ${n} was already received from client ${clientId}`);
    if (p.stage === 'uploading') throw new CohortError('FAILED_PRECONDITION', `an upload for round ${n} from client ${clientId} is already in progress`);
    if (header.kind !== 'delta-float32') {
      throw new CohortError('INVALID_ARGUMENT', `round ${n} expects delta-float32 updates (plaintext aggregation), got ${header.kind}`);
    }
    const d = this.weightsIn.length;
    if (header.totalBytes !== d * 4) {
      throw new CohortError('UPDATE_WRONG_LENGTH', `update declares ${header.totalBytes} bytes; the model has ${d} float32 parameters (${d * 4} bytes)`);
    }
    if (!Number.isInteger(header.numExamples) || header.numExamples < 1 || header.numExamples > 2 ** 31) {
      throw new CohortError('INVALID_ARGUMENT', `num_examples must be an integer in [1, 2^31], got ${header.numExamples}`);
    }
    if (this.input.config.selection.mode === 'fixed' && this.uploadedCount() >= this.input.config.selection.cohortSize) {
      throw new CohortError('FAILED_PRECONDITION', `round ${n} already has its cohort of ${this.input.config.selection.cohortSize} updates`);
    }
    // An upload implies acceptance: the ack travels on another HTTP/2 stream and may arrive later.
    p.stage = 'uploading';
    const sink: UploadSink = {
      expectedBytes: d * 4,
      expectedElements: d,
      deliver: (update) => this.deliver(p, update),
      abandon: (reason) => {
        // Late bytes of a released client, or of a round already over, are refused; that makes no dropout.
        if (p.stage === 'uploading' && this.involves(clientId) && (this.state === 'configuring' || this.state === 'training')) {
          this.drop(clientId, this.state, `upload failed: ${reason}`);
          this.notify();
        }
      },
    };
    return sink;
  }

  private deliver(p: Participant, update: ReceivedUpdate): void {
    if (p.dropped || p.released || this.accumulator === null || (this.state !== 'configuring' && this.state !== 'training')) {
      throw new CohortError('ROUND_STALE', `round ${this.record.number} no longer accepts the update from client ${p.clientId}`);
    }
    try {
      // The accumulator checks length and finiteness itself (one pass) and adds nothing when it refuses.
      this.accumulator.add({ id: p.clientId, clientIds: [p.clientId], delta: update.vector, weight: update.numExamples });
    } catch (error) {
      this.drop(p.clientId, this.state, `protocol violation: ${(error as Error).message}`);
      this.notify();
      throw error;
    }
    p.stage = 'uploaded';
    p.numExamples = update.numExamples;
    p.metrics = sanitizeMetrics(update.metrics);
    p.bytesUp += update.bytes;
    this.progress();
    this.notify();
  }

  // Bookkeeping.

  private eligibleClients(): string[] {
    const { store, gateway, hub } = this.deps;
    const { config, inputShape } = this.input;
    return gateway
      .connected()
      .filter((c) => !hub.isBusy(c.clientId) && isEligible(c, config, inputShape, store.getClient(c.clientId)?.status))
      .map((c) => c.clientId);
  }

  private backendOf(clientId: string): string | null {
    return this.deps.gateway.connected().find((c) => c.clientId === clientId)?.capabilities.backend ?? null;
  }

  private live(): Participant[] {
    return [...this.participants.values()].filter((p) => !p.dropped && !p.released);
  }

  private uploadedCount(): number {
    let n = 0;
    for (const p of this.participants.values()) if (p.stage === 'uploaded' && !p.dropped) n++;
    return n;
  }

  private drop(clientId: string, stage: string, reason: string): void {
    const p = this.participants.get(clientId);
    // An update already in the accumulator cannot be taken out again: a client that uploaded has done its part,
    // whatever it says or does afterwards (disconnects, reports a failure), and counts as a survivor.
    if (p === undefined || p.dropped || p.stage === 'uploaded') return;
    p.dropped = true;
    p.dropoutStage = stage;
    p.dropoutReason = reason;
    this.deps.log(`round ${this.record.number}: client ${clientId} dropped at ${stage}: ${reason}`);
    this.deps.gateway.send(clientId, { kind: 'end', roundId: this.roundId, outcome: 'released', reason: `dropped at ${stage}: ${reason}`, model: null });
  }

  private release(clientId: string, reason: string): void {
    const p = this.participants.get(clientId);
    if (p === undefined || p.dropped || p.released) return;
    p.released = true;
    p.dropoutReason = `released: ${reason}`;
    this.deps.gateway.send(clientId, { kind: 'end', roundId: this.roundId, outcome: 'released', reason, model: null });
  }

  private setState(state: Exclude<RoundState, 'committed' | 'aborted'>, patch: { selected?: string[]; survivors?: Record<string, number> }): void {
    this.state = state;
    this.record = this.deps.store.updateRound(this.roundId, { state, ...patch });
    this.deps.events.emit({
      type: 'round.stage',
      federationId: this.federationId,
      roundId: this.roundId,
      message: `round ${this.record.number} entered ${state}`,
      metrics: { round: this.record.number, selected: this.participants.size, live: this.live().length },
    });
  }

  private progress(): void {
    this.deps.events.emit({
      type: 'round.progress',
      federationId: this.federationId,
      roundId: this.roundId,
      message: `round ${this.record.number} ${this.state}`,
      metrics: {
        round: this.record.number,
        selected: this.participants.size,
        accepted: [...this.participants.values()].filter((p) => p.stage !== 'selected' && !p.dropped).length,
        uploaded: this.uploadedCount(),
        dropouts: [...this.participants.values()].filter((p) => p.dropped).length,
      },
    });
  }

  private waitUntil(check: () => boolean, deadlineMs: number, signal: AbortSignal): Promise<void> {
    if (check() || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.waiter = null;
        resolve();
      };
      const timer = setTimeout(finish, Math.max(0, deadlineMs - this.deps.now()));
      signal.addEventListener('abort', finish, { once: true });
      this.waiter = { check, resolve: finish };
    });
  }

  private notify(): void {
    if (this.waiter !== null && this.waiter.check()) this.waiter.resolve();
  }

  private clientMetricMeans(): Record<string, number> {
    const sums = new Map<string, { sum: number; weight: number }>();
    for (const p of this.participants.values()) {
      if (p.stage !== 'uploaded' || p.dropped) continue;
      for (const [name, value] of Object.entries(p.metrics)) {
        const s = sums.get(name) ?? { sum: 0, weight: 0 };
        s.sum += value * p.numExamples;
        s.weight += p.numExamples;
        sums.set(name, s);
      }
    }
    const out: Record<string, number> = {};
    for (const [name, s] of sums) if (s.weight > 0) out[`client_${name}`] = s.sum / s.weight;
    return out;
  }

  private byteTotals(): { bytesUp: number; bytesDown: number } {
    let bytesUp = 0;
    let bytesDown = 0;
    for (const p of this.participants.values()) {
      bytesUp += p.bytesUp;
      bytesDown += p.bytesDown;
    }
    return { bytesUp, bytesDown };
  }

  private participationRecords(): ParticipationRecord[] {
    return [...this.participants.values()].map((p) => ({
      roundId: this.roundId,
      clientId: p.clientId,
      stageReached: p.stage === 'uploaded' ? 'training' : p.stage === 'selected' ? 'selecting' : 'configuring',
      dropped: p.dropped,
      dropoutStage: p.dropoutStage,
      dropoutReason: p.dropoutReason,
      numExamples: p.numExamples,
      metrics: p.metrics,
      bytesUp: p.bytesUp,
      bytesDown: p.bytesDown,
      backend: p.backend,
      verdict: null,
    }));
  }
}

function newParticipant(clientId: string, backend: string | null): Participant {
  return {
    clientId,
    stage: 'selected',
    dropped: false,
    released: false,
    dropoutStage: null,
    dropoutReason: null,
    numExamples: 0,
    metrics: {},
    bytesUp: 0,
    bytesDown: 0,
    backend,
  };
}

/** Keeps only finite numeric metrics with sane names (they are client-controlled input). */
function sanitizeMetrics(metrics: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let count = 0;
  for (const [name, value] of Object.entries(metrics)) {
    if (count >= 32) break;
    if (/^[a-z][a-z0-9_]{0,47}$/.test(name) && Number.isFinite(value)) {
      out[name] = value;
      count++;
    }
  }
  return out;
}

function abortReasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === 'string') return reason;
  if (reason instanceof Error) return reason.message;
  return 'round cancelled';
}

export { fixedSelectionTarget };
