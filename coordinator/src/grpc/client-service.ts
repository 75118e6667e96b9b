/**
 * fl.v1.ClientService on the coordinator: enrollment, the authenticated session stream, chunked model download and
 * chunked update upload. Validation happens here, before anything reaches the round workflow or the store.
 */
import { secAggReplyFromProto, secAggRequestToProto } from '../../../shared/src/protocol/secagg-mapping.js';
import { randomBytes } from 'node:crypto';
import type { ServerDuplexStream, ServerReadableStream, ServerWritableStream } from '@grpc/grpc-js';
import { CohortError } from '../../../shared/src/core/errors.js';
import { createSha256, sha256Hex } from '../../../shared/src/crypto/hash.js';
import { verify } from '../../../shared/src/crypto/sodium.js';
import { RoundOutcome } from '../../../shared/src/gen/fl/v1/client.pb.js';
import type {
  ClientMessage,
  CoordinatorMessage,
  DownloadModelRequest,
  EnrollRequest,
  EnrollResponse,
  ModelChunk,
  UpdateChunk,
  UploadReceipt,
} from '../../../shared/src/gen/fl/v1/client.pb.js';
import type { ClientServiceServer } from '../../../shared/src/gen/fl/v1/client.pb.js';
import { CHUNK_BYTES, MAX_MESSAGE_BYTES, SESSION_METADATA_KEY } from '../../../shared/src/protocol/constants.js';
import { clientIdFromPublicKey } from '../../../shared/src/protocol/identity.js';
import {
  capabilitiesFromProto,
  layoutToProto,
  metricsFromProto,
  modelRefToProto,
  planToProto,
  requireSha256Hex,
  updateKindFromProto,
  updateKindToProto,
} from '../../../shared/src/protocol/mapping.js';
import { enrollmentProofPayload, sessionChallengePayload } from '../../../shared/src/protocol/signing.js';
import type { EventBus } from '../events.js';
import type { ModelRepository } from '../models.js';
import type { RoundHub, UploadSink } from '../round/hub.js';
import type { OutboundMessage } from '../round/messages.js';
import type { SessionRegistry } from '../sessions/session-registry.js';
import type { CoordinatorStore } from '../store/types.js';
import type { ErrorLogger } from './errors.js';
import { requireDecoded } from './malformed.js';
import type { MalformedMessage } from './malformed.js';
import { bidiHandler, clientStreamHandler, serverStreamHandler, unaryHandler } from './handlers.js';

export interface ClientServiceDeps {
  store: CoordinatorStore;
  sessions: SessionRegistry;
  hub: RoundHub;
  models: ModelRepository;
  events: EventBus;
  coordinatorPublicKey: Uint8Array;
  heartbeatMs: number;
  now: () => number;
  log: (line: string) => void;
  logError: ErrorLogger;
  /** How long a new session may take to answer the challenge. */
  handshakeTimeoutMs?: number;
}

export function createClientService(deps: ClientServiceDeps): ClientServiceServer {
  const { logError } = deps;
  return {
    enroll: unaryHandler(logError, (call) => enroll(deps, call.request)),
    session: bidiHandler(logError, (call) => runSession(deps, call)),
    downloadModel: serverStreamHandler(logError, (call) => downloadModel(deps, call)),
    uploadUpdate: clientStreamHandler(logError, (call) => uploadUpdate(deps, call)),
  };
}

function enroll(deps: ClientServiceDeps, request: EnrollRequest): EnrollResponse {
  if (request.token.length === 0) throw new CohortError('INVALID_ARGUMENT', 'token is empty');
  if (request.token.length > 256) throw new CohortError('INVALID_ARGUMENT', 'token is longer than 256 characters');
  if (request.identityPublicKey.length !== 32) {
    throw new CohortError('INVALID_ARGUMENT', `identity_public_key must be a 32-byte Ed25519 key, got ${request.identityPublicKey.length} bytes`);
  }
  if (request.proof.length !== 64) throw new CohortError('INVALID_ARGUMENT', `proof must be a 64-byte Ed25519 signature, got ${request.proof.length} bytes`);
  if (request.displayName.length > 128) throw new CohortError('INVALID_ARGUMENT', 'display_name is longer than 128 characters');
  const capabilities = capabilitiesFromProto(request.capabilities);
  const publicKey = new Uint8Array(request.identityPublicKey);
  if (!verify(new Uint8Array(request.proof), enrollmentProofPayload(request.token, publicKey), publicKey)) {
    throw new CohortError('SIGNATURE_INVALID', 'enrollment proof does not verify against identity_public_key');
  }
  const clientId = clientIdFromPublicKey(publicKey);
  const client = deps.store.enrollClient({
    tokenHash: sha256Hex(request.token),
    now: deps.now(),
    client: { id: clientId, identityPublicKey: publicKey, displayName: request.displayName || clientId, capabilities },
  });
  deps.events.emit({ type: 'client.enrolled', clientId: client.id, message: `client ${client.displayName} enrolled` });
  return { clientId: client.id, coordinatorPublicKey: Buffer.from(deps.coordinatorPublicKey) };
}

/** Domain message -> fl.v1.CoordinatorMessage. */
export function outboundToProto(message: OutboundMessage): CoordinatorMessage {
  if (message.kind === 'task') {
    return {
      roundId: message.roundId,
      body: {
        $case: 'roundTask',
        value: {
          federationId: message.federationId,
          roundNumber: message.roundNumber,
          model: modelRefToProto(message.model),
          plan: planToProto(message.plan),
          updateKind: updateKindToProto(message.updateKind),
          deadlineMs: message.deadlineMs,
          layout: layoutToProto(message.layout),
          topologyJson: message.topologyJson,
          task: message.task,
        },
      },
    };
  }
  if (message.kind === 'secagg') return { roundId: message.roundId, body: secAggRequestToProto(message.message) };
  const outcome = { committed: RoundOutcome.ROUND_OUTCOME_COMMITTED, aborted: RoundOutcome.ROUND_OUTCOME_ABORTED, released: RoundOutcome.ROUND_OUTCOME_RELEASED }[message.outcome];
  return {
    roundId: message.roundId,
    body: { $case: 'roundEnd', value: { outcome, reason: message.reason, model: message.model === null ? undefined : modelRefToProto(message.model) } },
  };
}

/**
 * Session: hello → challenge → signed answer → ready, then heartbeats and round answers until the stream ends.
 * Any handshake error ends the stream with a status that says what was wrong.
 */
function runSession(deps: ClientServiceDeps, call: ServerDuplexStream<ClientMessage, CoordinatorMessage>): Promise<void> {
  const { store, sessions, hub, events } = deps;
  return new Promise<void>((resolve, reject) => {
    let phase: 'hello' | 'challenge' | 'ready' | 'closed' = 'hello';
    let clientId = '';
    let token: string | null = null;
    let nonce = new Uint8Array(0);
    let capabilities = capabilitiesFromProto(undefined);
    const handshakeTimer = setTimeout(() => fail(new CohortError('DEADLINE_EXCEEDED', 'session handshake not completed within the time limit')), deps.handshakeTimeoutMs ?? 15_000);

    const finish = (reason: string): void => {
      if (phase === 'closed') return;
      const wasReady = phase === 'ready';
      phase = 'closed';
      clearTimeout(handshakeTimer);
      if (wasReady) sessions.close(clientId, token, reason);
      resolve();
    };
    const fail = (error: unknown): void => {
      if (phase === 'closed') return;
      const wasReady = phase === 'ready';
      phase = 'closed';
      clearTimeout(handshakeTimer);
      if (wasReady) sessions.close(clientId, token, error instanceof Error ? error.message : 'session error');
      reject(error);
    };

    call.on('data', (message: ClientMessage | MalformedMessage) => {
      try {
        handle(requireDecoded(message));
      } catch (error) {
        fail(error);
      }
    });
    call.on('end', () => finish('client closed the session'));
    call.on('error', (error: Error) => finish(`stream error: ${error.message}`));
    call.on('cancelled', () => finish('session cancelled'));

    function handle(message: ClientMessage): void {
      // Messages the client pipelined behind one that ended the session are never acted on (they would otherwise
      // fall through to the authenticated branch below under the client id the hello claimed).
      if (phase === 'closed') return;
      const body = message.body;
      if (body === undefined) throw new CohortError('INVALID_ARGUMENT', 'session message has no body');
      if (phase === 'hello') {
        if (body.$case !== 'hello') throw new CohortError('FAILED_PRECONDITION', `the first session message must be hello, got ${body.$case}`);
        clientId = body.value.clientId;
        if (clientId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'hello.client_id is empty');
        const client = store.getClient(clientId);
        if (client === null) throw new CohortError('UNAUTHENTICATED', `client ${clientId.slice(0, 80)} is not enrolled`);
        if (client.status === 'revoked') throw new CohortError('CLIENT_REVOKED', `client ${clientId} is revoked${client.statusReason ? `: ${client.statusReason}` : ''}`);
        capabilities = capabilitiesFromProto(body.value.capabilities);
        nonce = new Uint8Array(randomBytes(32));
        phase = 'challenge';
        call.write({ roundId: '', body: { $case: 'challenge', value: { nonce: Buffer.from(nonce) } } });
        return;
      }
      if (phase === 'challenge') {
        if (body.$case !== 'challengeAnswer') throw new CohortError('FAILED_PRECONDITION', `expected challenge_answer after the challenge, got ${body.$case}`);
        const client = store.getClient(clientId);
        if (client === null) throw new CohortError('UNAUTHENTICATED', `client ${clientId} is not enrolled`);
        // Revocation may land between hello and the answer; registering the session would outlive it.
        if (client.status === 'revoked') throw new CohortError('CLIENT_REVOKED', `client ${clientId} is revoked${client.statusReason ? `: ${client.statusReason}` : ''}`);
        if (!verify(new Uint8Array(body.value.signature), sessionChallengePayload(clientId, nonce), client.identityPublicKey)) {
          throw new CohortError('SIGNATURE_INVALID', `challenge signature does not verify for client ${clientId}`);
        }
        clearTimeout(handshakeTimer);
        token = sessions.open(clientId, capabilities, {
          send: (outbound) => {
            if (!call.writableEnded && !call.destroyed) call.write(outboundToProto(outbound));
          },
          close: (reason) => {
            if (phase !== 'closed') {
              phase = 'closed';
              if (!call.writableEnded && !call.destroyed) call.emit('error', { code: 10 /* ABORTED */, details: reason });
              resolve();
            }
          },
        });
        phase = 'ready';
        store.touchClient(clientId, deps.now(), capabilities);
        call.write({ roundId: '', body: { $case: 'ready', value: { sessionToken: token, heartbeatIntervalMs: deps.heartbeatMs, coordinatorTimeMs: deps.now() } } });
        events.emit({ type: 'client.connected', clientId, message: `client ${clientId} connected (${capabilities.backend || 'unknown backend'})` });
        return;
      }
      // phase === 'ready'
      sessions.heard(clientId);
      switch (body.$case) {
        case 'heartbeat':
          return;
        case 'taskAck':
          hub.dispatch(clientId, message.roundId, { kind: 'ack', accepted: body.value.accepted, reason: body.value.reason.slice(0, 500) });
          return;
        case 'taskFailed':
          hub.dispatch(clientId, message.roundId, { kind: 'failed', reason: body.value.reason.slice(0, 500) });
          return;
        case 'hello':
        case 'challengeAnswer':
          throw new CohortError('FAILED_PRECONDITION', `session is already authenticated; unexpected ${body.$case}`);
        default: {
          const reply = secAggReplyFromProto(body);
          if (reply === null) throw new CohortError('INVALID_ARGUMENT', `unexpected session message ${body.$case}`);
          hub.dispatch(clientId, message.roundId, { kind: 'secagg', message: reply });
        }
      }
    }
  });
}

async function downloadModel(deps: ClientServiceDeps, call: ServerWritableStream<DownloadModelRequest, ModelChunk>): Promise<void> {
  const clientId = deps.sessions.authenticate(firstMetadata(call.metadata.get(SESSION_METADATA_KEY)));
  const request = call.request;
  if (request.federationId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'federation_id is empty');
  requireSha256Hex(request.sha256, 'sha256');
  const federation = deps.store.getFederation(request.federationId);
  if (federation === null) throw new CohortError('FEDERATION_NOT_FOUND', `federation "${request.federationId.slice(0, 80)}" does not exist`);
  const version = deps.store.getModelVersionBySha(federation.id, request.sha256);
  if (version === null) throw new CohortError('MODEL_NOT_FOUND', `model ${request.sha256} is not a version of federation ${federation.name}`);
  if (request.offset > version.sizeBytes) throw new CohortError('INVALID_ARGUMENT', `offset ${request.offset} is beyond the model size ${version.sizeBytes}`);
  const bytes = deps.models.bytes(version.sha256);
  const sent = await writeChunked(call, bytes, request.offset, {
    model: modelRefToProto(deps.models.reference(version)),
    layout: layoutToProto(federation.layout),
    topologyJson: federation.topologyJson,
    offset: request.offset,
  });
  deps.hub.recordDownload(clientId, federation.id, sent);
}

/** Streams a header then the bytes from `offset` in CHUNK_BYTES pieces, honouring backpressure; returns data bytes sent. */
export async function writeChunked(
  call: ServerWritableStream<unknown, ModelChunk>,
  bytes: Uint8Array,
  offset: number,
  header: Extract<ModelChunk['part'], { $case: 'header' }>['value'],
): Promise<number> {
  await writeWithBackpressure(call, { part: { $case: 'header', value: header } });
  let sent = 0;
  for (let start = offset; start < bytes.length; start += CHUNK_BYTES) {
    if (call.cancelled || call.destroyed) return sent;
    const piece = bytes.subarray(start, Math.min(bytes.length, start + CHUNK_BYTES));
    await writeWithBackpressure(call, { part: { $case: 'data', value: Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength) } });
    sent += piece.byteLength;
  }
  return sent;
}

function writeWithBackpressure(call: ServerWritableStream<unknown, ModelChunk>, chunk: ModelChunk): Promise<void> {
  if (call.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}

async function uploadUpdate(deps: ClientServiceDeps, call: ServerReadableStream<UpdateChunk, UploadReceipt>): Promise<UploadReceipt> {
  const clientId = deps.sessions.authenticate(firstMetadata(call.metadata.get(SESSION_METADATA_KEY)));
  let sink: UploadSink | null = null;
  let buffer = new Uint8Array(0);
  let received = 0;
  let expectedSha = '';
  let numExamples = 0;
  let metrics: Record<string, number> = {};
  const hash = createSha256();
  try {
    for await (const message of call as AsyncIterable<UpdateChunk | MalformedMessage>) {
      const part = requireDecoded(message).part;
      if (part === undefined) throw new CohortError('INVALID_ARGUMENT', 'upload message has neither header nor data');
      if (part.$case === 'header') {
        if (sink !== null) throw new CohortError('INVALID_ARGUMENT', 'upload has a second header; send exactly one header first');
        const header = part.value;
        if (header.roundId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'header.round_id is empty');
        expectedSha = requireSha256Hex(header.sha256, 'header.sha256');
        const kind = updateKindFromProto(header.kind);
        numExamples = header.numExamples;
        metrics = metricsFromProto(header.metrics);
        sink = deps.hub.beginUpload(clientId, { roundId: header.roundId, kind, totalBytes: header.totalBytes, sha256: expectedSha, numExamples, metrics });
        buffer = new Uint8Array(sink.expectedBytes);
        continue;
      }
      if (sink === null) throw new CohortError('INVALID_ARGUMENT', 'the first upload message must be the header');
      const data = part.value;
      if (data.length > MAX_MESSAGE_BYTES) throw new CohortError('MESSAGE_TOO_LARGE', `upload chunk of ${data.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      if (received + data.length > buffer.length) {
        throw new CohortError('UPDATE_WRONG_LENGTH', `upload exceeds its declared ${buffer.length} bytes`);
      }
      buffer.set(data, received);
      hash.update(data);
      received += data.length;
    }
    if (sink === null) throw new CohortError('INVALID_ARGUMENT', 'upload ended without a header');
    if (received !== buffer.length) throw new CohortError('UPDATE_WRONG_LENGTH', `upload ended after ${received} of ${buffer.length} declared bytes`);
    const actual = hash.digestHex();
    if (actual !== expectedSha) throw new CohortError('UPDATE_HASH_MISMATCH', `upload SHA-256 ${actual} does not match the header's ${expectedSha}`);
    sink.deliver({ payload: buffer, numExamples, metrics, bytes: received });
    return { sha256: actual, bytesReceived: received };
  } catch (error) {
    sink?.abandon(error instanceof Error ? error.message : 'upload failed');
    throw error;
  }
}

function firstMetadata(values: (string | Buffer)[]): string | undefined {
  const value = values[0];
  return value === undefined ? undefined : String(value);
}
