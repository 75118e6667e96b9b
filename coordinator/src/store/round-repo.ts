/**
 * Rounds, participations, the privacy ledger and verdicts. Mutations run inside the caller's write transaction
 * (see sqlite-store.ts), which is what makes commitRound all-or-nothing.
 */
import { and, asc, desc, eq, lt, max, notInArray } from 'drizzle-orm';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { AuditRepo } from './audit-repo.js';
import type { ClientRepo } from './client-repo.js';
import type { Db } from './database.js';
import type { FederationRepo } from './federation-repo.js';
import { TERMINAL_FEDERATION_STATUSES } from './federation-repo.js';
import { participations, privacyLedger, rounds, verdicts } from './schema.js';
import { TERMINAL_ROUND_STATES } from './types.js';
import type {
  ClientHistoryEntry,
  ClientRecord,
  CommitRoundInput,
  CommitRoundResult,
  NewRound,
  ParticipationRecord,
  PrivacyLedgerInput,
  PrivacyLedgerRecord,
  RoundPatch,
  RoundRecord,
  RoundState,
  VerdictInput,
  VerdictRecord,
} from './types.js';
import { requireCount, requireFinite, requireFiniteRecord, requireJson, requireNonEmpty, requireTime } from './validate.js';

/** Every round state, mapped to whether it is terminal; a Record so that a new state in RoundState fails to compile here. */
const ROUND_STATE_TERMINAL: Record<RoundState, boolean> = {
  selecting: false,
  configuring: false,
  training: false,
  'advertise-keys': false,
  'share-keys': false,
  'masked-input': false,
  'consistency-check': false,
  unmasking: false,
  aggregating: false,
  committed: true,
  aborted: true,
};

type RoundRow = typeof rounds.$inferSelect;
type ParticipationRow = typeof participations.$inferSelect;
type LedgerRow = typeof privacyLedger.$inferSelect;
type VerdictRow = typeof verdicts.$inferSelect;

function toRound(row: RoundRow): RoundRecord {
  return {
    id: row.id,
    federationId: row.federationId,
    number: row.number,
    state: row.state,
    abortReason: row.abortReason,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    selected: row.selected,
    survivors: row.survivors,
    modelInVersion: row.modelInVersion,
    modelOutVersion: row.modelOutVersion,
    metrics: row.metrics,
    bytesUp: row.bytesUp,
    bytesDown: row.bytesDown,
    config: row.config,
  };
}

function toParticipation(row: ParticipationRow): ParticipationRecord {
  return {
    roundId: row.roundId,
    clientId: row.clientId,
    stageReached: row.stageReached,
    dropped: row.dropped,
    dropoutStage: row.dropoutStage,
    dropoutReason: row.dropoutReason,
    numExamples: row.numExamples,
    metrics: row.metrics,
    bytesUp: row.bytesUp,
    bytesDown: row.bytesDown,
    backend: row.backend,
    verdict: row.verdict,
    contributionId: row.contributionId,
  };
}

function toLedger(row: LedgerRow): PrivacyLedgerRecord {
  return {
    federationId: row.federationId,
    roundId: row.roundId,
    roundNumber: row.roundNumber,
    mechanism: row.mechanism as PrivacyLedgerRecord['mechanism'],
    noiseMultiplier: row.noiseMultiplier,
    samplingRate: row.samplingRate,
    clipNorm: row.clipNorm,
    survivors: row.survivors,
    epsilonAfter: row.epsilonAfter,
    delta: row.delta,
    rdp: row.rdp,
    params: row.params,
    contributors: row.contributors,
    at: row.at,
  };
}

function toVerdict(row: VerdictRow): VerdictRecord {
  return {
    roundId: row.roundId,
    contributionId: row.contributionId,
    clientId: row.clientId,
    bucket: row.bucket,
    verdict: row.verdict,
    reason: row.reason,
    scores: row.scores,
    at: row.at,
  };
}

function isTerminal(state: RoundState): boolean {
  return TERMINAL_ROUND_STATES.includes(state);
}

function isNonTerminalState(state: unknown): state is RoundState {
  return typeof state === 'string' && Object.hasOwn(ROUND_STATE_TERMINAL, state) && !ROUND_STATE_TERMINAL[state as RoundState];
}

function requireNullableString(field: string, value: string | null): void {
  if (value !== null && typeof value !== 'string') throw new CohortError('INVALID_ARGUMENT', `${field} must be a string or null`, { field });
}

function validateParticipation(p: ParticipationRecord, field: string): void {
  requireNonEmpty(`${field}.roundId`, p.roundId);
  requireNonEmpty(`${field}.clientId`, p.clientId);
  requireNonEmpty(`${field}.stageReached`, p.stageReached);
  if (typeof p.dropped !== 'boolean') throw new CohortError('INVALID_ARGUMENT', `${field}.dropped must be a boolean`, { field: `${field}.dropped` });
  requireNullableString(`${field}.dropoutStage`, p.dropoutStage);
  requireNullableString(`${field}.dropoutReason`, p.dropoutReason);
  requireNullableString(`${field}.backend`, p.backend);
  requireNullableString(`${field}.verdict`, p.verdict);
  requireCount(`${field}.numExamples`, p.numExamples);
  requireCount(`${field}.bytesUp`, p.bytesUp);
  requireCount(`${field}.bytesDown`, p.bytesDown);
  requireFiniteRecord(`${field}.metrics`, p.metrics);
}

function validateSurvivors(field: string, survivors: Record<string, number>): void {
  requireFiniteRecord(field, survivors);
  for (const [stage, count] of Object.entries(survivors)) requireCount(`${field}.${stage}`, count);
}

function validatePrivacy(privacy: PrivacyLedgerInput): void {
  requireFinite('privacy.noiseMultiplier', privacy.noiseMultiplier);
  requireFinite('privacy.samplingRate', privacy.samplingRate);
  requireFinite('privacy.epsilonAfter', privacy.epsilonAfter);
  requireFinite('privacy.delta', privacy.delta);
  requireFiniteRecord('privacy.rdp', privacy.rdp);
  requireFiniteRecord('privacy.params', privacy.params);
  if (!Array.isArray(privacy.contributors) || privacy.contributors.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 200)) {
    throw new CohortError('INVALID_ARGUMENT', 'privacy.contributors must be a list of client ids', { field: 'privacy.contributors' });
  }
  requireFinite('privacy.clipNorm', privacy.clipNorm);
  requireCount('privacy.survivors', privacy.survivors);
  if (!['central', 'distributed', 'local'].includes(privacy.mechanism)) {
    throw new CohortError('INVALID_ARGUMENT', `privacy.mechanism must be central, distributed or local, got "${String(privacy.mechanism)}"`, { field: 'privacy.mechanism' });
  }
  const ranges: [string, boolean][] = [
    ['privacy.clipNorm must be > 0', privacy.clipNorm > 0],
    ['privacy.noiseMultiplier must be >= 0', privacy.noiseMultiplier >= 0],
    ['privacy.samplingRate must be in (0, 1]', privacy.samplingRate > 0 && privacy.samplingRate <= 1],
    ['privacy.epsilonAfter must be >= 0', privacy.epsilonAfter >= 0],
    ['privacy.delta must be in [0, 1)', privacy.delta >= 0 && privacy.delta < 1],
  ];
  for (const [message, ok] of ranges) {
    if (!ok) throw new CohortError('INVALID_ARGUMENT', message, { field: message.split(' ')[0] });
  }
}

function validateVerdicts(list: readonly VerdictInput[]): void {
  const seen = new Set<string>();
  list.forEach((v, i) => {
    const field = `verdicts[${i}]`;
    requireNonEmpty(`${field}.contributionId`, v.contributionId);
    requireNullableString(`${field}.clientId`, v.clientId);
    if (v.bucket !== null) requireCount(`${field}.bucket`, v.bucket);
    requireNonEmpty(`${field}.verdict`, v.verdict);
    if (typeof v.reason !== 'string') throw new CohortError('INVALID_ARGUMENT', `${field}.reason must be a string`, { field: `${field}.reason` });
    requireFiniteRecord(`${field}.scores`, v.scores);
    if (seen.has(v.contributionId)) {
      throw new CohortError('INVALID_ARGUMENT', `${field}.contributionId "${v.contributionId}" appears twice in one round`, { field: `${field}.contributionId` });
    }
    seen.add(v.contributionId);
  });
}

/** Creates the round repository over a drizzle handle and the repositories it links to. */
export function createRoundRepo(db: Db, audit: AuditRepo, clientRepo: ClientRepo, federationRepo: FederationRepo) {
  function get(id: string): RoundRecord | null {
    const row = db.select().from(rounds).where(eq(rounds.id, id)).get();
    return row ? toRound(row) : null;
  }

  function requireRound(id: string): RoundRecord {
    const round = get(id);
    if (!round) throw new CohortError('ROUND_NOT_FOUND', `round ${id} does not exist`, { roundId: id });
    return round;
  }

  function requireOpenRound(id: string, doing: string): RoundRecord {
    const round = requireRound(id);
    if (isTerminal(round.state)) {
      throw new CohortError('ROUND_WRONG_STAGE', `round ${id} is already ${round.state}; ${doing}`, { roundId: id, state: round.state });
    }
    return round;
  }

  /** Inserts or replaces participations of `round` (latest report wins: a client's row moves forward each stage). */
  function upsertParticipations(round: RoundRecord, list: readonly ParticipationRecord[]): void {
    list.forEach((p, i) => {
      const field = `participations[${i}]`;
      validateParticipation(p, field);
      if (p.roundId !== round.id) {
        throw new CohortError('INVALID_ARGUMENT', `${field}.roundId is ${p.roundId}, expected round ${round.id}`, { field: `${field}.roundId` });
      }
      clientRepo.requireClient(p.clientId);
      const values = {
        stageReached: p.stageReached,
        dropped: p.dropped,
        dropoutStage: p.dropoutStage,
        dropoutReason: p.dropoutReason,
        numExamples: p.numExamples,
        metrics: p.metrics,
        bytesUp: p.bytesUp,
        bytesDown: p.bytesDown,
        backend: p.backend,
        verdict: p.verdict,
        contributionId: p.contributionId,
      };
      db.insert(participations)
        .values({ roundId: p.roundId, clientId: p.clientId, ...values })
        .onConflictDoUpdate({ target: [participations.roundId, participations.clientId], set: values })
        .run();
    });
  }

  function markAborted(round: RoundRecord, reason: string, now: number, actor: string): RoundRecord {
    const row = db.update(rounds).set({ state: 'aborted', abortReason: reason, endedAt: now }).where(eq(rounds.id, round.id)).returning().get();
    if (!row) throw new CohortError('ROUND_NOT_FOUND', `round ${round.id} does not exist`, { roundId: round.id });
    audit.append(
      { actor, action: 'round.aborted', subject: round.id, details: { federationId: round.federationId, number: round.number, stage: round.state, reason } },
      now,
    );
    return toRound(row);
  }

  return {
    get,

    start(input: NewRound, actor: string): RoundRecord {
      requireNonEmpty('round.id', input.id);
      requireTime('round.startedAt', input.startedAt);
      requireCount('round.modelInVersion', input.modelInVersion);
      requireJson('round.config', input.config);
      const federation = federationRepo.requireFederation(input.federationId);
      if (federation.status !== 'running') {
        throw new CohortError('FEDERATION_WRONG_STATUS', `federation ${federation.id} is ${federation.status}; rounds start only while it is running`, {
          federationId: federation.id,
          status: federation.status,
        });
      }
      // Rounds of one federation are sequential: each trains the model the previous one committed.
      const open = db
        .select({ id: rounds.id, number: rounds.number, state: rounds.state })
        .from(rounds)
        .where(and(eq(rounds.federationId, federation.id), notInArray(rounds.state, [...TERMINAL_ROUND_STATES])))
        .get();
      if (open) {
        throw new CohortError('FAILED_PRECONDITION', `federation ${federation.id} already has round ${open.number} (${open.id}) in progress (state ${open.state}); commit or abort it first`, {
          federationId: federation.id,
          roundId: open.id,
        });
      }
      if (input.modelInVersion !== federation.currentModelVersion) {
        throw new CohortError('INVALID_ARGUMENT', `round.modelInVersion is ${input.modelInVersion} but federation ${federation.id}'s current model is version ${federation.currentModelVersion}`, {
          field: 'round.modelInVersion',
        });
      }
      if (get(input.id)) throw new CohortError('ALREADY_EXISTS', `round ${input.id} already exists`, { roundId: input.id });
      const last = db.select({ number: max(rounds.number) }).from(rounds).where(eq(rounds.federationId, federation.id)).get();
      const number = (last?.number ?? 0) + 1;
      const row = db
        .insert(rounds)
        .values({
          id: input.id,
          federationId: federation.id,
          number,
          state: 'selecting',
          abortReason: null,
          startedAt: input.startedAt,
          endedAt: null,
          selected: [],
          survivors: {},
          modelInVersion: input.modelInVersion,
          modelOutVersion: null,
          metrics: {},
          bytesUp: 0,
          bytesDown: 0,
          config: input.config,
        })
        .returning()
        .get();
      audit.append({ actor, action: 'round.started', subject: input.id, details: { federationId: federation.id, number, modelInVersion: input.modelInVersion } }, input.startedAt);
      return toRound(row);
    },

    update(id: string, patch: RoundPatch): RoundRecord {
      const round = requireOpenRound(id, 'a terminal round cannot change');
      const set: Partial<typeof rounds.$inferInsert> = {};
      if (patch.state !== undefined) {
        if (!isNonTerminalState(patch.state)) {
          throw new CohortError('INVALID_ARGUMENT', `patch.state must be a non-terminal round state (use commitRound or abortRound to end a round), got "${String(patch.state)}"`, {
            field: 'patch.state',
          });
        }
        set.state = patch.state;
      }
      if (patch.selected !== undefined) {
        if (!Array.isArray(patch.selected) || patch.selected.some((c) => typeof c !== 'string' || c.length === 0)) {
          throw new CohortError('INVALID_ARGUMENT', 'patch.selected must be an array of client ids', { field: 'patch.selected' });
        }
        set.selected = patch.selected;
      }
      if (patch.survivors !== undefined) {
        validateSurvivors('patch.survivors', patch.survivors);
        set.survivors = patch.survivors;
      }
      if (patch.metrics !== undefined) {
        requireFiniteRecord('patch.metrics', patch.metrics);
        set.metrics = patch.metrics;
      }
      if (patch.bytesUp !== undefined) {
        requireCount('patch.bytesUp', patch.bytesUp);
        set.bytesUp = patch.bytesUp;
      }
      if (patch.bytesDown !== undefined) {
        requireCount('patch.bytesDown', patch.bytesDown);
        set.bytesDown = patch.bytesDown;
      }
      if (Object.keys(set).length === 0) return round;
      const row = db.update(rounds).set(set).where(eq(rounds.id, id)).returning().get();
      if (!row) throw new CohortError('ROUND_NOT_FOUND', `round ${id} does not exist`, { roundId: id });
      return toRound(row);
    },

    recordParticipations(list: readonly ParticipationRecord[]): void {
      const byRound = new Map<string, RoundRecord>();
      for (const p of list) {
        if (!byRound.has(p.roundId)) byRound.set(p.roundId, requireOpenRound(p.roundId, 'its participations can no longer change'));
      }
      for (const round of byRound.values()) upsertParticipations(round, list.filter((p) => p.roundId === round.id));
    },

    abort(id: string, reason: string, now: number, actor: string, list: readonly ParticipationRecord[] = []): RoundRecord {
      requireNonEmpty('reason', reason);
      requireTime('now', now);
      const round = requireOpenRound(id, 'it cannot be aborted');
      upsertParticipations(round, list);
      return markAborted(round, reason, now, actor);
    },

    commit(input: CommitRoundInput, actor: string): CommitRoundResult {
      requireTime('now', input.now);
      requireFiniteRecord('metrics', input.metrics);
      validateSurvivors('survivors', input.survivors);
      requireCount('bytesUp', input.bytesUp);
      requireCount('bytesDown', input.bytesDown);
      if (input.privacy) validatePrivacy(input.privacy);
      const verdictList = input.verdicts ?? [];
      validateVerdicts(verdictList);

      const round = requireOpenRound(input.roundId, 'it cannot be committed');
      const federation = federationRepo.requireFederation(round.federationId);
      if (TERMINAL_FEDERATION_STATUSES.includes(federation.status)) {
        throw new CohortError('FEDERATION_WRONG_STATUS', `federation ${federation.id} is ${federation.status}; round ${round.id} cannot be committed`, {
          federationId: federation.id,
          status: federation.status,
        });
      }
      if (round.modelInVersion !== federation.currentModelVersion) {
        throw new CohortError('ROUND_STALE', `round ${round.id} trained model version ${round.modelInVersion} but federation ${federation.id} is at version ${federation.currentModelVersion}`, {
          roundId: round.id,
        });
      }
      federationRepo.requireModelFile('model', input.model, federation);
      const parent = federationRepo.getCurrentModelVersion(federation.id);
      const version = parent.version + 1;

      const modelVersion = federationRepo.insertModelVersion({
        federationId: federation.id,
        version,
        model: input.model,
        parentSha256: parent.sha256,
        roundId: round.id,
        metrics: input.metrics,
        createdAt: input.now,
      });
      upsertParticipations(round, input.participations);
      const roundRow = db
        .update(rounds)
        .set({
          state: 'committed',
          endedAt: input.now,
          survivors: input.survivors,
          metrics: input.metrics,
          modelOutVersion: version,
          bytesUp: input.bytesUp,
          bytesDown: input.bytesDown,
        })
        .where(eq(rounds.id, round.id))
        .returning()
        .get();
      if (!roundRow) throw new CohortError('ROUND_NOT_FOUND', `round ${round.id} does not exist`, { roundId: round.id });

      if (input.privacy) {
        db.insert(privacyLedger)
          .values({ roundId: round.id, federationId: federation.id, roundNumber: round.number, ...input.privacy, at: input.now })
          .run();
      }
      const verdictCounts: Record<string, number> = {};
      for (const v of verdictList) {
        if (v.clientId !== null) clientRepo.requireClient(v.clientId);
        db.insert(verdicts)
          .values({ roundId: round.id, contributionId: v.contributionId, clientId: v.clientId, bucket: v.bucket, verdict: v.verdict, reason: v.reason, scores: v.scores, at: input.now })
          .run();
        verdictCounts[v.verdict] = (verdictCounts[v.verdict] ?? 0) + 1;
      }
      const quarantined: ClientRecord[] = [];
      if (input.reputation !== undefined) {
        for (const outcome of input.reputation.outcomes) {
          const changed = clientRepo.score(outcome, input.reputation.policy, `round ${round.number} of federation ${federation.name}`, input.now, actor);
          if (changed !== null) quarantined.push(changed);
        }
      }

      audit.append(
        {
          actor,
          action: 'round.committed',
          subject: round.id,
          details: {
            federationId: federation.id,
            number: round.number,
            modelVersion: version,
            sha256: input.model.sha256,
            parentSha256: parent.sha256,
            sizeBytes: input.model.sizeBytes,
            optimizerStateSha256: input.model.optimizerStateSha256,
            participants: input.participations.length,
            dropped: input.participations.filter((p) => p.dropped).length,
            survivors: input.survivors,
            metrics: input.metrics,
            epsilonAfter: input.privacy ? input.privacy.epsilonAfter : null,
            verdicts: verdictCounts,
          },
        },
        input.now,
      );
      const updatedFederation = federationRepo.advance(federation, version, input.completesFederation, input.now, actor);
      return { round: toRound(roundRow), modelVersion, federation: updatedFederation, quarantined };
    },

    list(federationId: string, options: { limit?: number; beforeNumber?: number } = {}): RoundRecord[] {
      const where =
        options.beforeNumber === undefined ? eq(rounds.federationId, federationId) : and(eq(rounds.federationId, federationId), lt(rounds.number, options.beforeNumber));
      const query = db.select().from(rounds).where(where).orderBy(desc(rounds.number));
      if (options.limit === undefined) return query.all().map(toRound);
      requireCount('limit', options.limit);
      return query.limit(options.limit).all().map(toRound);
    },

    listParticipations(roundId: string): ParticipationRecord[] {
      return db.select().from(participations).where(eq(participations.roundId, roundId)).orderBy(asc(participations.clientId)).all().map(toParticipation);
    },

    abortNonTerminal(reason: string, now: number, actor: string): RoundRecord[] {
      requireNonEmpty('reason', reason);
      requireTime('now', now);
      const open = db
        .select()
        .from(rounds)
        .where(notInArray(rounds.state, [...TERMINAL_ROUND_STATES]))
        .orderBy(asc(rounds.startedAt), asc(rounds.id))
        .all()
        .map(toRound);
      return open.map((round) => markAborted(round, reason, now, actor));
    },

    listPrivacyLedger(federationId: string): PrivacyLedgerRecord[] {
      return db.select().from(privacyLedger).where(eq(privacyLedger.federationId, federationId)).orderBy(asc(privacyLedger.roundNumber)).all().map(toLedger);
    },

    listVerdicts(roundId: string): VerdictRecord[] {
      return db.select().from(verdicts).where(eq(verdicts.roundId, roundId)).orderBy(asc(verdicts.id)).all().map(toVerdict);
    },

    /** A client's rounds, newest first: its participation and the verdict it was judged by (its own or its bucket's). */
    clientHistory(clientId: string, limit: number): ClientHistoryEntry[] {
      requireCount('limit', limit);
      const rows = db
        .select({ participation: participations, round: rounds, verdict: verdicts })
        .from(participations)
        .innerJoin(rounds, eq(rounds.id, participations.roundId))
        .leftJoin(verdicts, and(eq(verdicts.roundId, participations.roundId), eq(verdicts.contributionId, participations.contributionId)))
        .where(eq(participations.clientId, clientId))
        .orderBy(desc(rounds.startedAt), desc(rounds.number))
        .limit(limit)
        .all();
      return rows.map(({ participation, round, verdict }) => ({
        federationId: round.federationId,
        roundId: round.id,
        roundNumber: round.number,
        roundState: round.state,
        startedAt: round.startedAt,
        participation: toParticipation(participation),
        verdict: verdict === null ? null : toVerdict(verdict),
      }));
    },
  };
}

/** The round repository's operations. */
export type RoundRepo = ReturnType<typeof createRoundRepo>;
