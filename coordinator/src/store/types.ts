/**
 * The coordinator's store, as the rest of the coordinator sees it: plain records and synchronous methods.
 * No drizzle or better-sqlite3 type leaks past this interface. Not-found reads return null; mutations of
 * missing rows throw CohortError('NOT_FOUND' family) with a message naming the id.
 *
 * Every mutating method that an operator or auditor cares about appends a hash-chained audit entry in the same
 * transaction, so the audit trail and the state it describes cannot disagree.
 * Times are milliseconds since the Unix epoch, passed in by the caller (the store never reads the clock).
 * Numbers stored as JSON (metrics, scores, survivors, details) must be finite: JSON cannot carry NaN or Infinity, so
 * the store refuses them with INVALID_ARGUMENT naming the field instead of silently storing null.
 */
import type { ClientOutcome, ReputationPolicy } from '../../../shared/src/core/aggregation/reputation.js';
import type { ModelLayout } from '../../../shared/src/core/tensor/layout.js';
import type { AgentCapabilities } from '../../../shared/src/protocol/types.js';

export type ClientStatus = 'active' | 'quarantined' | 'revoked';

/** Capabilities as reported by the agent (JSON-serialisable); the same shape the protocol layer uses. */
export type ClientCapabilitiesRecord = AgentCapabilities;

export interface ClientRecord {
  id: string;
  /** Ed25519 public key, 32 bytes. */
  identityPublicKey: Uint8Array;
  displayName: string;
  status: ClientStatus;
  statusReason: string | null;
  /** Reputation in [0, 1]; 1 = fully trusted. Robust aggregation (issue 5) updates it. */
  reputation: number;
  /** Rounds whose verdicts have scored this client. */
  scoredRounds: number;
  /** Suspicion z-score: how much worse than its rounds' averages the client has fared (quarantine decides on it). */
  suspicion: number;
  enrolledAt: number;
  lastSeenAt: number | null;
  capabilities: ClientCapabilitiesRecord;
}

export interface NewClient {
  id: string;
  identityPublicKey: Uint8Array;
  displayName: string;
  capabilities: ClientCapabilitiesRecord;
}

export interface EnrollmentTokenRecord {
  id: string;
  /** SHA-256 hex of the token; the token itself is never stored. */
  tokenHash: string;
  label: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedByClientId: string | null;
}

export type FederationStatus = 'created' | 'running' | 'paused' | 'completed' | 'failed' | 'budget-exhausted';

export interface FederationRecord {
  id: string;
  name: string;
  status: FederationStatus;
  statusReason: string | null;
  /** The validated federation spec, JSON-serialisable (the coordinator owns its shape). */
  spec: Record<string, unknown>;
  /** TF.js layers topology, JSON text. */
  topologyJson: string;
  layout: ModelLayout;
  roundsTarget: number;
  roundsCommitted: number;
  /** Version of the latest committed model (0 = initial). */
  currentModelVersion: number;
  createdAt: number;
  updatedAt: number;
}

export interface NewFederation {
  id: string;
  name: string;
  spec: Record<string, unknown>;
  topologyJson: string;
  layout: ModelLayout;
  roundsTarget: number;
  createdAt: number;
  /** Initial status: 'created', or 'running' when started at creation. */
  status: 'created' | 'running';
}

export interface ModelVersionRecord {
  id: string;
  federationId: string;
  /** 0 = initial model; version v was produced by the v-th committed round. */
  version: number;
  /** SHA-256 hex of the weight file (float32 LE, flat in layout order). */
  sha256: string;
  parentSha256: string | null;
  sizeBytes: number;
  /** Round that produced it (null for the initial version). */
  roundId: string | null;
  /** Content hash of the serialised server-optimizer state after this version, if any. */
  optimizerStateSha256: string | null;
  metrics: Record<string, number>;
  createdAt: number;
}

export interface NewModelFile {
  sha256: string;
  sizeBytes: number;
  optimizerStateSha256: string | null;
}

/** Round states, in workflow order; 'committed' and 'aborted' are terminal. */
export type RoundState =
  | 'selecting'
  | 'configuring'
  | 'training'
  | 'advertise-keys'
  | 'share-keys'
  | 'masked-input'
  | 'consistency-check'
  | 'unmasking'
  | 'aggregating'
  | 'committed'
  | 'aborted';

export const TERMINAL_ROUND_STATES: readonly RoundState[] = ['committed', 'aborted'];

export interface RoundRecord {
  id: string;
  federationId: string;
  /** 1-based, increasing per federation, aborted rounds included. */
  number: number;
  state: RoundState;
  abortReason: string | null;
  startedAt: number;
  endedAt: number | null;
  /** Client ids selected into the cohort. */
  selected: string[];
  /** Clients still in the round after each stage, keyed by stage name. */
  survivors: Record<string, number>;
  modelInVersion: number;
  modelOutVersion: number | null;
  metrics: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  /** Snapshot of the round's configuration (plan, selection, deadlines), JSON-serialisable. */
  config: Record<string, unknown>;
}

export interface NewRound {
  id: string;
  federationId: string;
  startedAt: number;
  modelInVersion: number;
  config: Record<string, unknown>;
}

/** Fields present replace the stored values (survivors and metrics are replaced whole, not merged); absent ones are kept. */
export interface RoundPatch {
  state?: Exclude<RoundState, 'committed' | 'aborted'>;
  selected?: string[];
  survivors?: Record<string, number>;
  metrics?: Record<string, number>;
  bytesUp?: number;
  bytesDown?: number;
}

export interface ParticipationRecord {
  roundId: string;
  clientId: string;
  /** Last stage the client completed. */
  stageReached: string;
  dropped: boolean;
  dropoutStage: string | null;
  dropoutReason: string | null;
  numExamples: number;
  metrics: Record<string, number>;
  bytesUp: number;
  bytesDown: number;
  backend: string | null;
  verdict: string | null;
  /** The contribution the client was judged in (its own, or its bucket); null when it was not judged. */
  contributionId: string | null;
}

export interface PrivacyLedgerInput {
  /** The DP mechanism of the round. */
  mechanism: 'central' | 'distributed' | 'local';
  noiseMultiplier: number;
  samplingRate: number;
  /** L2 clip norm C, model units. */
  clipNorm: number;
  /** Clients whose contribution went into the round. */
  survivors: number;
  epsilonAfter: number;
  delta: number;
  /** RDP curve after this round, by order (empty in local mode, which accounts per client). */
  rdp: Record<string, number>;
  /** Mechanism parameters the accountant needs to recompute the round (see the schema). */
  params: Record<string, number>;
  /** Clients whose noised contribution went into the round. */
  contributors: string[];
}

export interface PrivacyLedgerRecord extends PrivacyLedgerInput {
  federationId: string;
  roundId: string;
  roundNumber: number;
  at: number;
}

export interface VerdictInput {
  /** Client id in plaintext mode, bucket id in bucketed secure mode. */
  contributionId: string;
  clientId: string | null;
  bucket: number | null;
  /** 'accepted' | 'down-weighted' | 'rejected'. */
  verdict: string;
  reason: string;
  scores: Record<string, number>;
}

/** One round of a client's history. */
export interface ClientHistoryEntry {
  federationId: string;
  roundId: string;
  roundNumber: number;
  roundState: string;
  startedAt: number;
  participation: ParticipationRecord;
  /** The verdict the client was judged by (its own contribution's or its bucket's), or null when not judged. */
  verdict: VerdictRecord | null;
}

export interface VerdictRecord extends VerdictInput {
  roundId: string;
  at: number;
}

export interface CommitRoundInput {
  roundId: string;
  now: number;
  /** The new model's weight file (and optimizer state, if any), already put into this store's modelFiles by the caller. */
  model: NewModelFile;
  metrics: Record<string, number>;
  survivors: Record<string, number>;
  participations: ParticipationRecord[];
  bytesUp: number;
  bytesDown: number;
  /** True when this commit reaches the federation's round target: the federation becomes 'completed'. */
  completesFederation: boolean;
  privacy?: PrivacyLedgerInput;
  verdicts?: VerdictInput[];
  /** Each judged client's outcome, folded into its reputation in the same transaction; may quarantine it. */
  reputation?: { policy: ReputationPolicy; outcomes: ClientOutcome[] };
}

export interface CommitRoundResult {
  round: RoundRecord;
  modelVersion: ModelVersionRecord;
  federation: FederationRecord;
  /** Clients this commit quarantined (their reputation fell below the policy's threshold). */
  quarantined: ClientRecord[];
}

export interface AuditInput {
  /** "operator", "coordinator", "client:<id>". */
  actor: string;
  /** e.g. "client.enrolled", "round.committed". */
  action: string;
  /** The id the action is about. */
  subject: string;
  details?: Record<string, unknown>;
}

export interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  details: Record<string, unknown>;
  /** Hash of the previous entry (64 zeros for the first). */
  prevHash: string;
  /** SHA-256 hex over prevHash and this entry's canonical JSON. */
  hash: string;
}

export type AuditVerification = { ok: true; entries: number } | { ok: false; brokenAtSeq: number; reason: string };

/** Content-addressed, atomically written blob files (model weights, optimizer state). */
export interface ModelFileStore {
  readonly dir: string;
  /** Writes bytes under their SHA-256 (temp file, fsync, rename, fsync dir); idempotent. */
  put(bytes: Uint8Array): { sha256: string; sizeBytes: number };
  /** Reads and verifies the file; throws MODEL_NOT_FOUND when absent, INTERNAL when the hash does not match. */
  read(sha256: string): Uint8Array;
  has(sha256: string): boolean;
  /** Absolute path of a stored blob. */
  pathOf(sha256: string): string;
  /** Removes temp files left by a crash mid-write. */
  sweepTemporaryFiles(): number;
}

export interface CoordinatorStore {
  /** Database file path (":memory:" allowed in tests). */
  readonly path: string;
  readonly modelFiles: ModelFileStore;
  close(): void;

  // Enrollment tokens and clients.
  /** Audited at token.createdAt; the audit entry carries neither the token nor its hash. */
  createEnrollmentToken(token: Omit<EnrollmentTokenRecord, 'usedAt' | 'usedByClientId'>, actor: string): EnrollmentTokenRecord;
  /**
   * Consumes a one-time token and registers the client, atomically. Throws TOKEN_INVALID (unknown, used, or
   * expired token, with a message that says which) or ALREADY_EXISTS (identity key already enrolled).
   */
  enrollClient(input: { tokenHash: string; now: number; client: NewClient }): ClientRecord;
  getClient(id: string): ClientRecord | null;
  getClientByPublicKey(identityPublicKey: Uint8Array): ClientRecord | null;
  listClients(): ClientRecord[];
  /** Revocation is permanent: moving a revoked client to another status throws CLIENT_REVOKED. */
  setClientStatus(id: string, status: ClientStatus, reason: string | null, now: number, actor: string): ClientRecord;
  setClientReputation(id: string, reputation: number): void;
  /** Last-seen time and latest capabilities; not audited (frequent). */
  touchClient(id: string, now: number, capabilities?: ClientCapabilitiesRecord): void;

  // Federations and models.
  /**
   * Creates the federation and its model version 0 in one transaction. The initial weights must already be in
   * modelFiles (MODEL_NOT_FOUND otherwise) and hold layout.totalElements float32 values.
   */
  createFederation(federation: NewFederation, initialModel: NewModelFile, actor: string): { federation: FederationRecord; modelVersion: ModelVersionRecord };
  getFederation(id: string): FederationRecord | null;
  getFederationByName(name: string): FederationRecord | null;
  listFederations(): FederationRecord[];
  /** 'completed' and 'failed' are final (FEDERATION_WRONG_STATUS on any change); nothing returns to 'created'. */
  setFederationStatus(id: string, status: FederationStatus, reason: string | null, now: number, actor: string): FederationRecord;
  getModelVersion(federationId: string, version: number): ModelVersionRecord | null;
  getModelVersionBySha(federationId: string, sha256: string): ModelVersionRecord | null;
  /** The latest committed version (version 0 before any round commits). */
  getCurrentModelVersion(federationId: string): ModelVersionRecord;
  listModelVersions(federationId: string): ModelVersionRecord[];

  // Rounds.
  /**
   * Inserts a round in state 'selecting' with the next number for its federation. Rounds of a federation are
   * sequential: throws FEDERATION_WRONG_STATUS unless the federation is 'running', FAILED_PRECONDITION while another
   * of its rounds is not terminal, INVALID_ARGUMENT when modelInVersion is not the current model version.
   */
  startRound(round: NewRound, actor: string): RoundRecord;
  /** Non-terminal progress (stage, cohort, survivors). Throws ROUND_WRONG_STAGE when the round is terminal. */
  updateRound(id: string, patch: RoundPatch): RoundRecord;
  /** Upserts by (round, client). Throws ROUND_WRONG_STAGE for a terminal round, CLIENT_NOT_FOUND for an unknown client. */
  recordParticipations(participations: ParticipationRecord[]): void;
  /** Terminal: state 'aborted' with the reason. Throws ROUND_WRONG_STAGE when already terminal. */
  abortRound(id: string, reason: string, now: number, actor: string, participations?: ParticipationRecord[]): RoundRecord;
  /**
   * One transaction: model version (current + 1, parent = current), round 'committed', participations,
   * federation progress (and 'completed'), privacy ledger entry, verdicts, audit entries. Throws ROUND_WRONG_STAGE
   * when the round is terminal, ROUND_STALE when another version was committed since it started, MODEL_NOT_FOUND when
   * the model file is not in modelFiles; on any throw nothing is written.
   */
  commitRound(input: CommitRoundInput, actor: string): CommitRoundResult;
  getRound(id: string): RoundRecord | null;
  /** Newest first. */
  listRounds(federationId: string, options?: { limit?: number; beforeNumber?: number }): RoundRecord[];
  listParticipations(roundId: string): ParticipationRecord[];
  /** On start-up: every non-terminal round becomes 'aborted' with the reason. Returns the rounds it aborted. */
  abortNonTerminalRounds(reason: string, now: number, actor: string): RoundRecord[];

  // Privacy ledger (issue 4) and verdicts (issue 5).
  listPrivacyLedger(federationId: string): PrivacyLedgerRecord[];
  listVerdicts(roundId: string): VerdictRecord[];
  /** A client's rounds, newest first, with the verdict it was judged by. */
  listClientHistory(clientId: string, limit: number): ClientHistoryEntry[];

  // Audit trail.
  appendAudit(entry: AuditInput, now: number): AuditEntry;
  listAudit(options?: { afterSeq?: number; limit?: number }): AuditEntry[];
  /** Recomputes the hash chain; reports the first entry whose hash or link does not match. */
  verifyAuditChain(): AuditVerification;
}
