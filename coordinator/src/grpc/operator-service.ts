/**
 * fl.v1.OperatorService: every call is authenticated by the admin token ("authorization: Bearer <token>",
 * compared in constant time over SHA-256 digests) and delegates to OperatorApi.
 */
import type { Metadata, ServerWritableStream } from '@grpc/grpc-js';
import { CohortError } from '../../../shared/src/core/errors.js';
import { constantTimeEqual, sha256 } from '../../../shared/src/crypto/hash.js';
import { FederationStatus } from '../../../shared/src/gen/fl/v1/operator.pb.js';
import type {
  Client,
  Event,
  Federation,
  OperatorServiceServer,
  Participation,
  Round,
  Verdict,
  WatchEventsRequest,
} from '../../../shared/src/gen/fl/v1/operator.pb.js';
import type { ModelChunk } from '../../../shared/src/gen/fl/v1/client.pb.js';
import { OPERATOR_METADATA_KEY } from '../../../shared/src/protocol/constants.js';
import { capabilitiesToProto, layoutToProto, metricsToProto, modelRefToProto } from '../../../shared/src/protocol/mapping.js';
import type { CoordinatorEvent, EventBus } from '../events.js';
import { parseFederationConfig } from '../federation/config.js';
import { localEpsilon } from '../../../shared/src/core/dp/local.js';
import { dpPlanOf, joinsByClient } from '../privacy/budget.js';
import { federationConfigFromProto, federationConfigToProto } from '../federation/spec-proto.js';
import type { OperatorApi } from '../operator-api.js';
import type { ClientRecord, FederationRecord, ParticipationRecord, RoundRecord, VerdictRecord } from '../store/types.js';
import { writeChunked } from './client-service.js';
import type { ErrorLogger } from './errors.js';
import { serverStreamHandler, unaryHandler } from './handlers.js';

export interface OperatorServiceDeps {
  api: OperatorApi;
  events: EventBus;
  adminToken: string;
  logError: ErrorLogger;
  /** Aborted when the coordinator stops: open WatchEvents streams end cleanly. */
  shutdown?: AbortSignal;
}

const STATUS_TO_PROTO: Record<FederationRecord['status'], FederationStatus> = {
  created: FederationStatus.FEDERATION_STATUS_CREATED,
  running: FederationStatus.FEDERATION_STATUS_RUNNING,
  paused: FederationStatus.FEDERATION_STATUS_PAUSED,
  completed: FederationStatus.FEDERATION_STATUS_COMPLETED,
  failed: FederationStatus.FEDERATION_STATUS_FAILED,
  'budget-exhausted': FederationStatus.FEDERATION_STATUS_BUDGET_EXHAUSTED,
};

/** Throws UNAUTHENTICATED unless the metadata carries the admin token. */
export function authenticateOperator(metadata: Metadata, adminTokenDigest: Uint8Array): void {
  const value = metadata.get(OPERATOR_METADATA_KEY)[0];
  if (value === undefined) throw new CohortError('UNAUTHENTICATED', 'missing operator credential: send "authorization: Bearer <admin token>"');
  const match = /^Bearer\s+(\S+)$/i.exec(String(value));
  if (match === null) throw new CohortError('UNAUTHENTICATED', 'malformed authorization metadata: expected "Bearer <admin token>"');
  if (!constantTimeEqual(sha256(match[1]!), adminTokenDigest)) throw new CohortError('UNAUTHENTICATED', 'admin token is not valid');
}

export function createOperatorService(deps: OperatorServiceDeps): OperatorServiceServer {
  const { api, logError } = deps;
  const digest = sha256(deps.adminToken);
  const auth = (metadata: Metadata): void => authenticateOperator(metadata, digest);
  const federationOut = (f: FederationRecord): Federation => federationToProto(api, f);

  return {
    createFederation: unaryHandler(logError, async (call) => {
      auth(call.metadata);
      const { config, initialWeights } = federationConfigFromProto(call.request.spec);
      return federationOut(await api.createFederation(config, { initialWeights, start: call.request.start }));
    }),
    startFederation: unaryHandler(logError, (call) => {
      auth(call.metadata);
      return federationOut(api.startFederation(call.request.federationId));
    }),
    pauseFederation: unaryHandler(logError, async (call) => {
      auth(call.metadata);
      return federationOut(await api.pauseFederation(call.request.federationId));
    }),
    getFederation: unaryHandler(logError, (call) => {
      auth(call.metadata);
      return federationOut(api.federation(call.request.federationId));
    }),
    listFederations: unaryHandler(logError, (call) => {
      auth(call.metadata);
      return { federations: api.listFederations().map(federationOut) };
    }),
    listRounds: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const rounds = api.listRounds(call.request.federationId, { limit: call.request.limit, beforeNumber: call.request.beforeNumber });
      return { rounds: rounds.map((r) => roundToProto(r, api.participations(r.id))) };
    }),
    getRound: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const { round, participations, verdicts } = api.round(call.request.roundId);
      return roundToProto(round, participations, verdicts);
    }),
    getStatus: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const s = api.status();
      return { ...s, coordinatorPublicKey: Buffer.from(s.coordinatorPublicKey) };
    }),
    watchEvents: serverStreamHandler(logError, (call) => {
      auth(call.metadata);
      return watchEvents(deps, call);
    }),
    getPrivacyBudget: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const { federation, entries } = api.privacyLedger(call.request.federationId);
      const config = parseFederationConfig(federation.spec);
      const privacy = config.privacy;
      const plan = dpPlanOf(config);
      const local = plan?.mechanism === 'local';
      return {
        accounting: local ? 'per-client' : 'federation',
        clientEpsilons: local
          ? [...joinsByClient(entries)].sort(([a], [b]) => a.localeCompare(b)).map(([clientId, roundsJoined]) => ({ clientId, roundsJoined, epsilon: localEpsilon(plan.noiseMultiplier, roundsJoined, plan.delta) }))
          : [],
        federationId: federation.id,
        targetEpsilon: privacy?.targetEpsilon ?? 0,
        targetDelta: privacy?.targetDelta ?? 0,
        spentEpsilon: entries.at(-1)?.epsilonAfter ?? 0,
        entries: entries.map((e) => ({
          roundNumber: e.roundNumber,
          noiseMultiplier: e.noiseMultiplier,
          samplingRate: e.samplingRate,
          epsilonAfter: e.epsilonAfter,
          mechanism: e.mechanism,
          clipNorm: e.clipNorm,
          survivors: e.survivors,
        })),
      };
    }),
    createEnrollmentToken: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const issued = api.createEnrollmentToken(call.request.label, call.request.ttlSeconds);
      return { id: issued.id, token: issued.token, label: issued.label, expiresAtMs: issued.expiresAt };
    }),
    getClientHistory: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const { client, connected, entries } = api.clientHistory(call.request.clientId, call.request.limit);
      return {
        client: clientToProto(client, connected),
        entries: entries.map((e) => ({
          federationId: e.federationId,
          roundId: e.roundId,
          roundNumber: e.roundNumber,
          roundState: e.roundState,
          startedAtMs: e.startedAt,
          participation: participationToProto(e.participation),
          verdict: e.verdict === null ? undefined : verdictToProto(e.verdict),
        })),
      };
    }),
    listClients: unaryHandler(logError, (call) => {
      auth(call.metadata);
      return { clients: api.listClients().map(({ client, connected }) => clientToProto(client, connected)) };
    }),
    revokeClient: unaryHandler(logError, (call) => {
      auth(call.metadata);
      return clientToProto(api.setClientStatus(call.request.clientId, 'revoked', call.request.reason), false);
    }),
    quarantineClient: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const client = api.setClientStatus(call.request.clientId, 'quarantined', call.request.reason);
      return clientToProto(client, api.status().connectedClientIds.includes(client.id));
    }),
    releaseClient: unaryHandler(logError, (call) => {
      auth(call.metadata);
      const client = api.setClientStatus(call.request.clientId, 'active', call.request.reason);
      return clientToProto(client, api.status().connectedClientIds.includes(client.id));
    }),
    exportModel: serverStreamHandler(logError, async (call) => {
      auth(call.metadata);
      const exported = api.exportModel(call.request.federationId, call.request.version);
      await writeChunked(call as ServerWritableStream<unknown, ModelChunk>, exported.bytes, 0, {
        model: modelRefToProto(exported.reference),
        layout: layoutToProto(exported.layout),
        topologyJson: exported.topologyJson,
        offset: 0,
      });
    }),
  };
}

function watchEvents(deps: OperatorServiceDeps, call: ServerWritableStream<WatchEventsRequest, Event>): Promise<void> {
  const { federationId, afterSeq } = call.request;
  if (federationId.length > 0) deps.api.federation(federationId);
  return new Promise<void>((resolve) => {
    const unsubscribe = deps.events.subscribe((event: CoordinatorEvent) => {
      if (federationId.length > 0 && event.federationId !== federationId && event.federationId !== '') return;
      call.write(eventToProto(event));
    }, afterSeq);
    const stop = (): void => {
      unsubscribe();
      resolve();
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
    if (deps.shutdown?.aborted) stop();
    deps.shutdown?.addEventListener('abort', stop, { once: true });
  });
}

export function eventToProto(event: CoordinatorEvent): Event {
  return { ...event, metrics: metricsToProto(event.metrics) };
}

export function federationToProto(api: OperatorApi, federation: FederationRecord): Federation {
  const current = api.currentModel(federation);
  const config = parseFederationConfig(federation.spec);
  return {
    id: federation.id,
    spec: federationConfigToProto(config),
    status: STATUS_TO_PROTO[federation.status],
    statusReason: federation.statusReason ?? '',
    roundsCommitted: federation.roundsCommitted,
    currentModel: modelRefToProto(api.modelReference(current)),
    createdAtMs: federation.createdAt,
    lastMetrics: metricsToProto(current.metrics),
    layout: layoutToProto(federation.layout),
  };
}

export function roundToProto(round: RoundRecord, participations: ParticipationRecord[], verdicts: VerdictRecord[] = []): Round {
  return {
    id: round.id,
    federationId: round.federationId,
    number: round.number,
    state: round.state,
    abortReason: round.abortReason ?? '',
    startedAtMs: round.startedAt,
    endedAtMs: round.endedAt ?? 0,
    selected: round.selected,
    survivors: round.survivors,
    modelInVersion: round.modelInVersion,
    modelOutVersion: round.modelOutVersion ?? 0,
    metrics: metricsToProto(round.metrics),
    bytesUp: round.bytesUp,
    bytesDown: round.bytesDown,
    participations: participations.map(participationToProto),
    verdicts: verdicts.map(verdictToProto),
  };
}

function verdictToProto(v: VerdictRecord): Verdict {
  return { contributionId: v.contributionId, clientId: v.clientId ?? '', bucket: v.bucket ?? -1, verdict: v.verdict, reason: v.reason, scores: { ...v.scores } };
}

function participationToProto(p: ParticipationRecord): Participation {
  return {
    clientId: p.clientId,
    stageReached: p.stageReached,
    dropped: p.dropped,
    dropoutStage: p.dropoutStage ?? '',
    dropoutReason: p.dropoutReason ?? '',
    numExamples: p.numExamples,
    metrics: metricsToProto(p.metrics),
    bytesUp: p.bytesUp,
    bytesDown: p.bytesDown,
    backend: p.backend ?? '',
    verdict: p.verdict ?? '',
  };
}

export function clientToProto(client: ClientRecord, connected: boolean): Client {
  return {
    id: client.id,
    displayName: client.displayName,
    status: client.status,
    reputation: client.reputation,
    statusReason: client.statusReason ?? '',
    enrolledAtMs: client.enrolledAt,
    lastSeenAtMs: client.lastSeenAt ?? 0,
    connected,
    capabilities: capabilitiesToProto(client.capabilities),
    scoredRounds: client.scoredRounds,
    suspicion: client.suspicion,
  };
}
