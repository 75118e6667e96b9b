/**
 * CoordinatorStore over SQLite: composes the repositories and gives every mutation its own IMMEDIATE transaction
 * (the write lock is taken up front, so the audit chain's "read last hash, append" can never interleave with
 * another connection's append). Driver errors are turned into CohortError here so none escapes the store.
 */
import Database from 'better-sqlite3';
import { CohortError } from '../../../shared/src/core/errors.js';
import { createAuditRepo } from './audit-repo.js';
import { createClientRepo } from './client-repo.js';
import type { OpenDatabase } from './database.js';
import { createFederationRepo } from './federation-repo.js';
import { createRoundRepo } from './round-repo.js';
import type {
  AuditEntry,
  AuditInput,
  AuditVerification,
  ClientCapabilitiesRecord,
  ClientRecord,
  ClientStatus,
  CommitRoundInput,
  CommitRoundResult,
  CoordinatorStore,
  EnrollmentTokenRecord,
  FederationRecord,
  FederationStatus,
  ModelFileStore,
  ModelVersionRecord,
  NewClient,
  NewFederation,
  NewModelFile,
  NewRound,
  ParticipationRecord,
  PrivacyLedgerRecord,
  RoundPatch,
  RoundRecord,
  VerdictRecord,
  ClientHistoryEntry,
} from './types.js';

/** Turns a driver error into a CohortError; domain errors pass through untouched. */
function toCohortError(operation: string, error: unknown): CohortError {
  if (error instanceof CohortError) return error;
  if (error instanceof Database.SqliteError) {
    // Pre-checks give the precise message; a constraint hit here means a concurrent writer got there first.
    if (error.code === 'SQLITE_CONSTRAINT_UNIQUE' || error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
      return new CohortError('ALREADY_EXISTS', `store: ${operation}: ${error.message}`, { operation }, { cause: error });
    }
    return new CohortError('INTERNAL', `store: ${operation} failed (${error.code}): ${error.message}`, { operation, sqliteCode: error.code }, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new CohortError('INTERNAL', `store: ${operation} failed: ${message}`, { operation }, { cause: error });
}

/** The SQLite-backed CoordinatorStore; build it with openStore() (index.ts). */
export class SqliteCoordinatorStore implements CoordinatorStore {
  readonly path: string;
  readonly modelFiles: ModelFileStore;
  readonly #conn: OpenDatabase;
  readonly #onClose: () => void;
  readonly #audit;
  readonly #clients;
  readonly #federations;
  readonly #rounds;
  #closed = false;

  constructor(path: string, conn: OpenDatabase, modelFiles: ModelFileStore, onClose: () => void) {
    this.path = path;
    this.modelFiles = modelFiles;
    this.#conn = conn;
    this.#onClose = onClose;
    this.#audit = createAuditRepo(conn.db);
    this.#clients = createClientRepo(conn.db, this.#audit);
    this.#federations = createFederationRepo(conn.db, this.#audit, modelFiles);
    this.#rounds = createRoundRepo(conn.db, this.#audit, this.#clients, this.#federations);
  }

  /** Runs `fn` in an IMMEDIATE transaction; any throw rolls back everything it wrote. */
  #write<T>(operation: string, fn: () => T): T {
    this.#requireOpen(operation);
    try {
      return this.#conn.sqlite.transaction(fn).immediate();
    } catch (error) {
      throw toCohortError(operation, error);
    }
  }

  /** Runs a read; multi-statement reads get a snapshot (deferred transaction) so they see one consistent state. */
  #read<T>(operation: string, fn: () => T): T {
    this.#requireOpen(operation);
    try {
      return this.#conn.sqlite.transaction(fn).deferred();
    } catch (error) {
      throw toCohortError(operation, error);
    }
  }

  #requireOpen(operation: string): void {
    if (this.#closed) throw new CohortError('FAILED_PRECONDITION', `store: ${operation}: the store at ${this.path} is closed`);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.sqlite.close();
    } finally {
      this.#onClose();
    }
  }

  createEnrollmentToken(token: Omit<EnrollmentTokenRecord, 'usedAt' | 'usedByClientId'>, actor: string): EnrollmentTokenRecord {
    return this.#write('createEnrollmentToken', () => this.#clients.createToken(token, actor));
  }

  enrollClient(input: { tokenHash: string; now: number; client: NewClient }): ClientRecord {
    return this.#write('enrollClient', () => this.#clients.enroll(input));
  }

  getClient(id: string): ClientRecord | null {
    return this.#read('getClient', () => this.#clients.get(id));
  }

  getClientByPublicKey(identityPublicKey: Uint8Array): ClientRecord | null {
    return this.#read('getClientByPublicKey', () => this.#clients.getByPublicKey(identityPublicKey));
  }

  listClients(): ClientRecord[] {
    return this.#read('listClients', () => this.#clients.list());
  }

  setClientStatus(id: string, status: ClientStatus, reason: string | null, now: number, actor: string): ClientRecord {
    return this.#write('setClientStatus', () => this.#clients.setStatus(id, status, reason, now, actor));
  }

  setClientReputation(id: string, reputation: number): void {
    this.#write('setClientReputation', () => this.#clients.setReputation(id, reputation));
  }

  touchClient(id: string, now: number, capabilities?: ClientCapabilitiesRecord): void {
    this.#write('touchClient', () => this.#clients.touch(id, now, capabilities));
  }

  createFederation(federation: NewFederation, initialModel: NewModelFile, actor: string): { federation: FederationRecord; modelVersion: ModelVersionRecord } {
    return this.#write('createFederation', () => this.#federations.create(federation, initialModel, actor));
  }

  getFederation(id: string): FederationRecord | null {
    return this.#read('getFederation', () => this.#federations.get(id));
  }

  getFederationByName(name: string): FederationRecord | null {
    return this.#read('getFederationByName', () => this.#federations.getByName(name));
  }

  listFederations(): FederationRecord[] {
    return this.#read('listFederations', () => this.#federations.list());
  }

  setFederationStatus(id: string, status: FederationStatus, reason: string | null, now: number, actor: string): FederationRecord {
    return this.#write('setFederationStatus', () => this.#federations.setStatus(id, status, reason, now, actor));
  }

  getModelVersion(federationId: string, version: number): ModelVersionRecord | null {
    return this.#read('getModelVersion', () => this.#federations.getModelVersion(federationId, version));
  }

  getModelVersionBySha(federationId: string, sha256: string): ModelVersionRecord | null {
    return this.#read('getModelVersionBySha', () => this.#federations.getModelVersionBySha(federationId, sha256));
  }

  getCurrentModelVersion(federationId: string): ModelVersionRecord {
    return this.#read('getCurrentModelVersion', () => this.#federations.getCurrentModelVersion(federationId));
  }

  listModelVersions(federationId: string): ModelVersionRecord[] {
    return this.#read('listModelVersions', () => this.#federations.listModelVersions(federationId));
  }

  startRound(round: NewRound, actor: string): RoundRecord {
    return this.#write('startRound', () => this.#rounds.start(round, actor));
  }

  updateRound(id: string, patch: RoundPatch): RoundRecord {
    return this.#write('updateRound', () => this.#rounds.update(id, patch));
  }

  recordParticipations(participations: ParticipationRecord[]): void {
    this.#write('recordParticipations', () => this.#rounds.recordParticipations(participations));
  }

  abortRound(id: string, reason: string, now: number, actor: string, participations?: ParticipationRecord[]): RoundRecord {
    return this.#write('abortRound', () => this.#rounds.abort(id, reason, now, actor, participations));
  }

  commitRound(input: CommitRoundInput, actor: string): CommitRoundResult {
    return this.#write('commitRound', () => this.#rounds.commit(input, actor));
  }

  getRound(id: string): RoundRecord | null {
    return this.#read('getRound', () => this.#rounds.get(id));
  }

  listRounds(federationId: string, options?: { limit?: number; beforeNumber?: number }): RoundRecord[] {
    return this.#read('listRounds', () => this.#rounds.list(federationId, options));
  }

  listParticipations(roundId: string): ParticipationRecord[] {
    return this.#read('listParticipations', () => this.#rounds.listParticipations(roundId));
  }

  abortNonTerminalRounds(reason: string, now: number, actor: string): RoundRecord[] {
    return this.#write('abortNonTerminalRounds', () => this.#rounds.abortNonTerminal(reason, now, actor));
  }

  listPrivacyLedger(federationId: string): PrivacyLedgerRecord[] {
    return this.#read('listPrivacyLedger', () => this.#rounds.listPrivacyLedger(federationId));
  }

  listVerdicts(roundId: string): VerdictRecord[] {
    return this.#read('listVerdicts', () => this.#rounds.listVerdicts(roundId));
  }

  listClientHistory(clientId: string, limit: number): ClientHistoryEntry[] {
    return this.#read('listClientHistory', () => this.#rounds.clientHistory(clientId, limit));
  }

  appendAudit(entry: AuditInput, now: number): AuditEntry {
    return this.#write('appendAudit', () => this.#audit.append(entry, now));
  }

  listAudit(options?: { afterSeq?: number; limit?: number }): AuditEntry[] {
    return this.#read('listAudit', () => this.#audit.list(options));
  }

  verifyAuditChain(): AuditVerification {
    return this.#read('verifyAuditChain', () => this.#audit.verify());
  }
}
