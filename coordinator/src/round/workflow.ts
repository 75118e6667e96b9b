/**
 * One federated round, plaintext mode: selecting → configuring → training → aggregating → committed, or aborted with
 * a reason at any stage. The strategy decides what to aggregate and how to apply it; this workflow decides the
 * order of stages, their deadlines, and who dropped out. Nothing is committed unless enough clients survive.
 */
import { CohortError, isCohortError } from '../../../shared/src/core/errors.js';
import type { AggregationAccumulator, ContributionVerdict, RoundAggregationInputs, ServerOptimizerState, Strategy } from '../../../shared/src/core/aggregation/index.js';
import { firstNonFinite } from '../../../shared/src/core/tensor/ops.js';
import type { Rng } from '../../../shared/src/core/rng/rng.js';
import { createSeededRng, deriveSeed } from '../../../shared/src/core/rng/rng.js';
import { bytesToFloat32 } from '../../../shared/src/core/tensor/bytes.js';
import type { SecAggCrypto } from '../../../shared/src/core/secagg/context.js';
import { permutationCommitment } from '../../../shared/src/core/secagg/context.js';
import { assignBuckets, bucketCount, neighbourGraph, resolveGraphParameters } from '../../../shared/src/core/secagg/graph.js';
import type { SecAggReply, SecAggRequest, SecAggStage } from '../../../shared/src/core/secagg/messages.js';
import type { QuantizationParams } from '../../../shared/src/core/secagg/quantize.js';
import { dequantizeSum, quantizationParams, reduceModulus } from '../../../shared/src/core/secagg/quantize.js';
import type { SecAggServer as SecAggServerType, StageOutcome, SumOutcome } from '../../../shared/src/core/secagg/server.js';
import { SecAggServer } from '../../../shared/src/core/secagg/server.js';
import { contributionFromWeightedSum, rejectedVerdict } from '../../../shared/src/core/aggregation/contribution.js';
import type { ClientOutcome } from '../../../shared/src/core/aggregation/reputation.js';
import { clientOutcomes } from '../../../shared/src/core/aggregation/reputation.js';
import { secAggReplyWireBytes, secAggRequestWireBytes } from '../../../shared/src/protocol/secagg-mapping.js';
import type { SecAggTaskPlan } from '../../../shared/src/protocol/types.js';
import { createDpFedAvgAccumulator } from '../../../shared/src/core/dp/central.js';
import { createOsRng } from '../../../shared/src/crypto/os-rng.js';
import { noisedUnclippedFraction, nextClipNorm, updateNoiseMultiplier } from '../../../shared/src/core/dp/adaptive-clip.js';
import type { SkellamPlan } from '../../../shared/src/core/dp/skellam.js';
import { decodeSkellamSum, planSkellam } from '../../../shared/src/core/dp/skellam.js';
import type { AccountedRound, DpRoundPlan } from '../privacy/budget.js';
import { MIN_DISTRIBUTED_L2_BOUND, clientsAtBudget, currentClipNorm, dpPlanOf, spendingAfter } from '../privacy/budget.js';
import type { EventBus } from '../events.js';
import type { FederationConfig } from '../federation/config.js';
import type { ModelRepository } from '../models.js';
import type {
  CommitRoundInput,
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

/** Trains the server's reference update (FLTrust) on the federation's root dataset, from the round's model. */
export interface RootTrainer {
  /** The update (trained weights − weights) after training as `plan` says on `config.aggregation.rootDataset`. */
  rootUpdate(federation: FederationRecord, config: FederationConfig, weights: Float32Array, plan: ClientTrainingPlan): Promise<Float32Array>;
}

export interface RoundDependencies {
  store: CoordinatorStore;
  gateway: ClientGateway;
  hub: RoundHub;
  models: ModelRepository;
  events: EventBus;
  evaluator: Evaluator | null;
  /** Needed only by federations whose rule trains a reference update (fltrust). */
  rootTrainer?: RootTrainer | null;
  now: () => number;
  log: (line: string) => void;
  /** Cryptography of secure aggregation (needed only by federations that enable it). */
  secaggCrypto?: SecAggCrypto;
  /** Randomness of central DP noise; default the OS CSPRNG. */
  noiseRng?: Rng;
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

/** The secure-aggregation stages in order, as round states. */
const SECURE_STAGES: readonly SecAggStage[] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'];

/** A round's secure sums (one per bucket) and what it needs to decode them. */
interface SecureRound {
  plan: SecAggTaskPlan;
  params: QuantizationParams;
  /** One per bucket; a failed bucket keeps its server (stage 'failed') and its reason. */
  servers: SecAggServerType[];
  bucketOf: Map<string, number>;
  /** Wire bytes per stage, all clients together. */
  stageBytes: Map<string, { up: number; down: number }>;
  /** Clients per stage that completed it (survivors per stage, all buckets). */
  survivors: Record<string, number>;
}

/** This round's differential privacy, fixed when tasks are sent. */
interface RoundDp {
  plan: DpRoundPlan;
  /** C of this round: the configured sensitivity, or where adaptive clipping has moved it. */
  clipNorm: number;
  /** The fixed denominator: expected contributions (qN, or the cohort size). */
  expected: number;
  /** z_Δ: the update's noise multiplier (z, less the adaptive-clipping count's share). */
  updateNoiseMultiplier: number;
  /** σ_b of the adaptive-clipping count, or null without adaptive clipping. */
  countNoise: number | null;
  /** Distributed mode: the round's scale, rounding bound and per-client noise. */
  skellam: SkellamPlan | null;
}

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
    perLayerClipNorms: [...p.perLayerClipNorms],
    secagg: null,
    noise: null,
  };
}

/** Runs one round to its end. Never throws for client behaviour: that ends as an aborted round with a reason. */
export async function runRound(deps: RoundDependencies, input: RoundInput): Promise<RoundResult> {
  const round = new RoundRun(deps, input);
  return round.run();
}

class RoundRun implements ActiveRound {
  readonly federationId: string;
  roundId = '';
  private record!: RoundRecord;
  private readonly participants = new Map<string, Participant>();
  private state: RoundState = 'selecting';
  private accumulator: AggregationAccumulator | null = null;
  /** The server's reference update of this round (fltrust), trained while the clients train. */
  private reference: Promise<{ update: Float32Array } | { error: string }> | null = null;
  private referenceUpdate: Float32Array | null = null;
  private modelIn!: ModelVersionRecord;
  private weightsIn!: Float32Array;
  private waiter: { check: () => boolean; resolve: () => void } | null = null;
  private secure: SecureRound | null = null;
  private dp: RoundDp | null = null;
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
    const plan = clientPlanOf(config, this.record.number);
    const expected = selection.mode === 'poisson' ? Math.max(1, selection.samplingRate * eligible.length) : selection.cohortSize;
    const dpPlan = dpPlanOf(config);
    if (dpPlan !== null) {
      const ready = this.prepareDp(dpPlan, plan, expected, cohort.length);
      if (typeof ready === 'string') return this.abort(ready, { selected: cohort.length });
    }
    if (config.aggregation.rootDataset !== undefined) {
      const trainer = this.deps.rootTrainer ?? null;
      if (trainer === null) return this.abort(`rule ${config.aggregation.rule} needs a reference update on the root dataset, and this coordinator has no trainer for it`, { selected: cohort.length });
      // Started now, awaited before aggregation: the server trains while the clients do.
      this.reference = trainer.rootUpdate(this.input.federation, config, this.weightsIn, plan).then(
        (update) => ({ update }),
        (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }),
      );
    }
    this.accumulator =
      this.dp === null || this.dp.plan.mechanism !== 'central'
        ? this.input.strategy.createAccumulator(this.weightsIn.length, this.aggregationInputs())
        : createDpFedAvgAccumulator(this.weightsIn.length, {
            clipNorm: this.dp.clipNorm,
            noiseMultiplier: this.dp.updateNoiseMultiplier,
            // The fixed denominator: the expected cohort, never the realized one.
            expectedContributions: expected,
            rng: this.noiseRng(),
          });
    this.taskSentAt = this.deps.now();
    const trainingDeadline = this.taskSentAt + deadlines.trainingMs;
    const modelRef = this.deps.models.reference(this.modelIn);
    if (config.secagg.enabled) {
      try {
        this.secure = this.secureRoundFor(cohort);
      } catch (error) {
        if (isCohortError(error)) return this.abort(`secure aggregation cannot run: ${error.message}`, { selected: cohort.length });
        throw error;
      }
      plan.secagg = this.secure.plan;
    }
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
        updateKind: this.secure === null ? 'delta-float32' : 'masked-uint32',
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
    if (this.secure !== null) return this.secureStages({ selected: cohort.length, configuring: accepted }, trainingDeadline);
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

  private noiseRngInstance: Rng | null = null;

  /** Noise randomness: the OS CSPRNG, or the injected one (seeded in tests and simulations). */
  private noiseRng(): Rng {
    return (this.noiseRngInstance ??= this.deps.noiseRng ?? createOsRng());
  }

  /**
   * Fixes this round's DP before tasks go out: the clip norm (adaptive clipping moves it between rounds), the noise
   * split, and the noise each client adds. Returns an abort reason when the round cannot run as configured.
   */
  private prepareDp(plan: DpRoundPlan, clientPlan: ClientTrainingPlan, expected: number, cohortSize: number): string | null {
    const { config } = this.input;
    const ledger = this.deps.store.listPrivacyLedger(this.federationId);
    let clipNorm = plan.clipNorm;
    let updateZ = plan.noiseMultiplier;
    let countNoise: number | null = null;
    let skellam: SkellamPlan | null = null;
    try {
      if (plan.adaptiveClipping !== null) {
        clipNorm = currentClipNorm(ledger, plan);
        clientPlan.clipNorm = clipNorm;
        // The paper's σ_b = m/20, but never below z: the count then takes at most a quarter of the round's 1/z².
        countNoise = plan.adaptiveClipping.countNoise ?? Math.max(expected / 20, plan.noiseMultiplier);
        updateZ = updateNoiseMultiplier(plan.noiseMultiplier, countNoise);
      }
      if (plan.mechanism === 'local') clientPlan.noise = { mode: 'local', noiseMultiplier: plan.noiseMultiplier };
      if (plan.mechanism === 'distributed') {
        skellam = planSkellam({
          clipNorm,
          dimension: this.weightsIn.length,
          modulusBits: config.secagg.modulusBits,
          maxInputs: cohortSize,
          // Sized so the noise of the others is enough: a client's own share is never counted for its privacy.
          minSurvivors: Math.max(1, Math.min(config.selection.minClients, cohortSize) - 1),
          noiseMultiplier: plan.noiseMultiplier,
          wrapProbability: plan.wrapProbability,
        });
        if (skellam.l2Bound < MIN_DISTRIBUTED_L2_BOUND) {
          throw new CohortError(
            'CONFIG_INVALID',
            `a ${config.secagg.modulusBits}-bit modulus leaves a rounding bound of ${skellam.l2Bound.toFixed(0)} integer units for ${cohortSize} inputs, below the ${MIN_DISTRIBUTED_L2_BOUND} the accountant plans with; raise secagg.modulusBits or lower the cohort`,
          );
        }
        clientPlan.noise = { mode: 'distributed', scale: skellam.scale, l2Bound: skellam.l2Bound, perClientVariance: skellam.perClientVariance };
      }
    } catch (error) {
      if (isCohortError(error)) return `differential privacy (${plan.mechanism}) cannot run: ${error.message}`;
      throw error;
    }
    this.dp = { plan, clipNorm, expected, updateNoiseMultiplier: updateZ, countNoise, skellam };
    return null;
  }

  /** The ledger entry and metrics of a committed DP round. */
  private privacyOfCommit(contributors: readonly string[], metrics: Record<string, number>): NonNullable<CommitRoundInput['privacy']> {
    const dp = this.dp!;
    const { plan } = dp;
    const ledger = this.deps.store.listPrivacyLedger(this.federationId);
    const params: Record<string, number> = {};
    let noiseMultiplier = plan.noiseMultiplier;
    let accounted: AccountedRound | null = null;
    if (plan.mechanism === 'central') {
      accounted = { mechanism: 'central', samplingRate: plan.samplingRate, noiseMultiplier };
      if (dp.countNoise !== null) {
        // Adaptive clipping: the noised fraction of clients that were not clipped moves C for the next round.
        const unclipped = contributors.filter((id) => this.participants.get(id)?.metrics['clipped'] === 0).length;
        const fraction = noisedUnclippedFraction(unclipped, contributors.length, dp.expected, dp.countNoise, this.noiseRng());
        const next = nextClipNorm(dp.clipNorm, fraction, plan.adaptiveClipping!);
        Object.assign(params, { updateNoiseMultiplier: dp.updateNoiseMultiplier, countNoise: dp.countNoise, noisedQuantile: fraction, nextClipNorm: next });
        metrics['dp_clip_norm'] = dp.clipNorm;
        metrics['dp_noised_unclipped_fraction'] = fraction;
      }
    } else if (plan.mechanism === 'distributed') {
      // Only the survivors' noise is in the sum, and a client's own share does not protect it: account the others'.
      const sk = dp.skellam!;
      const centralVariance = (contributors.length - 1) * sk.perClientVariance;
      if (!(centralVariance > 0)) throw new CohortError('INTERNAL', `distributed DP: ${contributors.length} contribution(s) carry no noise from others`);
      noiseMultiplier = Math.sqrt(centralVariance) / sk.l2Bound;
      accounted = { mechanism: 'distributed', samplingRate: plan.samplingRate, l2Bound: sk.l2Bound, l1Bound: sk.l1Bound, centralVariance };
      Object.assign(params, { scale: sk.scale, l2Bound: sk.l2Bound, l1Bound: sk.l1Bound, centralVariance, perClientVariance: sk.perClientVariance });
    }
    const spent = spendingAfter(ledger, plan, accounted, contributors);
    metrics['epsilon'] = spent.epsilon;
    metrics['dp_noise_multiplier'] = noiseMultiplier;
    // 0 marks a fixed cohort: the accountant then claims no amplification by sampling (q = 1).
    metrics['dp_amplified'] = plan.amplified ? 1 : 0;
    return {
      mechanism: plan.mechanism,
      noiseMultiplier,
      samplingRate: plan.samplingRate,
      clipNorm: dp.clipNorm,
      survivors: contributors.length,
      epsilonAfter: spent.epsilon,
      delta: plan.delta,
      rdp: spent.rdp,
      params,
      contributors: [...contributors].sort(),
    };
  }

  /** What the coordinator supplies to the rule: the reference update, once trained. */
  private aggregationInputs(): RoundAggregationInputs {
    return this.reference === null ? {} : { referenceUpdate: () => this.referenceUpdate };
  }

  private async aggregateAndCommit(survivors: Record<string, number>): Promise<RoundResult> {
    const { store, models, evaluator, events } = this.deps;
    const { federation, config, strategy } = this.input;
    if (this.reference !== null) {
      const reference = await this.reference;
      if ('error' in reference) return this.abort(`the server's update on the root dataset failed: ${reference.error}`, survivors);
      this.referenceUpdate = reference.update;
      if (this.input.signal.aborted) return this.abort(abortReasonOf(this.input.signal), survivors);
    }
    const aggregate = this.accumulator!.finish();
    const stateIn: ServerOptimizerState | null = models.optimizerState(this.modelIn);
    const applied = strategy.apply(this.weightsIn, aggregate, stateIn);
    const bad = firstNonFinite(applied.weights);
    if (bad >= 0) return this.abort(`the aggregated model is not finite at element ${bad}; nothing committed`, survivors);

    const metrics: Record<string, number> = {
      ...this.clientMetricMeans(),
      ...this.secureMetrics(),
      // Clients behind the aggregate: one per contribution in plaintext, the survivors of each bucket sum otherwise.
      participants: this.secure === null ? aggregate.count : aggregate.verdicts.filter((v) => v.verdict !== 'rejected').reduce((n, v) => n + v.clientIds.length, 0),
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
    // Clients whose (noised) contribution is in the aggregate: accepted updates, or the survivors of each bucket sum.
    const contributors = aggregate.verdicts.filter((v) => v.verdict !== 'rejected').flatMap((v) => v.clientIds);
    const privacy: CommitRoundInput['privacy'] = this.dp === null ? undefined : this.privacyOfCommit(contributors, metrics);
    const outcomes = clientOutcomes([...aggregate.verdicts, ...this.refused]);
    const commit = store.commitRound(
      {
        privacy,
        roundId: this.roundId,
        now,
        model: { sha256: file.sha256, sizeBytes: file.sizeBytes, optimizerStateSha256 },
        metrics,
        survivors,
        participations: this.participationRecords(outcomes),
        bytesUp,
        bytesDown,
        completesFederation: federation.roundsCommitted + 1 >= federation.roundsTarget,
        reputation: config.reputation.enabled ? { policy: config.reputation, outcomes } : undefined,
        verdicts: [...aggregate.verdicts, ...this.refused].map((v) => ({
          contributionId: v.contributionId,
          clientId: v.clientIds.length === 1 ? v.clientIds[0]! : null,
          bucket: this.bucketOfContribution(v.contributionId),
          verdict: v.verdict,
          reason: v.reason,
          scores: v.scores,
        })),
      },
      ACTOR,
    );
    this.state = 'committed';
    for (const client of commit.quarantined) {
      events.emit({ type: 'client.quarantined', clientId: client.id, federationId: federation.id, message: `client ${client.id} quarantined: ${client.statusReason ?? ''}` });
    }
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
    if (message.kind === 'secagg') {
      this.onSecAggReply(clientId, message.message);
    } else if (message.kind === 'failed') {
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
    if (this.secure === null && this.state !== 'configuring' && this.state !== 'training') {
      throw new CohortError('ROUND_WRONG_STAGE', `round ${n} is in stage ${this.state}, not accepting updates`);
    }
    if (p.stage === 'uploaded') throw new CohortError('FAILED_PRECONDITION', `update for round ${n} was already received from client ${clientId}`);
    if (p.stage === 'uploading') throw new CohortError('FAILED_PRECONDITION', `an upload for round ${n} from client ${clientId} is already in progress`);
    if (this.secure !== null) return this.beginMaskedUpload(p, header);
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
    const contribution = { id: p.clientId, clientIds: [p.clientId], delta: bytesToFloat32(update.payload), weight: update.numExamples };
    try {
      this.checkDeclaredClip(contribution.delta);
      // The accumulator checks length and finiteness itself (one pass) and adds nothing when it refuses.
      this.accumulator.add(contribution);
    } catch (error) {
      // Refused before aggregation: the reason is recorded as a rejected verdict, and counts against reputation.
      if (isCohortError(error)) this.refused.push(rejectedVerdict(contribution, `refused before aggregation: ${error.message}`));
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

  /** Contributions refused before aggregation (invalid, or above the declared clip), with their reasons. */
  private readonly refused: ContributionVerdict[] = [];

  /**
   * The plan's clip, re-checked on plaintext updates whatever the rule: clients clip, so an update above C (or a
   * tensor above its C_l) did not follow the plan. Local DP is exempt: its noise is part of the update.
   */
  private checkDeclaredClip(delta: Float32Array): void {
    const { plan, dp } = this.input.config;
    if (dp.mode === 'local') return;
    const slack = 1 + 1e-5;
    if (plan.perLayerClipNorms.length > 0) {
      this.input.federation.layout.tensors.forEach((tensor, i) => {
        let squares = 0;
        for (let j = tensor.offset; j < tensor.offset + tensor.size && j < delta.length; j++) squares += delta[j]! * delta[j]!;
        const limit = plan.perLayerClipNorms[i]!;
        if (Math.sqrt(squares) > limit * slack) {
          throw new CohortError('INVALID_ARGUMENT', `tensor "${tensor.name}" has L2 norm ${Math.sqrt(squares).toPrecision(6)}, above its declared clip norm ${limit}`);
        }
      });
      return;
    }
    const clip = this.dp?.clipNorm ?? plan.clipNorm;
    if (clip <= 0) return;
    let squares = 0;
    for (let j = 0; j < delta.length; j++) squares += delta[j]! * delta[j]!;
    if (Math.sqrt(squares) > clip * slack) throw new CohortError('INVALID_ARGUMENT', `update L2 norm ${Math.sqrt(squares).toPrecision(6)} is above the declared clip norm ${clip}`);
  }

  // Secure aggregation.

  /** Buckets' quantization and graph settings, fixed when tasks are sent (throws CONFIG_INVALID when they cannot work). */
  private secureRoundFor(cohort: readonly string[]): SecureRound {
    const { config } = this.input;
    const s = config.secagg;
    // A coordinate is bounded by its update's norm: the clip norm, or the largest per-layer norm.
    const clamp = s.clamp ?? (config.plan.clipNorm > 0 ? config.plan.clipNorm : Math.max(...config.plan.perLayerClipNorms));
    let weightCap = s.weightCap ?? 0;
    if (weightCap === 0) {
      // The counts clients report at session open bound their weights; nothing secret is learned from the cap.
      const counts = this.deps.gateway.connected().filter((c) => cohort.includes(c.clientId)).map((c) => c.capabilities.numExamples);
      weightCap = Math.max(1, ...counts);
      if (config.plan.maxExamples > 0) weightCap = Math.min(weightCap, config.plan.maxExamples);
    }
    const params = quantizationParams({ modulusBits: s.modulusBits, clamp, maxInputs: cohort.length, weightCap });
    const plan: SecAggTaskPlan = { modulusBits: s.modulusBits, clamp, maxInputs: cohort.length, weightCap, buckets: 1 };
    return { plan, params, servers: [], bucketOf: new Map(), stageBytes: new Map(), survivors: {} };
  }

  private secAggCrypto(): SecAggCrypto {
    const crypto = this.deps.secaggCrypto;
    if (crypto === undefined) throw new CohortError('INTERNAL', 'secure aggregation is enabled but the coordinator was built without its cryptography');
    return crypto;
  }

  /** advertise-keys → share-keys → masked-input → consistency-check → unmasking, then the bucket sums are aggregated. */
  private async secureStages(survivors: Record<string, number>, trainingDeadline: number): Promise<RoundResult> {
    const secure = this.secure!;
    const { config, signal, federation } = this.input;
    const crypto = this.secAggCrypto();
    const accepted = this.live().map((p) => p.clientId).sort();

    // Buckets by a committed permutation; a SecAgg+ graph inside each.
    let groups: string[][];
    let buckets: { commitment: Uint8Array; seed: Uint8Array; cohortIds: string[]; count: number } | null = null;
    try {
      const count = config.secagg.bucketed ? bucketCount(accepted.length, { minBucketSize: config.secagg.minBucketSize, buckets: config.secagg.buckets }) : 1;
      if (count > 1) {
        const seed = crypto.randomBytes(32);
        buckets = { seed, commitment: permutationCommitment(crypto, federation.id, this.roundId, seed), cohortIds: accepted, count };
        groups = assignBuckets(accepted, seed, count);
      } else {
        groups = [accepted];
      }
      const graphRng = createSeededRng(deriveSeed(this.roundId, 'secagg-graph'));
      secure.servers = groups.map((members, bucket) => {
        const { degree, threshold } = resolveGraphParameters(members.length, { neighbours: config.secagg.neighbours, threshold: config.secagg.threshold });
        for (const id of members) secure.bucketOf.set(id, bucket);
        return new SecAggServer({
          context: { federationId: federation.id, roundId: this.roundId, bucket },
          memberIds: members,
          neighbours: neighbourGraph(members, degree, graphRng),
          threshold,
          vectorLength: this.weightsIn.length + 1,
          crypto,
          identityKeyOf: (id) => this.deps.store.getClient(id)?.identityPublicKey ?? null,
          buckets,
        });
      });
    } catch (error) {
      if (isCohortError(error)) return this.abort(`secure aggregation cannot run with ${accepted.length} clients: ${error.message}`, survivors);
      throw error;
    }
    secure.plan.buckets = groups.length;

    for (const stage of SECURE_STAGES) {
      this.setState(stage, { survivors: { ...survivors, ...secure.survivors } });
      if (stage === 'advertise-keys') {
        for (const server of secure.servers) {
          for (const [id, request] of server.advertiseRequests()) this.sendSecAgg(id, { stage, bucket: server.context.bucket, request });
        }
      }
      const deadline = stage === 'masked-input' ? Math.max(trainingDeadline, this.deps.now() + config.deadlines.stageMs) : this.deps.now() + config.deadlines.stageMs;
      await this.waitUntil(() => secure.servers.every((server) => server.stage !== stage || server.pendingClients().length === 0), deadline, signal);
      if (signal.aborted) return this.abort(abortReasonOf(signal), { ...survivors, ...secure.survivors });
      const failures: string[] = [];
      let completed = 0;
      for (const server of secure.servers) {
        if (server.stage !== stage) continue;
        const outcome = this.closeSecureStage(server, stage);
        this.syncSecAggDrops(server);
        completed += stage === 'masked-input' ? server.inputClients().length : server.liveClients().length;
        if (!outcome.ok) {
          failures.push(outcome.reason);
          this.failBucket(server, stage, outcome.reason);
          continue;
        }
        if ('requests' in outcome) for (const [id, request] of outcome.requests) this.sendSecAgg(id, nextRequest(stage, request));
      }
      secure.survivors[stage] = completed;
      const working = secure.servers.filter((server) => server.stage !== 'failed');
      const contributing = working.reduce((n, server) => n + (SECURE_STAGES.indexOf(stage) >= 2 ? server.inputClients().length : server.liveClients().length), 0);
      if (working.length === 0 || contributing < config.selection.minClients) {
        const why = failures.length > 0 ? failures.join('; ') : `${contributing} clients left, minimum ${config.selection.minClients}`;
        return this.abort(working.length === 0 && secure.servers.length === 1 ? why : `secure aggregation failed at ${stage} (${working.length} of ${secure.servers.length} buckets left): ${why}`, {
          ...survivors,
          ...secure.survivors,
        });
      }
    }

    // aggregating: each bucket's sum, decoded, is one contribution (its weighted mean and total weight).
    await new Promise<void>((resolve) => setImmediate(resolve));
    const all = { ...survivors, ...secure.survivors };
    this.setState('aggregating', { survivors: all });
    this.accumulator = this.input.strategy.createAccumulator(this.weightsIn.length, this.aggregationInputs());
    for (const server of secure.servers) {
      if (server.stage !== 'done') continue;
      const { sum, survivorIds } = this.bucketSums.get(server.context.bucket)!;
      reduceModulus(sum, secure.params.modulusBits);
      const skellam = this.dp?.skellam ?? null;
      if (skellam !== null) {
        // Distributed DP: Σ clipped updates + the survivors' Skellam noise, over the fixed denominator (DP-FedAvg).
        const noisy = decodeSkellamSum(sum, skellam, secure.params.modulusBits);
        if (noisy.count !== survivorIds.length) {
          this.deps.log(`round ${this.record.number}: the sum counts ${noisy.count} inputs but ${survivorIds.length} clients survived; left out`);
          continue;
        }
        this.accumulator.add(contributionFromWeightedSum({ id: `bucket-${server.context.bucket}`, clientIds: survivorIds, weightedSum: noisy.sum, totalWeight: this.dp!.expected }));
        continue;
      }
      const decoded = dequantizeSum(sum, secure.params);
      const weightedSum = decoded.weightedSum;
      // Σ ω·x with ω = min(n, cap)/cap: scale by cap to get Σ min(n, cap)·x over Σ min(n, cap) examples.
      for (let i = 0; i < weightedSum.length; i++) weightedSum[i] = weightedSum[i]! * secure.params.weightCap;
      if (!(decoded.totalWeight > 0)) {
        this.deps.log(`round ${this.record.number}: bucket ${server.context.bucket} decoded a total weight of ${decoded.totalWeight}; left out`);
        continue;
      }
      try {
        this.accumulator.add(contributionFromWeightedSum({ id: `bucket-${server.context.bucket}`, clientIds: survivorIds, weightedSum, totalWeight: decoded.totalWeight }));
      } catch (error) {
        if (!isCohortError(error)) throw error;
        this.deps.log(`round ${this.record.number}: bucket ${server.context.bucket} refused by the aggregation rule: ${error.message}`);
      }
    }
    if (this.accumulator.count === 0) return this.abort('no bucket sum could be aggregated', all);
    return this.aggregateAndCommit(all);
  }

  private readonly bucketSums = new Map<number, { sum: Uint32Array; survivorIds: string[] }>();

  private closeSecureStage(server: SecAggServerType, stage: SecAggStage): StageOutcome<unknown> | SumOutcome {
    switch (stage) {
      case 'advertise-keys':
        return server.closeAdvertiseKeys();
      case 'share-keys':
        return server.closeShareKeys();
      case 'masked-input':
        return server.closeMaskedInput();
      case 'consistency-check':
        return server.closeConsistencyCheck();
      case 'unmasking': {
        const outcome = server.closeUnmasking();
        if (outcome.ok) this.bucketSums.set(server.context.bucket, { sum: outcome.sum, survivorIds: outcome.survivorIds });
        return outcome;
      }
    }
  }

  private sendSecAgg(clientId: string, message: SecAggRequest): void {
    const p = this.participants.get(clientId);
    if (p === undefined || p.dropped || p.released) return;
    if (!this.deps.gateway.send(clientId, { kind: 'secagg', roundId: this.roundId, message })) {
      this.secure!.servers[this.secure!.bucketOf.get(clientId)!]!.drop(clientId, `not connected when ${message.stage} was sent`);
      this.syncSecAggDrops(this.secure!.servers[this.secure!.bucketOf.get(clientId)!]!);
      return;
    }
    const bytes = secAggRequestWireBytes(this.roundId, message);
    p.bytesDown += bytes;
    this.stageBytes(message.stage).down += bytes;
  }

  private onSecAggReply(clientId: string, reply: SecAggReply): void {
    const secure = this.secure;
    const p = this.participants.get(clientId)!;
    if (secure === null) {
      this.drop(clientId, this.state, `protocol violation: sent ${reply.stage} in a plaintext round`);
      return;
    }
    const server = secure.servers[secure.bucketOf.get(clientId) ?? -1];
    if (server === undefined) {
      this.drop(clientId, this.state, `protocol violation: sent ${reply.stage} before the secure stages began`);
      return;
    }
    const bytes = secAggReplyWireBytes(this.roundId, reply);
    p.bytesUp += bytes;
    this.stageBytes(reply.stage).up += bytes;
    try {
      switch (reply.stage) {
        case 'advertise-keys':
          server.receiveAdvertisedKeys(clientId, reply.reply);
          break;
        case 'share-keys':
          server.receiveSharedKeys(clientId, reply.reply);
          break;
        case 'masked-input':
          // The masked input itself arrives through UploadUpdate; this announces it and names bad shares.
          server.receiveRejectedShares(clientId, reply.reply.rejectedShareIds);
          break;
        case 'consistency-check':
          server.receiveConsistencySignature(clientId, reply.reply);
          break;
        case 'unmasking':
          server.receiveUnmaskShares(clientId, reply.reply);
          break;
      }
    } catch (error) {
      if (!isCohortError(error)) throw error;
      this.deps.log(`round ${this.record.number}: ${error.message}`);
    } finally {
      this.syncSecAggDrops(server);
    }
  }

  private beginMaskedUpload(p: Participant, header: UploadHeaderInfo): UploadSink {
    const secure = this.secure!;
    const n = this.record.number;
    if (header.kind !== 'masked-uint32') {
      throw new CohortError('INVALID_ARGUMENT', `round ${n} runs secure aggregation and expects masked-uint32 updates, got ${header.kind}`);
    }
    if (this.state !== 'masked-input') throw new CohortError('ROUND_WRONG_STAGE', `round ${n} is in stage ${this.state}, not accepting masked inputs`);
    const server = secure.servers[secure.bucketOf.get(p.clientId) ?? -1];
    if (server === undefined || server.stage !== 'masked-input') throw new CohortError('ROUND_WRONG_STAGE', `the secure sum of client ${p.clientId} is not accepting masked inputs`);
    const words = this.weightsIn.length + 1;
    if (header.totalBytes !== words * 4) {
      server.drop(p.clientId, `protocol violation at masked-input: declared ${header.totalBytes} bytes; a masked input is ${words} uint32 words (${words * 4} bytes)`, true);
      this.syncSecAggDrops(server);
      this.notify();
      throw new CohortError('UPDATE_WRONG_LENGTH', `masked input declares ${header.totalBytes} bytes; round ${n} expects ${words} uint32 words (${words * 4} bytes)`);
    }
    try {
      server.checkMaskedInput(p.clientId, words);
    } catch (error) {
      this.syncSecAggDrops(server);
      this.notify();
      throw error;
    }
    p.stage = 'uploading';
    return {
      expectedBytes: words * 4,
      expectedElements: words,
      deliver: (update) => {
        if (p.dropped || p.released || this.state !== 'masked-input' || server.stage !== 'masked-input') {
          throw new CohortError('ROUND_STALE', `round ${n} no longer accepts the masked input of client ${p.clientId}`);
        }
        const payload = update.payload;
        // An aligned copy: the bytes may sit at any offset of a larger buffer.
        const words32 = new Uint32Array(payload.byteLength / 4);
        new Uint8Array(words32.buffer).set(payload);
        try {
          server.receiveMaskedInput(p.clientId, words32);
        } catch (error) {
          this.syncSecAggDrops(server);
          this.notify();
          throw error;
        }
        p.stage = 'uploaded';
        p.numExamples = update.numExamples;
        p.bytesUp += update.bytes;
        this.stageBytes('masked-input').up += update.bytes;
        this.progress();
        this.notify();
      },
      abandon: (reason) => {
        if (p.stage === 'uploading' && this.involves(p.clientId) && this.state === 'masked-input') {
          p.stage = 'accepted';
          server.drop(p.clientId, `upload failed: ${reason}`);
          this.syncSecAggDrops(server);
          this.notify();
        }
      },
    };
  }

  /** Mirrors the secure sum's drops in the participant records (a client whose input is in a sum stays a survivor). */
  private syncSecAggDrops(server: SecAggServerType): void {
    for (const d of server.takeDrops()) {
      const p = this.participants.get(d.clientId);
      if (p === undefined || p.dropped || p.released) continue;
      if (p.stage === 'uploaded') {
        this.deps.log(`round ${this.record.number}: client ${d.clientId} (input in the sum) stopped at ${d.stage}: ${d.reason}`);
        continue;
      }
      this.drop(d.clientId, d.stage, d.reason);
    }
  }

  /** A bucket whose secure sum failed: its clients are released and its inputs never decoded. */
  private failBucket(server: SecAggServerType, stage: SecAggStage, reason: string): void {
    this.deps.log(`round ${this.record.number}: secure sum of bucket ${server.context.bucket} failed: ${reason}`);
    for (const id of server.liveClients().concat(server.inputClients())) {
      const p = this.participants.get(id);
      if (p === undefined || p.dropped || p.released) continue;
      p.dropped = true;
      p.dropoutStage = stage;
      p.dropoutReason = `secure sum of bucket ${server.context.bucket} failed: ${reason}`;
      if (p.stage === 'uploaded') p.stage = 'accepted';
      this.deps.gateway.send(id, { kind: 'end', roundId: this.roundId, outcome: 'released', reason: p.dropoutReason, model: null });
    }
  }

  private stageBytes(stage: string): { up: number; down: number } {
    const map = this.secure!.stageBytes;
    let entry = map.get(stage);
    if (entry === undefined) {
      entry = { up: 0, down: 0 };
      map.set(stage, entry);
    }
    return entry;
  }

  private bucketOfContribution(contributionId: string): number | null {
    const match = /^bucket-(\d+)$/.exec(contributionId);
    return this.secure === null || match === null ? null : Number(match[1]);
  }

  /** Round metrics of secure aggregation: buckets, and bytes per stage (all clients, and per client of the stage). */
  private secureMetrics(): Record<string, number> {
    const secure = this.secure;
    if (secure === null) return {};
    const out: Record<string, number> = {
      secagg_buckets: secure.servers.length,
      secagg_buckets_failed: secure.servers.filter((s) => s.stage === 'failed').length,
    };
    // What the coordinator learned: sums over at least this many clients each (the privacy side of bucketing).
    const sums = [...this.bucketSums.values()].map((b) => b.survivorIds.length);
    if (sums.length > 0) out['secagg_smallest_sum'] = Math.min(...sums);
    for (const [stage, bytes] of secure.stageBytes) {
      const key = stage.replace(/-/g, '_');
      out[`bytes_up_${key}`] = bytes.up;
      out[`bytes_down_${key}`] = bytes.down;
    }
    return out;
  }

  // Bookkeeping.

  private eligibleClients(): string[] {
    const { store, gateway, hub } = this.deps;
    const { config, inputShape } = this.input;
    // Local DP: a client whose own ε would pass the budget by joining once more is not selected again.
    const dp = dpPlanOf(config);
    const spent = dp?.mechanism === 'local' ? clientsAtBudget(store.listPrivacyLedger(this.federationId), dp) : null;
    return gateway
      .connected()
      .filter((c) => !hub.isBusy(c.clientId) && isEligible(c, config, inputShape, store.getClient(c.clientId)?.status) && spent?.has(c.clientId) !== true)
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
    if (p === undefined || p.dropped) return;
    // The secure sum stops waiting for the client too (a no-op when it is the one that dropped it).
    const secure = this.secure;
    const bucket = secure?.bucketOf.get(clientId);
    if (secure !== null && bucket !== undefined) secure.servers[bucket]!.drop(clientId, reason);
    if (p.stage === 'uploaded') return;
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

  /** Participations, with the verdict each client was judged by (its own, or its bucket's) when it was judged. */
  private participationRecords(outcomes: readonly ClientOutcome[] = []): ParticipationRecord[] {
    const judged = new Map(outcomes.map((o) => [o.clientId, o]));
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
      verdict: judged.get(p.clientId)?.verdict ?? null,
      contributionId: judged.get(p.clientId)?.contributionId ?? null,
    }));
  }
}

/** The request that opens the stage after `stage`, from what closing `stage` produced. */
function nextRequest(stage: SecAggStage, request: unknown): SecAggRequest {
  switch (stage) {
    case 'advertise-keys':
      return { stage: 'share-keys', request: request as Extract<SecAggRequest, { stage: 'share-keys' }>['request'] };
    case 'share-keys':
      return { stage: 'masked-input', request: request as Extract<SecAggRequest, { stage: 'masked-input' }>['request'] };
    case 'masked-input':
      return { stage: 'consistency-check', request: request as Extract<SecAggRequest, { stage: 'consistency-check' }>['request'] };
    case 'consistency-check':
      return { stage: 'unmasking', request: request as Extract<SecAggRequest, { stage: 'unmasking' }>['request'] };
    case 'unmasking':
      throw new CohortError('INTERNAL', 'unmasking is the last secure-aggregation stage');
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
