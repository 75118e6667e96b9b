/** Federations and their model versions. Mutations run inside the caller's write transaction (see sqlite-store.ts). */
import fs from 'node:fs';
import { and, asc, eq } from 'drizzle-orm';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { AuditRepo } from './audit-repo.js';
import type { Db } from './database.js';
import { federations, modelVersions } from './schema.js';
import type { FederationRecord, FederationStatus, ModelFileStore, ModelVersionRecord, NewFederation, NewModelFile } from './types.js';
import { requireCount, requireJson, requireNonEmpty, requireSha256, requireTime } from './validate.js';

const FEDERATION_STATUSES: readonly FederationStatus[] = ['created', 'running', 'paused', 'completed', 'failed', 'budget-exhausted'];

/** Statuses a federation never leaves. */
// A spent privacy budget never comes back: 'budget-exhausted' is as final as 'completed'.
export const TERMINAL_FEDERATION_STATUSES: readonly FederationStatus[] = ['completed', 'failed', 'budget-exhausted'];

/** Bytes per weight in a model file (float32 little-endian). */
const BYTES_PER_WEIGHT = 4;

type FederationRow = typeof federations.$inferSelect;
type ModelVersionRow = typeof modelVersions.$inferSelect;

function toFederation(row: FederationRow): FederationRecord {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    statusReason: row.statusReason,
    spec: row.spec,
    topologyJson: row.topologyJson,
    layout: row.layout,
    roundsTarget: row.roundsTarget,
    roundsCommitted: row.roundsCommitted,
    currentModelVersion: row.currentModelVersion,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toModelVersion(row: ModelVersionRow): ModelVersionRecord {
  return {
    id: row.id,
    federationId: row.federationId,
    version: row.version,
    sha256: row.sha256,
    parentSha256: row.parentSha256,
    sizeBytes: row.sizeBytes,
    roundId: row.roundId,
    optimizerStateSha256: row.optimizerStateSha256,
    metrics: row.metrics,
    createdAt: row.createdAt,
  };
}

/** Model version ids are derived, so the same lineage always gets the same ids. */
function modelVersionId(federationId: string, version: number): string {
  return `${federationId}:v${version}`;
}

/** Audit action for a status change, named like the operator events in proto/fl/v1/operator.proto. */
function statusAction(from: FederationStatus, to: FederationStatus): string {
  // Only a reason can change without a status change; nothing moves back to 'created' (setStatus refuses it).
  if (from === to || to === 'created') return 'federation.status-reason-changed';
  switch (to) {
    case 'running':
      return from === 'paused' ? 'federation.resumed' : 'federation.started';
    case 'paused':
      return 'federation.paused';
    case 'completed':
      return 'federation.completed';
    case 'failed':
      return 'federation.failed';
    case 'budget-exhausted':
      return 'federation.budget-exhausted';
  }
}

/** Creates the federation repository over a drizzle handle, the audit log and the model file store. */
export function createFederationRepo(db: Db, audit: AuditRepo, modelFiles: ModelFileStore) {
  function get(id: string): FederationRecord | null {
    const row = db.select().from(federations).where(eq(federations.id, id)).get();
    return row ? toFederation(row) : null;
  }

  function requireFederation(id: string): FederationRecord {
    const federation = get(id);
    if (!federation) throw new CohortError('FEDERATION_NOT_FOUND', `federation ${id} does not exist`, { federationId: id });
    return federation;
  }

  function getModelVersion(federationId: string, version: number): ModelVersionRecord | null {
    const row = db
      .select()
      .from(modelVersions)
      .where(and(eq(modelVersions.federationId, federationId), eq(modelVersions.version, version)))
      .get();
    return row ? toModelVersion(row) : null;
  }

  function getCurrentModelVersion(federationId: string): ModelVersionRecord {
    const federation = requireFederation(federationId);
    const current = getModelVersion(federationId, federation.currentModelVersion);
    if (!current) {
      throw new CohortError('INTERNAL', `federation ${federationId} points at model version ${federation.currentModelVersion}, which is not recorded`, { federationId });
    }
    return current;
  }

  /**
   * The database must never reference weights that are not on disk: the file is checked to exist (and have the
   * announced size) before the row that names it is written.
   */
  function requireModelFile(field: string, model: NewModelFile, federation: { id: string; layout: NewFederation['layout'] }): void {
    requireSha256(`${field}.sha256`, model.sha256);
    requireCount(`${field}.sizeBytes`, model.sizeBytes);
    const expectedBytes = federation.layout.totalElements * BYTES_PER_WEIGHT;
    if (model.sizeBytes !== expectedBytes) {
      throw new CohortError(
        'INVALID_ARGUMENT',
        `${field}.sizeBytes is ${model.sizeBytes} but federation ${federation.id}'s layout holds ${federation.layout.totalElements} float32 weights (${expectedBytes} bytes)`,
        { field: `${field}.sizeBytes` },
      );
    }
    if (!modelFiles.has(model.sha256)) {
      throw new CohortError('MODEL_NOT_FOUND', `${field}: model file ${model.sha256} is not in the model store (${modelFiles.dir}); put() it first`, { sha256: model.sha256 });
    }
    const onDisk = fs.statSync(modelFiles.pathOf(model.sha256)).size;
    if (onDisk !== model.sizeBytes) {
      throw new CohortError('INVALID_ARGUMENT', `${field}.sizeBytes is ${model.sizeBytes} but model file ${model.sha256} has ${onDisk} bytes`, { field: `${field}.sizeBytes` });
    }
    if (model.optimizerStateSha256 !== null) {
      requireSha256(`${field}.optimizerStateSha256`, model.optimizerStateSha256);
      if (!modelFiles.has(model.optimizerStateSha256)) {
        throw new CohortError('MODEL_NOT_FOUND', `${field}: optimizer state file ${model.optimizerStateSha256} is not in the model store (${modelFiles.dir}); put() it first`, {
          sha256: model.optimizerStateSha256,
        });
      }
    }
  }

  function insertModelVersion(input: {
    federationId: string;
    version: number;
    model: NewModelFile;
    parentSha256: string | null;
    roundId: string | null;
    metrics: Record<string, number>;
    createdAt: number;
  }): ModelVersionRecord {
    const row = db
      .insert(modelVersions)
      .values({
        id: modelVersionId(input.federationId, input.version),
        federationId: input.federationId,
        version: input.version,
        sha256: input.model.sha256,
        parentSha256: input.parentSha256,
        sizeBytes: input.model.sizeBytes,
        roundId: input.roundId,
        optimizerStateSha256: input.model.optimizerStateSha256,
        metrics: input.metrics,
        createdAt: input.createdAt,
      })
      .returning()
      .get();
    return toModelVersion(row);
  }

  return {
    get,
    requireFederation,
    getModelVersion,
    getCurrentModelVersion,
    requireModelFile,
    insertModelVersion,

    getByName(name: string): FederationRecord | null {
      const row = db.select().from(federations).where(eq(federations.name, name)).get();
      return row ? toFederation(row) : null;
    },

    list(): FederationRecord[] {
      return db.select().from(federations).orderBy(asc(federations.createdAt), asc(federations.name)).all().map(toFederation);
    },

    getModelVersionBySha(federationId: string, sha256: string): ModelVersionRecord | null {
      // The same weights can recur (a round whose update was all zeros); the earliest version is the canonical one.
      const row = db
        .select()
        .from(modelVersions)
        .where(and(eq(modelVersions.federationId, federationId), eq(modelVersions.sha256, sha256)))
        .orderBy(asc(modelVersions.version))
        .limit(1)
        .get();
      return row ? toModelVersion(row) : null;
    },

    listModelVersions(federationId: string): ModelVersionRecord[] {
      return db.select().from(modelVersions).where(eq(modelVersions.federationId, federationId)).orderBy(asc(modelVersions.version)).all().map(toModelVersion);
    },

    create(federation: NewFederation, initialModel: NewModelFile, actor: string): { federation: FederationRecord; modelVersion: ModelVersionRecord } {
      requireNonEmpty('federation.id', federation.id);
      requireNonEmpty('federation.name', federation.name);
      requireJson('federation.spec', federation.spec);
      requireNonEmpty('federation.topologyJson', federation.topologyJson);
      try {
        JSON.parse(federation.topologyJson);
      } catch (error) {
        throw new CohortError('INVALID_ARGUMENT', `federation.topologyJson is not valid JSON: ${(error as Error).message}`, { field: 'federation.topologyJson' });
      }
      requireJson('federation.layout', federation.layout);
      requireCount('federation.layout.totalElements', federation.layout.totalElements);
      if (!Number.isSafeInteger(federation.roundsTarget) || federation.roundsTarget < 1) {
        throw new CohortError('INVALID_ARGUMENT', `federation.roundsTarget must be a positive integer, got ${federation.roundsTarget}`, { field: 'federation.roundsTarget' });
      }
      if (federation.status !== 'created' && federation.status !== 'running') {
        throw new CohortError('INVALID_ARGUMENT', `federation.status must be "created" or "running", got "${String(federation.status)}"`, { field: 'federation.status' });
      }
      requireTime('federation.createdAt', federation.createdAt);
      requireModelFile('initialModel', initialModel, federation);

      const sameName = db.select({ id: federations.id }).from(federations).where(eq(federations.name, federation.name)).get();
      if (sameName) throw new CohortError('ALREADY_EXISTS', `federation name "${federation.name}" is already used by federation ${sameName.id}`, { name: federation.name });
      if (get(federation.id)) throw new CohortError('ALREADY_EXISTS', `federation ${federation.id} already exists`, { federationId: federation.id });

      const row = db
        .insert(federations)
        .values({
          id: federation.id,
          name: federation.name,
          status: federation.status,
          statusReason: null,
          spec: federation.spec,
          topologyJson: federation.topologyJson,
          layout: federation.layout,
          roundsTarget: federation.roundsTarget,
          roundsCommitted: 0,
          currentModelVersion: 0,
          createdAt: federation.createdAt,
          updatedAt: federation.createdAt,
        })
        .returning()
        .get();
      const modelVersion = insertModelVersion({
        federationId: federation.id,
        version: 0,
        model: initialModel,
        parentSha256: null,
        roundId: null,
        metrics: {},
        createdAt: federation.createdAt,
      });
      audit.append(
        {
          actor,
          action: 'federation.created',
          subject: federation.id,
          details: {
            name: federation.name,
            status: federation.status,
            roundsTarget: federation.roundsTarget,
            modelVersion: 0,
            modelSha256: initialModel.sha256,
            modelSizeBytes: initialModel.sizeBytes,
          },
        },
        federation.createdAt,
      );
      return { federation: toFederation(row), modelVersion };
    },

    setStatus(id: string, status: FederationStatus, reason: string | null, now: number, actor: string): FederationRecord {
      if (!FEDERATION_STATUSES.includes(status)) {
        throw new CohortError('INVALID_ARGUMENT', `status must be one of ${FEDERATION_STATUSES.join(', ')}, got "${String(status)}"`, { field: 'status' });
      }
      requireTime('now', now);
      const federation = requireFederation(id);
      if (federation.status === status && federation.statusReason === reason) return federation;
      if (TERMINAL_FEDERATION_STATUSES.includes(federation.status) && status !== federation.status) {
        throw new CohortError('FEDERATION_WRONG_STATUS', `federation ${id} is ${federation.status}; its status can no longer change`, { federationId: id, status: federation.status });
      }
      if (status === 'created' && federation.status !== 'created') {
        throw new CohortError('FEDERATION_WRONG_STATUS', `federation ${id} is ${federation.status}; it cannot go back to created`, { federationId: id, status: federation.status });
      }
      return updateStatus(federation, status, reason, now, actor);
    },

    /** Records progress after a committed round (and completion, when reached). */
    advance(federation: FederationRecord, version: number, completes: boolean, now: number, actor: string): FederationRecord {
      const roundsCommitted = federation.roundsCommitted + 1;
      const row = db.update(federations).set({ roundsCommitted, currentModelVersion: version, updatedAt: now }).where(eq(federations.id, federation.id)).returning().get();
      if (!row) throw new CohortError('FEDERATION_NOT_FOUND', `federation ${federation.id} does not exist`, { federationId: federation.id });
      if (!completes || row.status === 'completed') return toFederation(row);
      return updateStatus(toFederation(row), 'completed', `reached its round target (${roundsCommitted} of ${row.roundsTarget} rounds committed)`, now, actor);
    },
  };

  function updateStatus(federation: FederationRecord, status: FederationStatus, reason: string | null, now: number, actor: string): FederationRecord {
    const row = db.update(federations).set({ status, statusReason: reason, updatedAt: now }).where(eq(federations.id, federation.id)).returning().get();
    if (!row) throw new CohortError('FEDERATION_NOT_FOUND', `federation ${federation.id} does not exist`, { federationId: federation.id });
    audit.append({ actor, action: statusAction(federation.status, status), subject: federation.id, details: { from: federation.status, to: status, reason } }, now);
    return toFederation(row);
  }
}

/** The federation repository's operations. */
export type FederationRepo = ReturnType<typeof createFederationRepo>;

