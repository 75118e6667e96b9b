/** Audit log repository: append (inside the caller's transaction), list, and verify the hash chain. */
import { asc, desc, gt, sql } from 'drizzle-orm';
import type { AuditEntry, AuditInput, AuditVerification } from './types.js';
import { GENESIS_HASH, auditEntryHash } from './audit-chain.js';
import type { Db } from './database.js';
import { auditLog } from './schema.js';
import { requireCount, requireJson, requireNonEmpty, requireTime } from './validate.js';

/** Rows read per page while verifying, so a long log is never loaded at once. */
const VERIFY_PAGE = 1_000;

type AuditRow = typeof auditLog.$inferSelect;

function toEntry(row: AuditRow): AuditEntry {
  return { seq: row.seq, at: row.at, actor: row.actor, action: row.action, subject: row.subject, details: row.details, prevHash: row.prevHash, hash: row.hash };
}

/** Audit operations over one database; `append` must run inside a write transaction so seq and link are stable. */
export interface AuditRepo {
  append(input: AuditInput, now: number): AuditEntry;
  list(options?: { afterSeq?: number; limit?: number }): AuditEntry[];
  verify(): AuditVerification;
}

/** Creates the audit repository over a drizzle handle. */
export function createAuditRepo(db: Db): AuditRepo {
  return {
    append(input, now) {
      requireTime('audit.at', now);
      requireNonEmpty('audit.actor', input.actor);
      requireNonEmpty('audit.action', input.action);
      requireNonEmpty('audit.subject', input.subject);
      const details = input.details ?? {};
      requireJson('audit.details', details);
      // Store the parsed-back form so the returned entry, the row and the hash all see identical details.
      const storedDetails = JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
      const last = db.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1).get();
      const unhashed = {
        seq: nextSeq(db, last?.seq ?? 0),
        at: now,
        actor: input.actor,
        action: input.action,
        subject: input.subject,
        details: storedDetails,
        prevHash: last?.hash ?? GENESIS_HASH,
      };
      const entry: AuditEntry = { ...unhashed, hash: auditEntryHash(unhashed) };
      db.insert(auditLog).values(entry).run();
      return entry;
    },

    list(options = {}) {
      const afterSeq = options.afterSeq ?? 0;
      requireCount('afterSeq', afterSeq);
      const query = db.select().from(auditLog).where(gt(auditLog.seq, afterSeq)).orderBy(asc(auditLog.seq));
      if (options.limit !== undefined) {
        requireCount('limit', options.limit);
        return query.limit(options.limit).all().map(toEntry);
      }
      return query.all().map(toEntry);
    },

    verify() {
      let expectedSeq = 1;
      let prevHash = GENESIS_HASH;
      for (;;) {
        const page = db.select().from(auditLog).where(gt(auditLog.seq, expectedSeq - 1)).orderBy(asc(auditLog.seq)).limit(VERIFY_PAGE).all();
        for (const row of page) {
          if (row.seq !== expectedSeq) {
            return { ok: false, brokenAtSeq: expectedSeq, reason: `entry ${expectedSeq} is missing (the next entry is ${row.seq})` };
          }
          if (row.prevHash !== prevHash) {
            return { ok: false, brokenAtSeq: row.seq, reason: `entry ${row.seq} does not link to entry ${row.seq - 1} (prev_hash differs)` };
          }
          if (auditEntryHash(toEntry(row)) !== row.hash) {
            return { ok: false, brokenAtSeq: row.seq, reason: `entry ${row.seq} does not match its hash (its content was changed)` };
          }
          prevHash = row.hash;
          expectedSeq += 1;
        }
        if (page.length < VERIFY_PAGE) break;
      }
      // AUTOINCREMENT remembers the highest seq ever issued: a shorter log means entries were cut from the end.
      const highest = highestIssuedSeq(db);
      if (highest >= expectedSeq) {
        return { ok: false, brokenAtSeq: expectedSeq, reason: `entries ${expectedSeq}..${highest} were removed from the end of the log` };
      }
      return { ok: true, entries: expectedSeq - 1 };
    },
  };
}

/**
 * The seq the next row will get. Taken from sqlite_sequence rather than max(seq)+1 so that, after a tail was cut
 * (which verify reports), a new entry can never reuse a removed seq and make the cut invisible.
 */
function nextSeq(db: Db, lastSeq: number): number {
  return Math.max(lastSeq, highestIssuedSeq(db)) + 1;
}

function highestIssuedSeq(db: Db): number {
  const row = db.get<{ seq: number } | undefined>(sql`SELECT seq FROM sqlite_sequence WHERE name = ${'audit_log'}`);
  return row?.seq ?? 0;
}

