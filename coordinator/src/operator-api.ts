/**
 * What operators can do, in domain terms: federations, rounds, tokens, client control, model export. The gRPC
 * OperatorService and the in-process simulator both call this; neither reaches past it into the store.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createStrategy } from '../../shared/src/core/aggregation/index.js';
import { CohortError } from '../../shared/src/core/errors.js';
import { createSeededRng } from '../../shared/src/core/rng/rng.js';
import { bytesToFloat32 } from '../../shared/src/core/tensor/bytes.js';
import { initializeWeights } from '../../shared/src/core/tensor/init.js';
import type { ModelLayout } from '../../shared/src/core/tensor/layout.js';
import { firstNonFinite } from '../../shared/src/core/tensor/ops.js';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import { COHORT_VERSION } from '../../shared/src/protocol/constants.js';
import type { ModelReference } from '../../shared/src/protocol/types.js';
import { builtinTopology, describeTopology } from '../../client/src/training/index.js';
import type { EventBus } from './events.js';
import type { HeldOutEvaluator } from './evaluation.js';
import type { FederationConfig } from './federation/config.js';
import { strategyOptionsOf } from './federation/strategy-options.js';
import type { ModelRepository } from './models.js';
import type { Scheduler } from './round/scheduler.js';
import type { SessionRegistry } from './sessions/session-registry.js';
import type {
  ClientHistoryEntry,
  ClientRecord,
  ClientStatus,
  CoordinatorStore,
  FederationRecord,
  ModelVersionRecord,
  ParticipationRecord,
  PrivacyLedgerRecord,
  RoundRecord,
  VerdictRecord,
} from './store/types.js';

export const BUILTIN_MODELS = ['fmnist-cnn', 'fmnist-mlp'] as const;

const ACTOR = 'operator';
const DEFAULT_TOKEN_TTL_SECONDS = 24 * 3600;
const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

export interface OperatorApiDeps {
  store: CoordinatorStore;
  models: ModelRepository;
  sessions: SessionRegistry;
  scheduler: Scheduler;
  events: EventBus;
  evaluator: HeldOutEvaluator;
  coordinatorPublicKey: Uint8Array;
  startedAt: number;
  now: () => number;
  log: (line: string) => void;
}

export interface CoordinatorStatusInfo {
  version: string;
  uptimeMs: number;
  connectedClients: number;
  enrolledClients: number;
  runningFederations: number;
  coordinatorPublicKey: Uint8Array;
  connectedClientIds: string[];
}

export interface ExportedModel {
  reference: ModelReference;
  layout: ModelLayout;
  topologyJson: string;
  bytes: Uint8Array;
}

export interface IssuedToken {
  id: string;
  token: string;
  label: string;
  expiresAt: number;
}

export class OperatorApi {
  constructor(private readonly deps: OperatorApiDeps) {}

  /**
   * Validates the model (builtin or topology), builds or checks its initial weights, checks the evaluation dataset
   * loads, then creates the federation and model version 0 in one transaction.
   */
  async createFederation(config: FederationConfig, options: { initialWeights?: Uint8Array | null; start?: boolean } = {}): Promise<FederationRecord> {
    const { store, models, events, now } = this.deps;
    if (store.getFederationByName(config.name) !== null) throw new CohortError('ALREADY_EXISTS', `a federation named "${config.name}" already exists`);
    let topologyJson: string;
    if (config.model.builtin !== undefined) {
      if (!(BUILTIN_MODELS as readonly string[]).includes(config.model.builtin)) {
        throw new CohortError('CONFIG_INVALID', `model.builtin: unknown model "${config.model.builtin}"; known: ${BUILTIN_MODELS.join(', ')}`);
      }
      topologyJson = builtinTopology(config.model.builtin as (typeof BUILTIN_MODELS)[number]);
    } else {
      topologyJson = config.model.topologyJson!;
    }
    // Build the strategy once now so a bad rule or optimizer setting fails at creation, naming the field.
    createStrategy(strategyOptionsOf(config));
    const described = await describeTopology(topologyJson);
    const perLayer = config.plan.perLayerClipNorms.length;
    if (perLayer > 0 && perLayer !== described.layout.tensors.length) {
      throw new CohortError('CONFIG_INVALID', `plan.perLayerClipNorms: ${perLayer} norms for a model of ${described.layout.tensors.length} tensors (${described.layout.tensors.map((t) => t.name).join(', ')})`);
    }
    const weights = this.initialWeights(config, described.layout, options.initialWeights ?? null);
    if (config.evaluation !== null) {
      try {
        await this.deps.evaluator.dataset(config.evaluation);
      } catch (error) {
        throw new CohortError('CONFIG_INVALID', `evaluation.dataset "${config.evaluation.dataset}" cannot be loaded: ${(error as Error).message}`);
      }
    }
    const root = config.aggregation.rootDataset;
    if (root !== undefined) {
      let data: Awaited<ReturnType<HeldOutEvaluator['dataset']>>;
      try {
        data = await this.deps.evaluator.dataset({ dataset: root.dataset, split: root.split, maxExamples: root.examples }, 'aggregation.rootDataset');
      } catch (error) {
        throw new CohortError('CONFIG_INVALID', `aggregation.rootDataset "${root.dataset}" cannot be loaded: ${(error as Error).message}`);
      }
      if (data.count < root.examples) throw new CohortError('CONFIG_INVALID', `aggregation.rootDataset "${root.dataset}" (${root.split}) has ${data.count} examples, fewer than examples = ${root.examples}`);
    }
    const file = models.save(weights);
    const { federation } = store.createFederation(
      {
        id: randomUUID(),
        name: config.name,
        spec: config as unknown as Record<string, unknown>,
        topologyJson,
        layout: described.layout,
        roundsTarget: config.rounds,
        createdAt: now(),
        status: options.start === true ? 'running' : 'created',
      },
      { sha256: file.sha256, sizeBytes: file.sizeBytes, optimizerStateSha256: null },
      ACTOR,
    );
    events.emit({ type: 'federation.created', federationId: federation.id, message: `federation ${federation.name} created (${described.parameterCount} parameters)` });
    if (options.start === true) {
      events.emit({ type: 'federation.started', federationId: federation.id, message: `federation ${federation.name} started` });
      this.deps.scheduler.ensureRunning(federation.id);
    }
    return federation;
  }

  private initialWeights(config: FederationConfig, layout: ModelLayout, inline: Uint8Array | null): Float32Array {
    let bytes: Uint8Array | null = inline;
    let source = 'model.initial_weights';
    if (bytes === null && config.model.initialWeightsPath !== undefined) {
      source = `model.initialWeightsPath (${config.model.initialWeightsPath})`;
      try {
        bytes = new Uint8Array(readFileSync(config.model.initialWeightsPath));
      } catch (error) {
        throw new CohortError('CONFIG_INVALID', `${source}: cannot read: ${(error as Error).message}`);
      }
    }
    if (bytes === null) return initializeWeights(layout, createSeededRng(config.model.initSeed));
    if (bytes.length !== layout.totalElements * 4) {
      throw new CohortError('CONFIG_INVALID', `${source}: ${bytes.length} bytes, but the model has ${layout.totalElements} float32 parameters (${layout.totalElements * 4} bytes)`);
    }
    const weights = bytesToFloat32(new Uint8Array(bytes));
    const bad = firstNonFinite(weights);
    if (bad >= 0) throw new CohortError('CONFIG_INVALID', `${source}: parameter ${bad} is not finite`);
    return weights;
  }

  startFederation(id: string): FederationRecord {
    const federation = this.federation(id);
    if (federation.status === 'completed') throw new CohortError('FEDERATION_WRONG_STATUS', `federation ${federation.name} is completed; create a new one to train further`);
    if (federation.status === 'running') return federation;
    const updated = this.deps.store.setFederationStatus(id, 'running', null, this.deps.now(), ACTOR);
    this.deps.events.emit({ type: 'federation.started', federationId: id, message: `federation ${federation.name} started` });
    this.deps.scheduler.ensureRunning(id);
    return updated;
  }

  async pauseFederation(id: string): Promise<FederationRecord> {
    const federation = this.federation(id);
    if (federation.status !== 'running') throw new CohortError('FEDERATION_WRONG_STATUS', `federation ${federation.name} is ${federation.status}, not running`);
    const updated = this.deps.store.setFederationStatus(id, 'paused', 'paused by operator', this.deps.now(), ACTOR);
    await this.deps.scheduler.stop(id, 'federation paused by operator');
    this.deps.events.emit({ type: 'federation.paused', federationId: id, message: `federation ${federation.name} paused` });
    return updated;
  }

  federation(id: string): FederationRecord {
    if (id.length === 0) throw new CohortError('INVALID_ARGUMENT', 'federation_id is empty');
    const federation = this.deps.store.getFederation(id) ?? this.deps.store.getFederationByName(id);
    if (federation === null) throw new CohortError('FEDERATION_NOT_FOUND', `federation "${id.slice(0, 80)}" does not exist`);
    return federation;
  }

  listFederations(): FederationRecord[] {
    return this.deps.store.listFederations();
  }

  currentModel(federation: FederationRecord): ModelVersionRecord {
    return this.deps.store.getCurrentModelVersion(federation.id);
  }

  modelReference(version: ModelVersionRecord): ModelReference {
    return this.deps.models.reference(version);
  }

  /** Metrics of the latest committed round (empty before the first commit). */
  lastMetrics(federation: FederationRecord): Record<string, number> {
    return this.currentModel(federation).metrics;
  }

  listRounds(federationId: string, options: { limit?: number; beforeNumber?: number } = {}): RoundRecord[] {
    const federation = this.federation(federationId);
    const limit = options.limit === undefined || options.limit === 0 ? 100 : Math.min(options.limit, 1000);
    return this.deps.store.listRounds(federation.id, { limit, beforeNumber: options.beforeNumber || undefined });
  }

  /** A client's rounds, newest first, with the verdicts it was judged by; `limit` 0 means 50. */
  clientHistory(clientId: string, limit: number): { client: ClientRecord; connected: boolean; entries: ClientHistoryEntry[] } {
    if (clientId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'client_id is empty');
    if (limit > 1000) throw new CohortError('INVALID_ARGUMENT', `limit must be at most 1000, got ${limit}`);
    const client = this.deps.store.getClient(clientId);
    if (client === null) throw new CohortError('CLIENT_NOT_FOUND', `client "${clientId.slice(0, 80)}" does not exist`);
    return { client, connected: this.deps.sessions.isConnected(clientId), entries: this.deps.store.listClientHistory(clientId, limit === 0 ? 50 : limit) };
  }

  round(roundId: string): { round: RoundRecord; participations: ParticipationRecord[]; verdicts: VerdictRecord[] } {
    if (roundId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'round_id is empty');
    const round = this.deps.store.getRound(roundId);
    if (round === null) throw new CohortError('ROUND_NOT_FOUND', `round "${roundId.slice(0, 80)}" does not exist`);
    return { round, participations: this.deps.store.listParticipations(roundId), verdicts: this.deps.store.listVerdicts(roundId) };
  }

  participations(roundId: string): ParticipationRecord[] {
    return this.deps.store.listParticipations(roundId);
  }

  status(): CoordinatorStatusInfo {
    const connected = this.deps.sessions.connected().map((c) => c.clientId).sort();
    return {
      version: COHORT_VERSION,
      uptimeMs: this.deps.now() - this.deps.startedAt,
      connectedClients: connected.length,
      enrolledClients: this.deps.store.listClients().length,
      runningFederations: this.deps.store.listFederations().filter((f) => f.status === 'running').length,
      coordinatorPublicKey: this.deps.coordinatorPublicKey,
      connectedClientIds: connected,
    };
  }

  privacyLedger(federationId: string): { federation: FederationRecord; entries: PrivacyLedgerRecord[] } {
    const federation = this.federation(federationId);
    return { federation, entries: this.deps.store.listPrivacyLedger(federation.id) };
  }

  /** A one-time enrollment token; only its SHA-256 is stored, the token is returned once. */
  createEnrollmentToken(label: string, ttlSeconds: number): IssuedToken {
    if (label.length > 128) throw new CohortError('INVALID_ARGUMENT', 'label is longer than 128 characters');
    const ttl = ttlSeconds === 0 ? DEFAULT_TOKEN_TTL_SECONDS : ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
      throw new CohortError('INVALID_ARGUMENT', `ttl_seconds must be between 1 and ${MAX_TOKEN_TTL_SECONDS}, got ${ttlSeconds}`);
    }
    const token = `cht_${randomBytes(24).toString('base64url')}`;
    const now = this.deps.now();
    const record = this.deps.store.createEnrollmentToken(
      { id: randomUUID(), tokenHash: sha256Hex(token), label, createdAt: now, expiresAt: now + ttl * 1000 },
      ACTOR,
    );
    return { id: record.id, token, label: record.label, expiresAt: record.expiresAt };
  }

  listClients(): { client: ClientRecord; connected: boolean }[] {
    return this.deps.store.listClients().map((client) => ({ client, connected: this.deps.sessions.isConnected(client.id) }));
  }

  /** Revoked clients lose their session now and cannot open another; quarantined ones stay connected but are never selected. */
  setClientStatus(clientId: string, status: ClientStatus, reason: string): ClientRecord {
    if (clientId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'client_id is empty');
    if (reason.length > 500) throw new CohortError('INVALID_ARGUMENT', 'reason is longer than 500 characters');
    const existing = this.deps.store.getClient(clientId);
    if (existing === null) throw new CohortError('CLIENT_NOT_FOUND', `client "${clientId.slice(0, 80)}" does not exist`);
    if (existing.status === 'revoked' && status !== 'revoked') {
      throw new CohortError('FAILED_PRECONDITION', `client ${clientId} is revoked; revocation is final (enroll the node again with a new token)`);
    }
    const updated = this.deps.store.setClientStatus(clientId, status, reason.length > 0 ? reason : null, this.deps.now(), ACTOR);
    const type = status === 'revoked' ? 'client.revoked' : status === 'quarantined' ? 'client.quarantined' : 'client.released';
    this.deps.events.emit({ type, clientId, message: `client ${clientId} ${status}${reason ? `: ${reason}` : ''}` });
    if (status === 'revoked') this.deps.sessions.close(clientId, null, `client revoked${reason ? `: ${reason}` : ''}`);
    return updated;
  }

  exportModel(federationId: string, version: number): ExportedModel {
    const federation = this.federation(federationId);
    const record = version === 0 ? this.deps.store.getCurrentModelVersion(federation.id) : this.deps.store.getModelVersion(federation.id, version);
    if (record === null) throw new CohortError('MODEL_NOT_FOUND', `federation ${federation.name} has no model version ${version}`);
    return {
      reference: this.deps.models.reference(record),
      layout: federation.layout,
      topologyJson: federation.topologyJson,
      bytes: this.deps.models.bytes(record.sha256),
    };
  }
}
