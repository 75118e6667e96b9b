/**
 * The agent's gRPC adapter: enrollment, the session stream (handshake and message pump), chunked model download
 * and chunked update upload. Proto types stop here; the agent sees domain values.
 */
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { ModelLayout } from '../../../shared/src/core/tensor/layout.js';
import { createSha256, sha256Hex } from '../../../shared/src/crypto/hash.js';
import { sign } from '../../../shared/src/crypto/sodium.js';
import type { SigningKeyPair } from '../../../shared/src/crypto/sodium.js';
import { ClientServiceClient, RoundOutcome } from '../../../shared/src/gen/fl/v1/client.pb.js';
import type { ClientMessage, CoordinatorMessage, ModelChunk, UpdateChunk } from '../../../shared/src/gen/fl/v1/client.pb.js';
import { CHUNK_BYTES, SESSION_METADATA_KEY } from '../../../shared/src/protocol/constants.js';
import {
  capabilitiesToProto,
  layoutFromProto,
  metricsToProto,
  modelRefFromProto,
  planFromProto,
  updateKindFromProto,
  updateKindToProto,
} from '../../../shared/src/protocol/mapping.js';
import { enrollmentProofPayload, sessionChallengePayload } from '../../../shared/src/protocol/signing.js';
import type { AgentCapabilities, ClientTrainingPlan, ModelReference, UpdateKind } from '../../../shared/src/protocol/types.js';
import type { SecAggRequest } from '../../../shared/src/core/secagg/messages.js';
import { secAggRequestFromProto } from '../../../shared/src/protocol/secagg-mapping.js';
import { CHANNEL_OPTIONS, channelCredentials, metadataWith } from '../../../shared/src/transport/grpc-channel.js';
import type { ChannelTls } from '../../../shared/src/transport/grpc-channel.js';

/** A round task as the agent sees it. */
export interface AgentTask {
  roundId: string;
  federationId: string;
  roundNumber: number;
  task: string;
  model: ModelReference;
  plan: ClientTrainingPlan;
  updateKind: UpdateKind;
  deadlineMs: number;
  layout: ModelLayout;
  topologyJson: string;
}

export interface AgentRoundEnd {
  roundId: string;
  outcome: 'committed' | 'aborted' | 'released';
  reason: string;
  model: ModelReference | null;
}

export interface SessionHandlers {
  /** A round task, with the session it arrived on (tasks are answered on that session). */
  onTask(task: AgentTask, session: OpenSession): void;
  onRoundEnd(end: AgentRoundEnd): void;
  /** A secure-aggregation stage request for a round (answered on the same session). */
  onSecAgg(roundId: string, request: SecAggRequest, session: OpenSession): void;
  /** A message the agent could not understand (logged; the session goes on). */
  onProtocolError(message: string): void;
}

export interface OpenSession {
  readonly sessionToken: string;
  readonly heartbeatMs: number;
  send(roundId: string, body: ClientMessage['body']): void;
  /** Ends the session from this side. */
  close(): void;
  /** False once the session has ended (from either side). */
  isOpen(): boolean;
  /** Resolves when the session ends, with the reason (a gRPC status message or "closed by agent"). */
  readonly closed: Promise<{ reason: string; error: unknown }>;
}

export interface DownloadedModel {
  bytes: Uint8Array;
  layout: ModelLayout;
  topologyJson: string;
  reference: ModelReference;
}

export class CoordinatorClient {
  private readonly client: ClientServiceClient;

  constructor(
    readonly address: string,
    tls: ChannelTls | null,
  ) {
    this.client = new ClientServiceClient(address, channelCredentials(tls), CHANNEL_OPTIONS);
  }

  close(): void {
    this.client.close();
  }

  /** Registers the identity key with a one-time token; returns the client id and the coordinator key to pin. */
  enroll(input: { token: string; keys: SigningKeyPair; capabilities: AgentCapabilities; displayName: string; deadlineMs?: number }): Promise<{ clientId: string; coordinatorPublicKey: Uint8Array }> {
    const proof = sign(enrollmentProofPayload(input.token, input.keys.publicKey), input.keys.secretKey);
    return new Promise((resolve, reject) => {
      this.client.enroll(
        {
          token: input.token,
          identityPublicKey: Buffer.from(input.keys.publicKey),
          proof: Buffer.from(proof),
          capabilities: capabilitiesToProto(input.capabilities),
          displayName: input.displayName,
        },
        metadataWith('x-cohort-agent', 'enroll'),
        { deadline: Date.now() + (input.deadlineMs ?? 30_000) },
        (error, response) => {
          if (error !== null) return reject(error);
          if (response.coordinatorPublicKey.length !== 32) return reject(new CohortError('PROTOCOL_VIOLATION', 'coordinator sent no valid public key at enrollment'));
          resolve({ clientId: response.clientId, coordinatorPublicKey: new Uint8Array(response.coordinatorPublicKey) });
        },
      );
    });
  }

  /** Opens a session: hello, answers the challenge with the identity key, resolves once the coordinator is ready. */
  openSession(input: { clientId: string; keys: SigningKeyPair; capabilities: AgentCapabilities; handlers: SessionHandlers; handshakeTimeoutMs?: number }): Promise<OpenSession> {
    const call: ClientDuplexStream<ClientMessage, CoordinatorMessage> = this.client.session();
    let resolveClosed!: (value: { reason: string; error: unknown }) => void;
    const closed = new Promise<{ reason: string; error: unknown }>((resolve) => (resolveClosed = resolve));
    let ended = false;
    const end = (reason: string, error: unknown): void => {
      if (ended) return;
      ended = true;
      resolveClosed({ reason, error });
    };
    call.on('error', (error: Error & { details?: string }) => end(error.details ?? error.message, error));
    call.on('end', () => end('coordinator ended the session', null));
    call.on('close', () => end('session stream closed', null));

    return new Promise<OpenSession>((resolve, reject) => {
      let ready = false;
      let opened: OpenSession | null = null;
      const timer = setTimeout(() => {
        if (!ready) {
          call.cancel();
          reject(new CohortError('DEADLINE_EXCEEDED', 'session handshake timed out'));
        }
      }, input.handshakeTimeoutMs ?? 20_000);
      void closed.then(({ reason, error }) => {
        clearTimeout(timer);
        if (!ready) reject(error ?? new CohortError('UNAUTHENTICATED', `session closed during the handshake: ${reason}`));
      });
      const send = (roundId: string, body: ClientMessage['body']): void => {
        if (!ended && !call.writableEnded) call.write({ roundId, body });
      };
      call.on('data', (message: CoordinatorMessage) => {
        const body = message.body;
        if (body === undefined) return input.handlers.onProtocolError('coordinator message without a body');
        try {
          switch (body.$case) {
            case 'challenge':
              send('', { $case: 'challengeAnswer', value: { signature: Buffer.from(sign(sessionChallengePayload(input.clientId, new Uint8Array(body.value.nonce)), input.keys.secretKey)) } });
              return;
            case 'ready': {
              ready = true;
              clearTimeout(timer);
              opened = {
                sessionToken: body.value.sessionToken,
                heartbeatMs: body.value.heartbeatIntervalMs || 5_000,
                send,
                close: () => {
                  if (!ended) {
                    call.end();
                    call.cancel();
                  }
                  end('closed by agent', null);
                },
                closed,
                isOpen: () => !ended,
              };
              resolve(opened);
              return;
            }
            case 'roundTask':
              if (opened === null) throw new CohortError('PROTOCOL_VIOLATION', 'round task before the session was ready');
              input.handlers.onTask(taskFromProto(message.roundId, body.value), opened);
              return;
            case 'roundEnd':
              input.handlers.onRoundEnd({
                roundId: message.roundId,
                outcome: body.value.outcome === RoundOutcome.ROUND_OUTCOME_COMMITTED ? 'committed' : body.value.outcome === RoundOutcome.ROUND_OUTCOME_ABORTED ? 'aborted' : 'released',
                reason: body.value.reason,
                model: body.value.model === undefined ? null : modelRefFromProto(body.value.model),
              });
              return;
            default: {
              const request = secAggRequestFromProto(body);
              if (request === null || opened === null) {
                input.handlers.onProtocolError(`unexpected ${body.$case} for round ${message.roundId}`);
                return;
              }
              input.handlers.onSecAgg(message.roundId, request, opened);
            }
          }
        } catch (error) {
          input.handlers.onProtocolError(`bad ${body.$case} message: ${(error as Error).message}`);
        }
      });
      send('', { $case: 'hello', value: { clientId: input.clientId, capabilities: capabilitiesToProto(input.capabilities) } });
    });
  }

  /** Downloads a model version in chunks and checks size and SHA-256 before returning it. */
  downloadModel(sessionToken: string, reference: ModelReference, deadlineMs: number): Promise<DownloadedModel> {
    return new Promise((resolve, reject) => {
      const call = this.client.downloadModel(
        { federationId: reference.federationId, sha256: reference.sha256, offset: 0 },
        metadataWith(SESSION_METADATA_KEY, sessionToken),
        { deadline: deadlineMs },
      );
      let header: { layout: ModelLayout; topologyJson: string; reference: ModelReference } | null = null;
      let buffer = new Uint8Array(0);
      let received = 0;
      const hash = createSha256();
      let failed = false;
      const fail = (error: unknown): void => {
        if (failed) return;
        failed = true;
        call.cancel();
        reject(error);
      };
      call.on('data', (chunk: ModelChunk) => {
        if (failed) return;
        try {
          const part = chunk.part;
          if (part?.$case === 'header') {
            const h = part.value;
            const ref = modelRefFromProto(h.model);
            if (ref.sha256 !== reference.sha256) throw new CohortError('MODEL_HASH_MISMATCH', `coordinator sent model ${ref.sha256}, asked for ${reference.sha256}`);
            if (ref.sizeBytes > 2 ** 31) throw new CohortError('MESSAGE_TOO_LARGE', `model of ${ref.sizeBytes} bytes is too large`);
            header = { layout: layoutFromProto(h.layout), topologyJson: h.topologyJson, reference: ref };
            buffer = new Uint8Array(ref.sizeBytes);
          } else if (part?.$case === 'data') {
            if (header === null) throw new CohortError('PROTOCOL_VIOLATION', 'model data arrived before the header');
            if (received + part.value.length > buffer.length) throw new CohortError('MODEL_HASH_MISMATCH', `model download exceeds its declared ${buffer.length} bytes`);
            buffer.set(part.value, received);
            hash.update(part.value);
            received += part.value.length;
          }
        } catch (error) {
          fail(error);
        }
      });
      call.on('error', (error) => fail(error));
      call.on('end', () => {
        if (failed) return;
        if (header === null) return fail(new CohortError('PROTOCOL_VIOLATION', 'model download ended without a header'));
        if (received !== buffer.length) return fail(new CohortError('MODEL_HASH_MISMATCH', `model download ended after ${received} of ${buffer.length} bytes`));
        const actual = hash.digestHex();
        if (actual !== reference.sha256) return fail(new CohortError('MODEL_HASH_MISMATCH', `downloaded model hashes to ${actual}, expected ${reference.sha256}`));
        resolve({ bytes: buffer, layout: header.layout, topologyJson: header.topologyJson, reference: header.reference });
      });
    });
  }

  /** Uploads an update: header first, then CHUNK_BYTES pieces; resolves with the coordinator's receipt. */
  uploadUpdate(
    sessionToken: string,
    input: { roundId: string; kind: UpdateKind; bytes: Uint8Array; numExamples: number; metrics: Record<string, number> },
    deadlineMs: number,
  ): Promise<{ sha256: string; bytesReceived: number }> {
    const digest = sha256Hex(input.bytes);
    return new Promise((resolve, reject) => {
      const call = this.client.uploadUpdate(metadataWith(SESSION_METADATA_KEY, sessionToken), { deadline: deadlineMs }, (error, receipt) => {
        if (error !== null) return reject(error);
        if (receipt.sha256 !== digest) return reject(new CohortError('UPDATE_HASH_MISMATCH', `coordinator acknowledged ${receipt.sha256}, sent ${digest}`));
        resolve({ sha256: receipt.sha256, bytesReceived: receipt.bytesReceived });
      });
      const chunks: UpdateChunk[] = [
        {
          part: {
            $case: 'header',
            value: { roundId: input.roundId, kind: updateKindToProto(input.kind), totalBytes: input.bytes.length, sha256: digest, numExamples: input.numExamples, metrics: metricsToProto(input.metrics) },
          },
        },
      ];
      for (let start = 0; start < input.bytes.length; start += CHUNK_BYTES) {
        const piece = input.bytes.subarray(start, Math.min(input.bytes.length, start + CHUNK_BYTES));
        chunks.push({ part: { $case: 'data', value: Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength) } });
      }
      let index = 0;
      const pump = (): void => {
        while (index < chunks.length) {
          if (!call.write(chunks[index++]!)) {
            call.once('drain', pump);
            return;
          }
        }
        call.end();
      };
      pump();
    });
  }
}

function taskFromProto(roundId: string, task: Extract<CoordinatorMessage['body'], { $case: 'roundTask' }>['value']): AgentTask {
  if (roundId.length === 0) throw new CohortError('INVALID_ARGUMENT', 'round task without a round id');
  return {
    roundId,
    federationId: task.federationId,
    roundNumber: task.roundNumber,
    task: task.task,
    model: modelRefFromProto(task.model),
    plan: planFromProto(task.plan),
    updateKind: updateKindFromProto(task.updateKind),
    deadlineMs: task.deadlineMs,
    layout: layoutFromProto(task.layout),
    topologyJson: task.topologyJson,
  };
}
