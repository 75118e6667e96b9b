/** Enrollment tokens and clients. Mutations run inside the caller's write transaction (see sqlite-store.ts). */
import type { ClientOutcome, ReputationPolicy } from '../../../shared/src/core/aggregation/reputation.js';
import { nextReputation, nextSuspicion, shouldQuarantine, suspicionZ } from '../../../shared/src/core/aggregation/reputation.js';
import { asc, eq } from 'drizzle-orm';
import { CohortError } from '../../../shared/src/core/errors.js';
import type { AuditRepo } from './audit-repo.js';
import type { Db } from './database.js';
import { clients, enrollmentTokens } from './schema.js';
import type { ClientCapabilitiesRecord, ClientRecord, ClientStatus, EnrollmentTokenRecord, NewClient } from './types.js';
import { requireFinite, requireJson, requireNonEmpty, requireSha256, requireTime } from './validate.js';

/** Ed25519 public keys are 32 bytes. */
const IDENTITY_KEY_BYTES = 32;

const CLIENT_STATUSES: readonly ClientStatus[] = ['active', 'quarantined', 'revoked'];

/** Audit action for a move into each status (named like the operator events in proto/fl/v1/operator.proto). */
const STATUS_ACTIONS: Record<ClientStatus, string> = {
  active: 'client.reactivated',
  quarantined: 'client.quarantined',
  revoked: 'client.revoked',
};

type ClientRow = typeof clients.$inferSelect;
type TokenRow = typeof enrollmentTokens.$inferSelect;

function toClient(row: ClientRow): ClientRecord {
  return {
    id: row.id,
    // Copy out of the driver's Buffer: callers get a plain Uint8Array they may keep or mutate.
    identityPublicKey: new Uint8Array(row.identityPublicKey),
    displayName: row.displayName,
    status: row.status,
    statusReason: row.statusReason,
    reputation: row.reputation,
    scoredRounds: row.scoredRounds,
    suspicion: suspicionZ({ excess: row.suspicionExcess, variance: row.suspicionVariance }),
    enrolledAt: row.enrolledAt,
    lastSeenAt: row.lastSeenAt,
    capabilities: row.capabilities,
  };
}

function toToken(row: TokenRow): EnrollmentTokenRecord {
  return {
    id: row.id,
    tokenHash: row.tokenHash,
    label: row.label,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    usedAt: row.usedAt,
    usedByClientId: row.usedByClientId,
  };
}

function requireIdentityKey(field: string, key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.byteLength !== IDENTITY_KEY_BYTES) {
    throw new CohortError('INVALID_ARGUMENT', `${field} must be a ${IDENTITY_KEY_BYTES}-byte Ed25519 public key, got ${key instanceof Uint8Array ? `${key.byteLength} bytes` : typeof key}`, { field });
  }
}

function keyBuffer(key: Uint8Array): Buffer {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/** Creates the client repository over a drizzle handle and the audit log it writes to. */
export function createClientRepo(db: Db, audit: AuditRepo) {
  function getRow(id: string): ClientRow | undefined {
    return db.select().from(clients).where(eq(clients.id, id)).get();
  }

  function get(id: string): ClientRecord | null {
    const row = getRow(id);
    return row ? toClient(row) : null;
  }

  function requireRow(id: string): ClientRow {
    const row = getRow(id);
    if (!row) throw new CohortError('CLIENT_NOT_FOUND', `client ${id} is not enrolled`, { clientId: id });
    return row;
  }

  function requireClient(id: string): ClientRecord {
    return toClient(requireRow(id));
  }

  function getByPublicKey(identityPublicKey: Uint8Array): ClientRecord | null {
    requireIdentityKey('identityPublicKey', identityPublicKey);
    const row = db.select().from(clients).where(eq(clients.identityPublicKey, keyBuffer(identityPublicKey))).get();
    return row ? toClient(row) : null;
  }

  return {
    get,
    requireClient,
    getByPublicKey,

    list(): ClientRecord[] {
      return db.select().from(clients).orderBy(asc(clients.enrolledAt), asc(clients.id)).all().map(toClient);
    },

    createToken(token: Omit<EnrollmentTokenRecord, 'usedAt' | 'usedByClientId'>, actor: string): EnrollmentTokenRecord {
      requireNonEmpty('token.id', token.id);
      requireSha256('token.tokenHash', token.tokenHash);
      if (typeof token.label !== 'string') throw new CohortError('INVALID_ARGUMENT', 'token.label must be a string', { field: 'token.label' });
      requireTime('token.createdAt', token.createdAt);
      requireTime('token.expiresAt', token.expiresAt);
      if (token.expiresAt <= token.createdAt) {
        throw new CohortError('INVALID_ARGUMENT', `token.expiresAt (${token.expiresAt}) must be after token.createdAt (${token.createdAt})`, { field: 'token.expiresAt' });
      }
      if (db.select({ id: enrollmentTokens.id }).from(enrollmentTokens).where(eq(enrollmentTokens.id, token.id)).get()) {
        throw new CohortError('ALREADY_EXISTS', `enrollment token ${token.id} already exists`, { tokenId: token.id });
      }
      if (db.select({ id: enrollmentTokens.id }).from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, token.tokenHash)).get()) {
        throw new CohortError('ALREADY_EXISTS', `an enrollment token with the same hash already exists (new token ${token.id})`, { tokenId: token.id });
      }
      const row = db
        .insert(enrollmentTokens)
        .values({ id: token.id, tokenHash: token.tokenHash, label: token.label, createdAt: token.createdAt, expiresAt: token.expiresAt })
        .returning()
        .get();
      // Neither the token nor its hash goes into the audit log: the log is shown to operators and exported.
      audit.append({ actor, action: 'enrollment-token.created', subject: token.id, details: { label: token.label, expiresAt: token.expiresAt } }, token.createdAt);
      return toToken(row);
    },

    enroll(input: { tokenHash: string; now: number; client: NewClient }): ClientRecord {
      const { tokenHash, now, client } = input;
      requireSha256('tokenHash', tokenHash);
      requireTime('now', now);
      requireNonEmpty('client.id', client.id);
      requireIdentityKey('client.identityPublicKey', client.identityPublicKey);
      if (typeof client.displayName !== 'string') throw new CohortError('INVALID_ARGUMENT', 'client.displayName must be a string', { field: 'client.displayName' });
      requireJson('client.capabilities', client.capabilities);

      const token = db.select().from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, tokenHash)).get();
      if (!token) throw new CohortError('TOKEN_INVALID', 'enrollment token is not known');
      if (token.usedAt !== null) throw new CohortError('TOKEN_INVALID', 'enrollment token was already used', { tokenId: token.id });
      if (now >= token.expiresAt) throw new CohortError('TOKEN_INVALID', 'enrollment token has expired', { tokenId: token.id, expiresAt: token.expiresAt });

      const holder = getByPublicKey(client.identityPublicKey);
      if (holder) throw new CohortError('ALREADY_EXISTS', `identity key is already enrolled as client ${holder.id}`, { clientId: holder.id });
      if (get(client.id)) throw new CohortError('ALREADY_EXISTS', `client ${client.id} already exists`, { clientId: client.id });

      const row = db
        .insert(clients)
        .values({
          id: client.id,
          identityPublicKey: Buffer.from(client.identityPublicKey),
          displayName: client.displayName,
          status: 'active',
          statusReason: null,
          statusChangedAt: now,
          reputation: 1,
          capabilities: client.capabilities,
          enrolledAt: now,
          // Enrollment is itself contact from the client.
          lastSeenAt: now,
        })
        .returning()
        .get();
      db.update(enrollmentTokens).set({ usedAt: now, usedByClientId: client.id }).where(eq(enrollmentTokens.id, token.id)).run();
      audit.append(
        {
          actor: `client:${client.id}`,
          action: 'client.enrolled',
          subject: client.id,
          details: { tokenId: token.id, tokenLabel: token.label, displayName: client.displayName, identityPublicKey: Buffer.from(client.identityPublicKey).toString('hex') },
        },
        now,
      );
      return toClient(row);
    },

    setStatus(id: string, status: ClientStatus, reason: string | null, now: number, actor: string): ClientRecord {
      if (!CLIENT_STATUSES.includes(status)) throw new CohortError('INVALID_ARGUMENT', `status must be one of ${CLIENT_STATUSES.join(', ')}, got "${String(status)}"`, { field: 'status' });
      requireTime('now', now);
      const client = requireClient(id);
      if (client.status === status && client.statusReason === reason) return client;
      // A revoked identity stays revoked: the node must enroll again with a new key and a new token.
      if (client.status === 'revoked' && status !== 'revoked') {
        throw new CohortError('CLIENT_REVOKED', `client ${id} is revoked; revocation is permanent (enroll a new identity instead)`, { clientId: id });
      }
      // Release from quarantine clears the record that led to it: reputation, suspicion and the rounds scored.
      const cleared = status === 'active' && client.status === 'quarantined' ? { reputation: 1, scoredRounds: 0, suspicionExcess: 0, suspicionVariance: 0 } : {};
      const row = db.update(clients).set({ status, statusReason: reason, statusChangedAt: now, ...cleared }).where(eq(clients.id, id)).returning().get();
      if (!row) throw new CohortError('CLIENT_NOT_FOUND', `client ${id} is not enrolled`, { clientId: id });
      audit.append({ actor, action: STATUS_ACTIONS[status], subject: id, details: { from: client.status, to: status, reason } }, now);
      return toClient(row);
    },

    setReputation(id: string, reputation: number): void {
      requireFinite('reputation', reputation);
      if (reputation < 0 || reputation > 1) throw new CohortError('INVALID_ARGUMENT', `reputation must be in [0, 1], got ${reputation}`, { field: 'reputation' });
      const result = db.update(clients).set({ reputation }).where(eq(clients.id, id)).run();
      if (result.changes === 0) throw new CohortError('CLIENT_NOT_FOUND', `client ${id} is not enrolled`, { clientId: id });
    },

    /** Folds one round's outcome into the client's reputation; quarantines it when the policy says so (audited). */
    score(outcome: ClientOutcome, policy: ReputationPolicy, roundLabel: string, now: number, actor: string): ClientRecord | null {
      const row = requireRow(outcome.clientId);
      const client = toClient(row);
      const reputation = nextReputation(client.reputation, outcome.score, policy);
      const scoredRounds = client.scoredRounds + 1;
      const suspicion = nextSuspicion({ excess: row.suspicionExcess, variance: row.suspicionVariance }, outcome);
      db.update(clients).set({ reputation, scoredRounds, suspicionExcess: suspicion.excess, suspicionVariance: suspicion.variance }).where(eq(clients.id, client.id)).run();
      if (client.status !== 'active' || !shouldQuarantine(suspicion, scoredRounds, policy)) return null;
      const reason =
        `suspicion z ${suspicionZ(suspicion).toFixed(2)} reached ${policy.quarantineZ} after ${scoredRounds} scored rounds ` +
        `(fared worse than its rounds' average by ${suspicion.excess.toFixed(2)} rejections; reputation ${reputation.toFixed(3)}); ` +
        `last: ${outcome.verdict} in ${roundLabel} (${outcome.contributionId}: ${outcome.reason.slice(0, 200)})`;
      return this.setStatus(client.id, 'quarantined', reason, now, actor);
    },

    touch(id: string, now: number, capabilities?: ClientCapabilitiesRecord): void {
      requireTime('now', now);
      if (capabilities !== undefined) requireJson('capabilities', capabilities);
      const result = db
        .update(clients)
        .set(capabilities === undefined ? { lastSeenAt: now } : { lastSeenAt: now, capabilities })
        .where(eq(clients.id, id))
        .run();
      if (result.changes === 0) throw new CohortError('CLIENT_NOT_FOUND', `client ${id} is not enrolled`, { clientId: id });
    },
  };
}

/** The client repository's operations. */
export type ClientRepo = ReturnType<typeof createClientRepo>;
