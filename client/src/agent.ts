/**
 * The client agent: enrolls once, keeps an authenticated session open (reconnecting with jittered exponential
 * backoff), and for each round task downloads and verifies the model, trains locally, and uploads its update.
 * Raw data never leaves the node; the update passes through a pipeline of transforms first (clipping now; DP noise
 * and secure-aggregation masking plug in as further steps).
 */
import { status as grpcStatus } from '@grpc/grpc-js';
import { CohortError, isCohortError } from '../../shared/src/core/errors.js';
import type { LabeledDataset } from '../../shared/src/core/data/dataset.js';
import type { Rng } from '../../shared/src/core/rng/rng.js';
import { deriveSeed } from '../../shared/src/core/rng/rng.js';
import { bytesToFloat32, float32ToBytes } from '../../shared/src/core/tensor/bytes.js';
import { difference, l2Norm, scaleInto } from '../../shared/src/core/tensor/ops.js';
import type { SecAggCrypto } from '../../shared/src/core/secagg/context.js';
import { SecAggClient } from '../../shared/src/core/secagg/client.js';
import type { MaskedInputRequest, SecAggReply, SecAggRequest, SecAggStage } from '../../shared/src/core/secagg/messages.js';
import { quantizationParams, quantizeWeighted } from '../../shared/src/core/secagg/quantize.js';
import { clipPerLayerInPlace, perLayerSensitivity } from '../../shared/src/core/dp/clip.js';
import { addGaussianNoiseInPlace } from '../../shared/src/core/dp/local.js';
import { encodeSkellamInput } from '../../shared/src/core/dp/skellam.js';
import { createOsRng } from '../../shared/src/crypto/os-rng.js';
import { createSecAggCrypto } from '../../shared/src/crypto/secagg-crypto.js';
import { secAggReplyToProto } from '../../shared/src/protocol/secagg-mapping.js';
import { generateSigningKeyPair, signingKeyPairFromSeed, verify } from '../../shared/src/crypto/sodium.js';
import type { SigningKeyPair } from '../../shared/src/crypto/sodium.js';
import { COHORT_VERSION } from '../../shared/src/protocol/constants.js';
import { clientIdFromPublicKey } from '../../shared/src/protocol/identity.js';
import { modelSignaturePayload } from '../../shared/src/protocol/signing.js';
import type { AgentCapabilities, ClientTrainingPlan } from '../../shared/src/protocol/types.js';
import { describeGrpcError, isTransient } from '../../shared/src/transport/grpc-channel.js';
import type { ChannelTls } from '../../shared/src/transport/grpc-channel.js';
import { readIdentity, writeIdentity } from './identity.js';
import type { AgentIdentity } from './identity.js';
import { CoordinatorClient } from './transport/coordinator-client.js';
import type { AgentRoundEnd, AgentTask, OpenSession } from './transport/coordinator-client.js';

/** Local training as the agent needs it (the TF.js trainer in production; anything that trains in tests). */
export interface LocalTrainer {
  readonly backend: string;
  /** Input shape the model expects, to decline tasks the local data cannot serve. */
  describe(topologyJson: string): Promise<{ inputShape: number[]; numClasses: number }>;
  train(input: { topologyJson: string; task: AgentTask; weights: Float32Array; data: LabeledDataset; plan: ClientTrainingPlan }): Promise<{ weights: Float32Array; numExamples: number; metrics: Record<string, number> }>;
}

/** A step applied to the update before upload (clip, noise, mask ...). */
export type UpdateTransform = (delta: Float32Array, context: { task: AgentTask; metrics: Record<string, number> }) => Float32Array;

/** Simulated faults (the simulator's --dropout); production agents have none. */
export type InjectedFault = 'none' | 'ignore-task' | 'disconnect-before-training' | 'disconnect-after-training' | 'fail-task' | `disconnect-at-${SecAggStage}`;

/** A round this agent takes part in with secure aggregation. */
interface SecureTask {
  task: AgentTask;
  fault: InjectedFault;
  client: SecAggClient | null;
  /** Resolved when the coordinator sends the masked-input request (the agent may still be training). */
  maskedInput: Promise<MaskedInputRequest>;
  resolveMaskedInput: (request: MaskedInputRequest) => void;
  rejectMaskedInput: (error: Error) => void;
}

export interface AgentOptions {
  coordinator: string;
  tls: ChannelTls | null;
  /** Where the identity lives; null keeps it in memory (simulations). */
  identityFile: string | null;
  /** Deterministic identity seed (simulations); default: fresh OS randomness at enrollment. */
  identitySeed?: Uint8Array;
  /** One-time enrollment token; needed only when no identity exists yet. */
  token?: string;
  displayName: string;
  data: { train: LabeledDataset; test: LabeledDataset | null };
  trainer: LocalTrainer;
  tasks?: string[];
  /** Jitter for reconnect backoff. */
  rng: Rng;
  log?: (line: string) => void;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  transforms?: UpdateTransform[];
  faults?: (task: AgentTask) => InjectedFault;
  /** Randomness of stochastic rounding (quantization); default the OS CSPRNG. */
  roundingRng?: Rng;
  /** Randomness of local DP noise; default the OS CSPRNG. */
  noiseRng?: Rng;
  /** Cryptography of secure aggregation; default libsodium + node:crypto with OS randomness. */
  secaggCrypto?: SecAggCrypto;
  /** Called after each round this agent took part in, with what it did (simulator statistics). */
  onRoundDone?: (summary: AgentRoundSummary) => void;
}

export interface AgentRoundSummary {
  roundId: string;
  roundNumber: number;
  outcome: 'uploaded' | 'declined' | 'failed' | 'dropped' | 'released';
  reason: string;
  bytesDown: number;
  bytesUp: number;
  trainSeconds: number;
}

/**
 * Clips the update: each tensor to its own norm when the plan gives per-layer norms, else the whole update to L2
 * norm C (the plan's clip norm). Records the norm before clipping.
 */
export const clipTransform: UpdateTransform = (delta, { task, metrics }) => {
  const norm = l2Norm(delta);
  metrics['update_norm'] = norm;
  if (task.plan.perLayerClipNorms.length > 0) {
    const norms = clipPerLayerInPlace(delta, task.layout, task.plan.perLayerClipNorms);
    metrics['clipped'] = norms.some((n, i) => n > task.plan.perLayerClipNorms[i]!) ? 1 : 0;
    return delta;
  }
  const clip = task.plan.clipNorm;
  if (clip > 0 && norm > clip) {
    scaleInto(delta, clip / norm);
    metrics['clipped'] = 1;
  } else if (clip > 0) {
    metrics['clipped'] = 0;
  }
  return delta;
};

export class ClientAgent {
  private identity: AgentIdentity | null = null;
  private client: CoordinatorClient | null = null;
  private session: OpenSession | null = null;
  private currentTask: { task: AgentTask; cancelled: boolean; reason: string } | null = null;
  private taskChain: Promise<void> = Promise.resolve();
  private readonly modelCache = new Map<string, { weights: Float32Array }>();
  private readonly secureTasks = new Map<string, SecureTask>();
  private secaggCryptoInstance: SecAggCrypto | null = null;
  private stopping = false;
  private stopSignal: (() => void) | null = null;
  private readonly log: (line: string) => void;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} agent ${line}\n`));
  }

  get clientId(): string | null {
    return this.identity?.clientId ?? null;
  }

  capabilities(): AgentCapabilities {
    const train = this.options.data.train;
    return {
      backend: this.options.trainer.backend,
      platform: `${process.platform}-${process.arch} node ${process.versions.node}`,
      agentVersion: COHORT_VERSION,
      numExamples: train.count,
      inputShape: [...train.featureShape],
      numClasses: train.numClasses,
      features: ['plaintext', 'secagg-plus'],
      tasks: this.options.tasks ?? [],
    };
  }

  /** Enrolls if needed, then serves sessions until stop() or a fatal error (revoked, unknown client). */
  async run(): Promise<void> {
    this.client = new CoordinatorClient(this.options.coordinator, this.options.tls);
    try {
      this.identity = await this.ensureEnrolled();
      let attempt = 0;
      while (!this.stopping) {
        let readyAt = 0;
        try {
          this.session = await this.client.openSession({
            clientId: this.identity.clientId,
            keys: this.identity.keys,
            capabilities: this.capabilities(),
            handlers: {
              onTask: (task, session) => this.enqueueTask(task, session),
              onRoundEnd: (end) => this.handleRoundEnd(end),
              onSecAgg: (roundId, request, session) => this.handleSecAgg(roundId, request, session),
              onProtocolError: (message) => this.log(`protocol: ${message}`),
            },
          });
          readyAt = Date.now();
          attempt = 0;
          this.log(`session open as ${this.identity.clientId} (backend ${this.options.trainer.backend})`);
          const { reason, error } = await this.serveSession(this.session);
          this.session = null;
          if (this.stopping) break;
          if (isFatal(error)) throw new CohortError('PERMISSION_DENIED', `coordinator refused the session: ${reason}`);
          this.log(`session ended: ${reason}`);
        } catch (error) {
          this.session = null;
          if (this.stopping) break;
          if (isFatal(error)) throw error instanceof CohortError ? error : new CohortError('PERMISSION_DENIED', `coordinator refused the session: ${describeGrpcError(error)}`);
          this.log(`cannot open a session: ${describeGrpcError(error)}`);
        }
        if (readyAt > 0 && Date.now() - readyAt > 60_000) attempt = 0;
        await this.backoff(attempt++);
      }
    } finally {
      this.session?.close();
      this.client.close();
    }
  }

  /** Ends the session and the run loop. */
  stop(): void {
    this.stopping = true;
    this.session?.close();
    this.stopSignal?.();
  }

  private async ensureEnrolled(): Promise<AgentIdentity> {
    const file = this.options.identityFile;
    if (file !== null) {
      const existing = readIdentity(file);
      if (existing !== null) {
        if (existing.coordinator !== '' && existing.coordinator !== this.options.coordinator) {
          this.log(`identity in ${file} was enrolled with ${existing.coordinator}; connecting to ${this.options.coordinator} with it`);
        }
        return existing;
      }
    }
    const token = this.options.token;
    if (token === undefined || token.length === 0) {
      throw new CohortError('CONFIG_INVALID', `no enrolled identity${file === null ? '' : ` at ${file}`}; pass --token with a one-time enrollment token`);
    }
    const seed = this.options.identitySeed ?? generateSigningKeyPair().secretKey.slice(0, 32);
    const keys: SigningKeyPair = signingKeyPairFromSeed(seed);
    let attempt = 0;
    for (;;) {
      try {
        const enrolled = await this.client!.enroll({ token, keys, capabilities: this.capabilities(), displayName: this.options.displayName });
        if (enrolled.clientId !== clientIdFromPublicKey(keys.publicKey)) {
          throw new CohortError('PROTOCOL_VIOLATION', `coordinator assigned client id ${enrolled.clientId}, which is not derived from our key`);
        }
        const identity: AgentIdentity = {
          clientId: enrolled.clientId,
          coordinator: this.options.coordinator,
          keys,
          seed,
          coordinatorPublicKey: enrolled.coordinatorPublicKey,
          enrolledAt: new Date().toISOString(),
        };
        if (file !== null) writeIdentity(file, identity);
        this.log(`enrolled as ${identity.clientId}${file === null ? '' : `; identity saved to ${file}`}`);
        return identity;
      } catch (error) {
        if (!isTransient(error) || this.stopping) {
          throw new CohortError('UNAUTHENTICATED', `enrollment failed: ${describeGrpcError(error)}`);
        }
        this.log(`enrollment: coordinator unavailable (${describeGrpcError(error)}); retrying`);
        await this.backoff(attempt++);
      }
    }
  }

  /** Heartbeats until the session closes. */
  private async serveSession(session: OpenSession): Promise<{ reason: string; error: unknown }> {
    const timer = setInterval(() => session.send('', { $case: 'heartbeat', value: { clientTimeMs: Date.now() } }), session.heartbeatMs);
    try {
      return await session.closed;
    } finally {
      clearInterval(timer);
      if (this.currentTask !== null) {
        this.currentTask.cancelled = true;
        this.currentTask.reason = 'session closed';
      }
    }
  }

  private handleRoundEnd(end: AgentRoundEnd): void {
    const secure = this.secureTasks.get(end.roundId);
    if (secure !== undefined) {
      this.secureTasks.delete(end.roundId);
      secure.rejectMaskedInput(new CohortError('FAILED_PRECONDITION', `round ${end.outcome}: ${end.reason}`));
    }
    const current = this.currentTask;
    if (current !== null && current.task.roundId === end.roundId && end.outcome !== 'committed') {
      current.cancelled = true;
      current.reason = `round ${end.outcome}: ${end.reason}`;
    }
  }

  /**
   * Tasks run one at a time. The coordinator sends a task only when it no longer counts on this client for any
   * other round, so a task still in progress is stale: it is cancelled (an upload already in flight completes).
   */
  private enqueueTask(task: AgentTask, session: OpenSession): void {
    // One round at a time: state of older secure rounds is no longer needed.
    for (const [roundId, old] of this.secureTasks) {
      if (roundId === task.roundId) continue;
      old.rejectMaskedInput(new CohortError('FAILED_PRECONDITION', `superseded by round ${task.roundNumber}`));
      this.secureTasks.delete(roundId);
    }
    if (task.plan.secagg !== null) {
      let resolveMaskedInput!: (request: MaskedInputRequest) => void;
      let rejectMaskedInput!: (error: Error) => void;
      const maskedInput = new Promise<MaskedInputRequest>((resolve, reject) => {
        resolveMaskedInput = resolve;
        rejectMaskedInput = reject;
      });
      maskedInput.catch(() => undefined);
      this.secureTasks.set(task.roundId, { task, fault: this.options.faults?.(task) ?? 'none', client: null, maskedInput, resolveMaskedInput, rejectMaskedInput });
    }
    if (this.currentTask !== null && this.currentTask.task.roundId !== task.roundId) {
      this.currentTask.cancelled = true;
      this.currentTask.reason = `superseded by round ${task.roundNumber}`;
    }
    this.taskChain = this.taskChain.then(() => this.handleTask(task, session));
  }

  private async handleTask(task: AgentTask, session: OpenSession): Promise<void> {
    const identity = this.identity;
    if (identity === null) return;
    const summary: AgentRoundSummary = { roundId: task.roundId, roundNumber: task.roundNumber, outcome: 'declined', reason: '', bytesDown: 0, bytesUp: 0, trainSeconds: 0 };
    const done = (outcome: AgentRoundSummary['outcome'], reason: string): void => {
      summary.outcome = outcome;
      summary.reason = reason;
      if (outcome !== 'uploaded') this.log(`round ${task.roundNumber}: ${outcome}${reason ? ` (${reason})` : ''}`);
      this.options.onRoundDone?.(summary);
    };
    if (this.sessionEnded(session)) return done('released', 'session closed before the task started');
    const fault = this.secureTasks.get(task.roundId)?.fault ?? this.options.faults?.(task) ?? 'none';
    if (fault === 'ignore-task') return done('dropped', 'injected fault: ignored the task');
    const mismatch = await this.checkCompatible(task);
    if (mismatch !== null) {
      session.send(task.roundId, { $case: 'taskAck', value: { accepted: false, reason: mismatch } });
      this.log(`declined round ${task.roundNumber}: ${mismatch}`);
      return done('declined', mismatch);
    }
    const current = { task, cancelled: false, reason: '' };
    this.currentTask = current;
    try {
      session.send(task.roundId, { $case: 'taskAck', value: { accepted: true, reason: '' } });
      if (fault === 'disconnect-before-training') {
        session.close();
        return done('dropped', 'injected fault: disconnected before training');
      }
      const weightsIn = await this.model(session, task, summary);
      if (current.cancelled) return done('released', current.reason);
      if (fault === 'fail-task') throw new CohortError('INTERNAL', 'injected fault: training failed');
      const started = Date.now();
      // Each client shuffles differently but reproducibly: the round's seed mixed with the client id.
      const plan = { ...task.plan, seed: deriveSeed(task.plan.seed, identity.clientId) };
      const trained = await this.options.trainer.train({ topologyJson: task.topologyJson, task, weights: weightsIn, data: this.options.data.train, plan });
      summary.trainSeconds = (Date.now() - started) / 1000;
      if (current.cancelled) return done('released', current.reason);
      if (fault === 'disconnect-after-training') {
        session.close();
        return done('dropped', 'injected fault: disconnected after training');
      }
      const metrics = { ...trained.metrics };
      let delta = difference(trained.weights, weightsIn);
      for (const transform of this.options.transforms ?? [clipTransform]) delta = transform(delta, { task, metrics });
      if (task.plan.noise !== null) {
        // The guarantee rests on the clip: enforced again whatever transforms ran (a no-op after clipTransform).
        clipTransform(delta, { task, metrics: {} });
        // Under local or distributed DP nothing but the noised update leaves the node: metrics would leak.
        for (const key of Object.keys(metrics)) delete metrics[key];
      }
      if (task.plan.noise?.mode === 'local') {
        const sensitivity = task.plan.perLayerClipNorms.length > 0 ? perLayerSensitivity(task.plan.perLayerClipNorms) : task.plan.clipNorm;
        if (!(sensitivity > 0)) throw new CohortError('INVALID_ARGUMENT', 'local DP needs a clip norm in the plan');
        addGaussianNoiseInPlace(delta, task.plan.noise.noiseMultiplier * sensitivity, this.noiseRng());
      }
      if (task.plan.secagg !== null) {
        summary.bytesUp = await this.uploadMasked(task, session, delta, trained.numExamples, current);
        if (summary.bytesUp < 0) return done('released', current.reason);
      } else {
        const bytes = float32ToBytes(delta);
        // A reconnect in between gives a new token; the coordinator dropped us from the round with the old session.
        if (this.sessionEnded(session)) throw new CohortError('FAILED_PRECONDITION', 'session closed before the upload');
        await this.client!.uploadUpdate(session.sessionToken, { roundId: task.roundId, kind: 'delta-float32', bytes, numExamples: trained.numExamples, metrics }, task.deadlineMs);
        summary.bytesUp = bytes.length;
      }
      this.log(
        `round ${task.roundNumber}: trained ${trained.numExamples} examples x ${task.plan.epochs} epoch(s) in ${summary.trainSeconds.toFixed(1)} s` +
          ` (loss ${metrics['train_loss']?.toFixed(3) ?? '?'}, accuracy ${metrics['train_accuracy'] !== undefined ? (metrics['train_accuracy'] * 100).toFixed(1) : '?'}%),` +
          ` uploaded ${(summary.bytesUp / 1e6).toFixed(2)} MB${task.plan.secagg !== null ? ' (masked)' : ''}`,
      );
      done('uploaded', '');
    } catch (error) {
      const reason = isCohortError(error) ? error.message : describeGrpcError(error);
      if (current.cancelled) return done('released', current.reason || reason);
      this.log(`round ${task.roundNumber} failed: ${reason}`);
      if (!this.sessionEnded(session)) session.send(task.roundId, { $case: 'taskFailed', value: { accepted: false, reason: reason.slice(0, 400) } });
      done('failed', reason);
    } finally {
      if (this.currentTask === current) this.currentTask = null;
    }
  }

  /**
   * Secure aggregation, client side: quantize the clipped update, wait for the masked-input request (the key
   * stages run meanwhile, answered by handleSecAgg), mask, upload, announce. Returns bytes uploaded, or -1 when the
   * round let this client go first.
   */
  private async uploadMasked(task: AgentTask, session: OpenSession, delta: Float32Array, numExamples: number, current: { cancelled: boolean; reason: string }): Promise<number> {
    const secure = this.secureTasks.get(task.roundId);
    if (secure === undefined) throw new CohortError('FAILED_PRECONDITION', `no secure-aggregation state for round ${task.roundNumber} (it ended)`);
    const plan = task.plan.secagg!;
    const noise = task.plan.noise;
    let input: Uint32Array;
    if (noise?.mode === 'distributed') {
      // Distributed DP: scaled, conditionally rounded, Skellam-noised integers; every client counts once (DP-FedAvg).
      const sensitivity = task.plan.perLayerClipNorms.length > 0 ? perLayerSensitivity(task.plan.perLayerClipNorms) : task.plan.clipNorm;
      const skellam = { clipNorm: sensitivity, scale: noise.scale, l2Bound: noise.l2Bound, perClientVariance: noise.perClientVariance };
      input = encodeSkellamInput(delta, skellam, plan.modulusBits, this.options.roundingRng ?? this.noiseRng());
    } else {
      const params = quantizationParams({ modulusBits: plan.modulusBits, clamp: plan.clamp, maxInputs: plan.maxInputs, weightCap: plan.weightCap });
      input = quantizeWeighted(delta, numExamples, params, this.options.roundingRng ?? this.noiseRng());
    }
    const request = await withDeadline(secure.maskedInput, task.deadlineMs, `the masked-input request of round ${task.roundNumber} did not arrive before the deadline`);
    if (current.cancelled) return -1;
    if (secure.client === null) throw new CohortError('PROTOCOL_VIOLATION', 'masked-input request before the key stages');
    if (secure.fault === 'disconnect-at-masked-input') {
      session.close();
      current.cancelled = true;
      current.reason = 'injected fault: disconnected at masked-input';
      return -1;
    }
    const masked = secure.client.maskInput(request, input);
    const bytes = new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength);
    if (this.sessionEnded(session)) throw new CohortError('FAILED_PRECONDITION', 'session closed before the upload');
    // Only the masked vector and the example count leave the node: no per-client metrics under secure aggregation.
    const receipt = await this.client!.uploadUpdate(session.sessionToken, { roundId: task.roundId, kind: 'masked-uint32', bytes, numExamples, metrics: {} }, task.deadlineMs);
    const rejected = secure.client.rejectedShareSenders;
    if (rejected.length > 0) this.log(`round ${task.roundNumber}: shares from ${rejected.join(', ')} failed authentication; reported`);
    session.send(task.roundId, secAggReplyToProto({ stage: 'masked-input', reply: { uploadSha256: receipt.sha256, rejectedShareIds: rejected } }));
    return bytes.length;
  }

  private osRng: Rng | null = null;

  /** DP noise and rounding: the OS CSPRNG, or the injected one (seeded in simulations). */
  private noiseRng(): Rng {
    return this.options.noiseRng ?? (this.osRng ??= createOsRng());
  }

  /** Answers the key-exchange, consistency and unmasking stages (synchronous crypto, independent of training). */
  private handleSecAgg(roundId: string, request: SecAggRequest, session: OpenSession): void {
    const secure = this.secureTasks.get(roundId);
    if (secure === undefined) {
      this.log(`ignored ${request.stage} for round ${roundId}: not a secure round this agent is in`);
      return;
    }
    if (secure.fault === `disconnect-at-${request.stage}` && request.stage !== 'masked-input') {
      this.log(`round ${secure.task.roundNumber}: injected fault: disconnecting at ${request.stage}`);
      this.secureTasks.delete(roundId);
      if (this.currentTask?.task.roundId === roundId) {
        this.currentTask.cancelled = true;
        this.currentTask.reason = `injected fault: disconnected at ${request.stage}`;
      }
      session.close();
      return;
    }
    try {
      let reply: SecAggReply | null = null;
      switch (request.stage) {
        case 'advertise-keys': {
          if (secure.client !== null) throw new CohortError('PROTOCOL_VIOLATION', 'a second advertise-keys request');
          const identity = this.identity!;
          secure.client = new SecAggClient({
            context: { federationId: secure.task.federationId, roundId, bucket: request.bucket },
            clientId: identity.clientId,
            identity: { publicKey: identity.keys.publicKey, secretKey: identity.keys.secretKey },
            crypto: this.secAggCrypto(),
          });
          reply = { stage: 'advertise-keys', reply: secure.client.advertiseKeys(request.request) };
          break;
        }
        case 'share-keys':
          reply = { stage: 'share-keys', reply: this.secureClient(secure).shareKeys(request.request) };
          break;
        case 'masked-input':
          secure.resolveMaskedInput(request.request);
          break;
        case 'consistency-check':
          reply = { stage: 'consistency-check', reply: this.secureClient(secure).consistencyCheck(request.request) };
          break;
        case 'unmasking':
          reply = { stage: 'unmasking', reply: this.secureClient(secure).unmask(request.request) };
          break;
      }
      if (reply !== null) session.send(roundId, secAggReplyToProto(reply));
    } catch (error) {
      const reason = isCohortError(error) ? error.message : String(error);
      this.log(`round ${secure.task.roundNumber}: secure aggregation refused: ${reason}`);
      secure.rejectMaskedInput(new CohortError('PROTOCOL_VIOLATION', reason));
      this.secureTasks.delete(roundId);
      if (this.currentTask?.task.roundId === roundId) {
        this.currentTask.cancelled = true;
        this.currentTask.reason = `secure aggregation refused: ${reason}`;
      }
      if (!this.sessionEnded(session)) session.send(roundId, { $case: 'taskFailed', value: { accepted: false, reason: `secure aggregation refused: ${reason}`.slice(0, 400) } });
    }
  }

  private secureClient(secure: SecureTask): SecAggClient {
    if (secure.client === null) throw new CohortError('PROTOCOL_VIOLATION', 'a secure-aggregation stage request before advertise-keys');
    return secure.client;
  }

  private secAggCrypto(): SecAggCrypto {
    return (this.secaggCryptoInstance ??= this.options.secaggCrypto ?? createSecAggCrypto());
  }

  /** True once the session a task arrived on has closed (its token no longer works). */
  private sessionEnded(session: OpenSession): boolean {
    return !session.isOpen();
  }

  /** null when the local data can serve the model; otherwise why not. */
  private async checkCompatible(task: AgentTask): Promise<string | null> {
    const tasks = this.options.tasks ?? [];
    if (task.task.length > 0 && tasks.length > 0 && !tasks.includes(task.task)) return `this node serves tasks [${tasks.join(', ')}], not "${task.task}"`;
    try {
      const { inputShape, numClasses } = await this.options.trainer.describe(task.topologyJson);
      const local = this.options.data.train.featureShape;
      if (inputShape.length !== local.length || inputShape.some((d, i) => d !== local[i])) {
        return `model input shape [${inputShape.join(',')}] does not match local data [${local.join(',')}]`;
      }
      if (this.options.data.train.numClasses > numClasses) return `local data has ${this.options.data.train.numClasses} classes, the model ${numClasses}`;
      if (task.layout.totalElements * 4 !== task.model.sizeBytes) return `model of ${task.model.sizeBytes} bytes does not match its layout of ${task.layout.totalElements} parameters`;
    } catch (error) {
      return `cannot read the model topology: ${(error as Error).message}`;
    }
    return null;
  }

  /** The task's model: from cache, or downloaded, hash-checked and signature-checked against the pinned key. */
  private async model(session: OpenSession, task: AgentTask, summary: AgentRoundSummary): Promise<Float32Array> {
    const ref = task.model;
    const payload = modelSignaturePayload(ref.federationId, ref.version, ref.sha256);
    if (!verify(ref.signature, payload, this.identity!.coordinatorPublicKey)) {
      throw new CohortError('SIGNATURE_INVALID', `model ${ref.sha256.slice(0, 12)} (version ${ref.version}) is not signed by the pinned coordinator key`);
    }
    const cached = this.modelCache.get(ref.sha256);
    if (cached !== undefined) return cached.weights;
    const downloaded = await this.client!.downloadModel(session.sessionToken, ref, task.deadlineMs);
    summary.bytesDown += downloaded.bytes.length;
    const weights = bytesToFloat32(downloaded.bytes);
    if (weights.length !== task.layout.totalElements) {
      throw new CohortError('UPDATE_WRONG_LENGTH', `downloaded model has ${weights.length} parameters, the layout ${task.layout.totalElements}`);
    }
    this.modelCache.clear();
    this.modelCache.set(ref.sha256, { weights });
    return weights;
  }

  /** Full-jitter exponential backoff: uniform in [0, min(max, base·2^attempt)]. */
  private backoff(attempt: number): Promise<void> {
    const base = this.options.reconnectBaseMs ?? 500;
    const max = this.options.reconnectMaxMs ?? 30_000;
    const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 20));
    const delay = Math.max(50, Math.floor(this.options.rng.nextFloat() * ceiling));
    return new Promise((resolve) => {
      const timer = setTimeout(done, delay);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.stopSignal = done;
    });
  }
}

/** The promise's value, or a DEADLINE_EXCEEDED error at the absolute deadline (ms since the epoch). */
function withDeadline<T>(promise: Promise<T>, deadlineMs: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new CohortError('DEADLINE_EXCEEDED', message)), Math.max(0, deadlineMs - Date.now()));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Errors after which retrying cannot help: the coordinator does not know or no longer accepts this identity. */
function isFatal(error: unknown): boolean {
  if (error instanceof CohortError) return error.code === 'PERMISSION_DENIED' || error.code === 'CLIENT_REVOKED' || error.code === 'CONFIG_INVALID';
  const code = (error as { code?: number } | null)?.code;
  return code === grpcStatus.PERMISSION_DENIED || code === grpcStatus.UNAUTHENTICATED;
}
