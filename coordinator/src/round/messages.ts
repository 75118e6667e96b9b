/**
 * What the round workflow says to clients and hears back, in domain terms. The gRPC session adapter maps these to
 * and from fl.v1 messages; the in-memory transport used by tests passes them as they are.
 */
import type { ModelLayout } from '../../../shared/src/core/tensor/layout.js';
import type { ClientCapabilitiesRecord } from '../store/types.js';

import type { SecAggReply, SecAggRequest } from '../../../shared/src/core/secagg/messages.js';
import type { ClientTrainingPlan, ModelReference, UpdateKind } from '../../../shared/src/protocol/types.js';

export type { ClientTrainingPlan, ModelReference, UpdateKind };

export interface RoundTaskMessage {
  kind: 'task';
  roundId: string;
  federationId: string;
  roundNumber: number;
  task: string;
  model: ModelReference;
  layout: ModelLayout;
  topologyJson: string;
  plan: ClientTrainingPlan;
  updateKind: UpdateKind;
  /** Absolute upload deadline, ms since epoch. */
  deadlineMs: number;
}

export type RoundOutcomeKind = 'committed' | 'aborted' | 'released';

export interface RoundEndMessage {
  kind: 'end';
  roundId: string;
  outcome: RoundOutcomeKind;
  reason: string;
  /** The new current model after a commit. */
  model: ModelReference | null;
}

/** A secure-aggregation stage request. */
export interface SecAggStageMessage {
  kind: 'secagg';
  roundId: string;
  message: SecAggRequest;
}

export type OutboundMessage = RoundTaskMessage | RoundEndMessage | SecAggStageMessage;

/** Messages a client sends about a round over its session. */
export type InboundRoundMessage =
  | { kind: 'ack'; accepted: boolean; reason: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'secagg'; message: SecAggReply };

/** Header of an update upload, validated by the round before any byte is read. */
export interface UploadHeaderInfo {
  roundId: string;
  kind: UpdateKind;
  totalBytes: number;
  sha256: string;
  numExamples: number;
  metrics: Record<string, number>;
}

/** A fully received, hash-checked update. */
export interface ReceivedUpdate {
  /** The update bytes: float32 LE for delta-float32, uint32 LE for masked-uint32. */
  payload: Uint8Array;
  numExamples: number;
  metrics: Record<string, number>;
  bytes: number;
}

export interface ConnectedClient {
  clientId: string;
  capabilities: ClientCapabilitiesRecord;
  connectedAt: number;
}
