/**
 * The coordinator's SQLite schema (drizzle sqlite-core). drizzle-kit generates coordinator/drizzle/ from this file;
 * edit here, then `npm run db:generate` and commit the new migration.
 *
 * Conventions: times are integer milliseconds since the Unix epoch; hashes are lowercase SHA-256 hex; JSON columns
 * hold plain JSON text (never NaN/Infinity, which JSON cannot carry); the store's repositories are the only readers.
 */
import { sql } from 'drizzle-orm';
import { blob, check, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { ModelLayout } from '../../../shared/src/core/tensor/layout.js';
import type { ClientCapabilitiesRecord, ClientStatus, FederationStatus, RoundState } from './types.js';

/** Enrolled edge nodes, keyed by id; the Ed25519 identity key is unique across all clients. */
export const clients = sqliteTable(
  'clients',
  {
    id: text('id').primaryKey(),
    identityPublicKey: blob('identity_public_key', { mode: 'buffer' }).notNull(),
    displayName: text('display_name').notNull(),
    status: text('status').$type<ClientStatus>().notNull(),
    statusReason: text('status_reason'),
    statusChangedAt: integer('status_changed_at').notNull(),
    reputation: real('reputation').notNull().default(1),
    /** Rounds whose verdicts have scored this client (reputation needs a few before it can quarantine). */
    scoredRounds: integer('scored_rounds').notNull().default(0),
    /** Suspicion, Σ(badness − round's mean badness) and Σ p(1 − p) over scored rounds (see reputation.ts). */
    suspicionExcess: real('suspicion_excess').notNull().default(0),
    suspicionVariance: real('suspicion_variance').notNull().default(0),
    capabilities: text('capabilities', { mode: 'json' }).$type<ClientCapabilitiesRecord>().notNull(),
    enrolledAt: integer('enrolled_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
  },
  (t) => [
    uniqueIndex('clients_identity_public_key_unique').on(t.identityPublicKey),
    check('clients_status_check', sql`${t.status} IN ('active', 'quarantined', 'revoked')`),
    check('clients_reputation_check', sql`${t.reputation} >= 0 AND ${t.reputation} <= 1`),
    check('clients_identity_public_key_length_check', sql`length(${t.identityPublicKey}) = 32`),
  ],
);

/** One-time enrollment tokens; only the SHA-256 of a token is stored. */
export const enrollmentTokens = sqliteTable(
  'enrollment_tokens',
  {
    id: text('id').primaryKey(),
    tokenHash: text('token_hash').notNull(),
    label: text('label').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
    usedByClientId: text('used_by_client_id').references(() => clients.id),
  },
  (t) => [
    uniqueIndex('enrollment_tokens_token_hash_unique').on(t.tokenHash),
    // Used tokens must name their client, and unused ones must not: one column cannot drift from the other.
    check('enrollment_tokens_used_check', sql`(${t.usedAt} IS NULL) = (${t.usedByClientId} IS NULL)`),
  ],
);

/** Federations: one model being trained, with its spec, architecture and progress. */
export const federations = sqliteTable(
  'federations',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    status: text('status').$type<FederationStatus>().notNull(),
    statusReason: text('status_reason'),
    spec: text('spec', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    topologyJson: text('topology_json').notNull(),
    layout: text('layout', { mode: 'json' }).$type<ModelLayout>().notNull(),
    roundsTarget: integer('rounds_target').notNull(),
    roundsCommitted: integer('rounds_committed').notNull().default(0),
    currentModelVersion: integer('current_model_version').notNull().default(0),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('federations_name_unique').on(t.name),
    check('federations_status_check', sql`${t.status} IN ('created', 'running', 'paused', 'completed', 'failed', 'budget-exhausted')`),
  ],
);

/** Rounds of a federation, numbered from 1; aborted rounds keep their number. */
export const rounds = sqliteTable(
  'rounds',
  {
    id: text('id').primaryKey(),
    federationId: text('federation_id')
      .notNull()
      .references(() => federations.id),
    number: integer('number').notNull(),
    state: text('state').$type<RoundState>().notNull(),
    abortReason: text('abort_reason'),
    startedAt: integer('started_at').notNull(),
    endedAt: integer('ended_at'),
    selected: text('selected', { mode: 'json' }).$type<string[]>().notNull(),
    survivors: text('survivors', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    modelInVersion: integer('model_in_version').notNull(),
    modelOutVersion: integer('model_out_version'),
    metrics: text('metrics', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    bytesUp: integer('bytes_up').notNull().default(0),
    bytesDown: integer('bytes_down').notNull().default(0),
    config: text('config', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
  },
  (t) => [
    uniqueIndex('rounds_federation_number_unique').on(t.federationId, t.number),
    // Start-up recovery looks for rounds that are not terminal.
    index('rounds_state_idx').on(t.state),
  ],
);

/** Model versions of a federation; the weights live in the content-addressed file store under `sha256`. */
export const modelVersions = sqliteTable(
  'model_versions',
  {
    id: text('id').primaryKey(),
    federationId: text('federation_id')
      .notNull()
      .references(() => federations.id),
    version: integer('version').notNull(),
    sha256: text('sha256').notNull(),
    parentSha256: text('parent_sha256'),
    sizeBytes: integer('size_bytes').notNull(),
    roundId: text('round_id').references(() => rounds.id),
    optimizerStateSha256: text('optimizer_state_sha256'),
    metrics: text('metrics', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('model_versions_federation_version_unique').on(t.federationId, t.version),
    index('model_versions_federation_sha_idx').on(t.federationId, t.sha256),
  ],
);

/** What each selected client did in a round. */
export const participations = sqliteTable(
  'participations',
  {
    roundId: text('round_id')
      .notNull()
      .references(() => rounds.id),
    clientId: text('client_id')
      .notNull()
      .references(() => clients.id),
    stageReached: text('stage_reached').notNull(),
    dropped: integer('dropped', { mode: 'boolean' }).notNull(),
    dropoutStage: text('dropout_stage'),
    dropoutReason: text('dropout_reason'),
    numExamples: integer('num_examples').notNull(),
    metrics: text('metrics', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    bytesUp: integer('bytes_up').notNull(),
    bytesDown: integer('bytes_down').notNull(),
    backend: text('backend'),
    verdict: text('verdict'),
    /** The contribution the client was judged in: its own id in plaintext, its bucket's in bucketed secure mode. */
    contributionId: text('contribution_id'),
  },
  (t) => [
    primaryKey({ columns: [t.roundId, t.clientId] }),
    // A client's history across rounds (and the foreign key check when a client is looked up).
    index('participations_client_idx').on(t.clientId),
  ],
);

/** Privacy spent by each committed round (at most one entry per round). */
export const privacyLedger = sqliteTable(
  'privacy_ledger',
  {
    roundId: text('round_id')
      .primaryKey()
      .references(() => rounds.id),
    federationId: text('federation_id')
      .notNull()
      .references(() => federations.id),
    roundNumber: integer('round_number').notNull(),
    /** 'central' | 'distributed' | 'local'. */
    mechanism: text('mechanism').notNull().default('central'),
    noiseMultiplier: real('noise_multiplier').notNull(),
    samplingRate: real('sampling_rate').notNull(),
    /** L2 clip norm C of the round, model units. */
    clipNorm: real('clip_norm').notNull().default(0),
    /** Clients whose (clipped, noised) contribution went into the round. */
    survivors: integer('survivors').notNull().default(0),
    epsilonAfter: real('epsilon_after').notNull(),
    delta: real('delta').notNull(),
    rdp: text('rdp', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    /**
     * What the accountant needs beyond q and z to recompute the round, by mechanism: Skellam's l2Bound, l1Bound,
     * centralVariance (integer units) and scale; adaptive clipping's updateNoiseMultiplier, countNoise,
     * noisedQuantile and nextClipNorm.
     */
    params: text('params', { mode: 'json' }).$type<Record<string, number>>().notNull().default({}),
    /** Clients whose noised contribution went into the round (local mode accounts each client's rounds). */
    contributors: text('contributors', { mode: 'json' }).$type<string[]>().notNull().default([]),
    at: integer('at').notNull(),
  },
  (t) => [index('privacy_ledger_federation_round_idx').on(t.federationId, t.roundNumber)],
);

/** Robust-aggregation verdicts, one per contribution (client update or bucket sum) per round. */
export const verdicts = sqliteTable(
  'verdicts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    roundId: text('round_id')
      .notNull()
      .references(() => rounds.id),
    contributionId: text('contribution_id').notNull(),
    clientId: text('client_id').references(() => clients.id),
    bucket: integer('bucket'),
    verdict: text('verdict').notNull(),
    reason: text('reason').notNull(),
    scores: text('scores', { mode: 'json' }).$type<Record<string, number>>().notNull(),
    at: integer('at').notNull(),
  },
  (t) => [
    uniqueIndex('verdicts_round_contribution_unique').on(t.roundId, t.contributionId),
    index('verdicts_client_idx').on(t.clientId),
  ],
);

/**
 * Append-only, hash-chained audit trail. `seq` is AUTOINCREMENT so sqlite_sequence remembers the highest seq ever
 * written, which lets verification notice entries deleted from the tail. Triggers (migration 0001) refuse UPDATE
 * and DELETE.
 */
export const auditLog = sqliteTable(
  'audit_log',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    subject: text('subject').notNull(),
    details: text('details', { mode: 'json' }).$type<Record<string, unknown>>().notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
);
