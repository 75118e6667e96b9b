// The SQLite store: the contract suite on a temp file and on :memory:, then what only a real file can show
// (reopening, migrations, tampering through a second connection, a failure injected at the last write).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import { BUSY_TIMEOUT_MS, migrationsFolder, openDatabase } from '../../coordinator/src/store/database.js';
import { auditEntryHash, openStore } from '../../coordinator/src/store/index.js';
import type { AuditEntry, CoordinatorStore } from '../../coordinator/src/store/index.js';
import { commitInput, describeCoordinatorStore, expectCohortError, startRound, storeSnapshot } from './coordinator-store-contract.js';
import { OPERATOR, T0, createRunningFederation, enroll, makeTempDir, removeTempDir } from './fixtures.js';

describeCoordinatorStore('SQLite temp file', () => {
  const dir = makeTempDir('store');
  const store = openStore(path.join(dir, 'cohort.db'));
  return {
    store,
    dispose() {
      store.close();
      removeTempDir(dir);
    },
  };
});

describeCoordinatorStore('SQLite :memory:', () => {
  const store = openStore(':memory:');
  return { store, dispose: () => store.close() };
});

const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../coordinator/drizzle');

/** Fills a store with one of everything: two clients, a federation, a committed and an open round. */
function populate(store: CoordinatorStore): void {
  enroll(store, 1);
  enroll(store, 2);
  createRunningFederation(store, 'f1');
  startRound(store, 'f1', 'r1', T0 + 10);
  store.commitRound(commitInput(store, 'r1', 1, T0 + 20), 'coordinator');
  startRound(store, 'f1', 'r2', T0 + 30);
  store.updateRound('r2', { state: 'training', selected: ['c1', 'c2'] });
}

describe('SQLite store on a file', () => {
  let dir: string;
  let dbPath: string;
  let store: CoordinatorStore;
  let raw: Database.Database | null = null;

  beforeEach(() => {
    dir = makeTempDir('store-file');
    dbPath = path.join(dir, 'cohort.db');
    store = openStore(dbPath);
  });

  afterEach(() => {
    raw?.close();
    raw = null;
    store.close();
    removeTempDir(dir);
  });

  /** A second connection to the same file, as an attacker or another tool would open it. */
  function rawConnection(): Database.Database {
    raw = new Database(dbPath);
    return raw;
  }

  it('shows everything written before close after reopening the file, and the audit chain still verifies', () => {
    populate(store);
    const before = storeSnapshot(store);
    const modelSha = store.getCurrentModelVersion('f1').sha256;
    store.close();
    store = openStore(dbPath);
    expect(storeSnapshot(store)).toEqual(before);
    expect(store.modelFiles.read(modelSha)).toHaveLength(40);
    expect(store.verifyAuditChain()).toMatchObject({ ok: true });
  });

  it('after a restart without close, abortNonTerminalRounds ends the open round and the next round trains the last committed model', () => {
    populate(store);
    // Another open of the same file, as a restarted coordinator would do while the old connection never closed.
    const restarted = openStore(dbPath);
    try {
      const aborted = restarted.abortNonTerminalRounds('coordinator restarted', T0 + 1_000, 'coordinator');
      expect(aborted.map((r) => [r.id, r.state, r.abortReason])).toEqual([['r2', 'aborted', 'coordinator restarted']]);
      expect(restarted.getCurrentModelVersion('f1').version).toBe(1);
      expect(startRound(restarted, 'f1', 'r3', T0 + 2_000)).toMatchObject({ number: 3, modelInVersion: 1 });
    } finally {
      restarted.close();
    }
  });

  it('applies each committed migration exactly once, also across reopening', () => {
    const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
    expect(journal.entries.length).toBeGreaterThanOrEqual(2);
    store.close();
    store = openStore(dbPath);
    const db = rawConnection();
    expect(db.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get()).toEqual({ n: journal.entries.length });
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['clients', 'enrollment_tokens', 'federations', 'model_versions', 'rounds', 'participations', 'privacy_ledger', 'verdicts', 'audit_log']));
  });

  it('opens connections with WAL, synchronous=FULL, foreign keys on and a busy timeout', () => {
    const { sqlite } = openDatabase(path.join(dir, 'pragmas.db'));
    try {
      expect(sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      // 2 = FULL: every commit fsyncs the WAL, so a committed round survives a power loss.
      expect(sqlite.pragma('synchronous', { simple: true })).toBe(2);
      expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(sqlite.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS);
    } finally {
      sqlite.close();
    }
  });

  it('finds the committed migrations by walking up to the package named "cohort"', () => {
    expect(migrationsFolder()).toBe(MIGRATIONS_DIR);
  });

  it('leaves the file in WAL mode and enforces foreign keys in the schema', () => {
    const db = rawConnection();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.pragma('foreign_keys = ON');
    expect(() => db.prepare("INSERT INTO rounds (id, federation_id, number, state, started_at, selected, survivors, model_in_version, metrics, config) VALUES ('r', 'nope', 1, 'selecting', 0, '[]', '{}', 0, '{}', '{}')").run()).toThrow(
      /FOREIGN KEY/,
    );
  });

  it('keeps model files in <directory of the database>/models by default', () => {
    expect(store.modelFiles.dir).toBe(path.join(dir, 'models'));
    const { sha256 } = store.modelFiles.put(new Uint8Array([1, 2, 3]));
    expect(fs.existsSync(path.join(dir, 'models', sha256.slice(0, 2), `${sha256}.bin`))).toBe(true);
  });

  it('creates missing parent directories of the database file', () => {
    const nested = openStore(path.join(dir, 'a', 'b', 'nested.db'));
    try {
      expect(fs.existsSync(path.join(dir, 'a', 'b', 'nested.db'))).toBe(true);
    } finally {
      nested.close();
    }
  });

  it('refuses calls after close with FAILED_PRECONDITION, and close() twice is harmless', () => {
    store.close();
    expectCohortError(() => store.listClients(), 'FAILED_PRECONDITION', /is closed/);
    store.close();
  });

  it('detects an audit row rewritten through a second connection and reports its seq', () => {
    populate(store);
    expect(store.verifyAuditChain()).toMatchObject({ ok: true });
    const db = rawConnection();
    // The append-only trigger stops a plain UPDATE; an attacker with the file can drop it, which the chain still catches.
    expect(() => db.prepare("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3").run()).toThrow(/append-only/);
    db.exec('DROP TRIGGER audit_log_no_update');
    db.prepare("UPDATE audit_log SET details = json_set(details, '$.displayName', 'mallory') WHERE seq = 4").run();
    expect(store.verifyAuditChain()).toEqual({ ok: false, brokenAtSeq: 4, reason: expect.stringMatching(/entry 4 does not match its hash/) });
  });

  it('detects a rewritten audit row whose hash was recomputed, at the next entry whose link no longer matches', () => {
    populate(store);
    const db = rawConnection();
    db.exec('DROP TRIGGER audit_log_no_update');
    const row = store.listAudit().find((e) => e.seq === 5)!;
    const forged: AuditEntry = { ...row, details: { ...row.details, name: 'forged' } };
    db.prepare('UPDATE audit_log SET details = ?, hash = ? WHERE seq = 5').run(JSON.stringify(forged.details), auditEntryHash(forged));
    expect(store.verifyAuditChain()).toEqual({ ok: false, brokenAtSeq: 6, reason: expect.stringMatching(/does not link to entry 5/) });
  });

  it('detects an audit row deleted from the middle and rows cut from the end', () => {
    populate(store);
    const total = store.listAudit().length;
    const db = rawConnection();
    expect(() => db.prepare('DELETE FROM audit_log WHERE seq = 2').run()).toThrow(/append-only/);
    db.exec('DROP TRIGGER audit_log_no_delete');
    db.prepare('DELETE FROM audit_log WHERE seq > ?').run(total - 2);
    expect(store.verifyAuditChain()).toEqual({ ok: false, brokenAtSeq: total - 1, reason: expect.stringMatching(/removed from the end/) });
    db.prepare('DELETE FROM audit_log WHERE seq = 2').run();
    expect(store.verifyAuditChain()).toEqual({ ok: false, brokenAtSeq: 2, reason: expect.stringMatching(/entry 2 is missing/) });
  });

  it('never reuses the seq of entries cut from the end, so appending cannot hide the cut', () => {
    populate(store);
    const total = store.listAudit().length;
    const db = rawConnection();
    db.exec('DROP TRIGGER audit_log_no_delete');
    db.prepare('DELETE FROM audit_log WHERE seq = ?').run(total);
    const next = store.appendAudit({ actor: OPERATOR, action: 'test.after-cut', subject: 'x' }, T0 + 5_000);
    expect(next.seq).toBe(total + 1);
    expect(store.verifyAuditChain()).toMatchObject({ ok: false, brokenAtSeq: total });
  });

  it('commitRound failing at its very last write (the audit entry) leaves no model version, participation, ledger, verdict or round change', () => {
    enroll(store, 1);
    enroll(store, 2);
    createRunningFederation(store, 'f1');
    startRound(store, 'f1', 'r1', T0 + 10);
    const before = storeSnapshot(store);
    const db = rawConnection();
    db.exec("CREATE TRIGGER fail_round_commit BEFORE INSERT ON audit_log WHEN NEW.action = 'round.committed' BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
    const error = expectCohortError(() => store.commitRound(commitInput(store, 'r1', 1, T0 + 20, { completesFederation: true }), 'coordinator'), 'INTERNAL', /injected failure/);
    expect(error.message).toMatch(/commitRound/);
    expect(storeSnapshot(store)).toEqual(before);
    const counts = ['model_versions', 'participations', 'privacy_ledger', 'verdicts'].map((table) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
    expect(counts).toEqual([1, 0, 0, 0]);
    db.exec('DROP TRIGGER fail_round_commit');
    expect(store.commitRound(commitInput(store, 'r1', 1, T0 + 21), 'coordinator').round.state).toBe('committed');
  });

  it('stores only the token hash: the plaintext token is nowhere in the database file', () => {
    enroll(store, 1);
    store.close();
    const bytes = Buffer.concat([dbPath, `${dbPath}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)));
    expect(bytes.includes('tok-c1-0123456789abcdef')).toBe(false);
    expect(bytes.includes(sha256Hex('tok-c1-0123456789abcdef'))).toBe(true);
    store = openStore(dbPath);
  });
});

describe('SQLite store in memory', () => {
  it('keeps model files in a temp directory that close() removes', () => {
    const store = openStore(':memory:');
    const dir = store.modelFiles.dir;
    store.modelFiles.put(new Uint8Array([9]));
    expect(fs.existsSync(dir)).toBe(true);
    store.close();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('uses and keeps an explicit model directory', () => {
    const dir = makeTempDir('models');
    try {
      const store = openStore(':memory:', { modelDir: dir });
      expect(store.modelFiles.dir).toBe(dir);
      const { sha256 } = store.modelFiles.put(new Uint8Array([9]));
      store.close();
      expect(fs.existsSync(path.join(dir, sha256.slice(0, 2), `${sha256}.bin`))).toBe(true);
    } finally {
      removeTempDir(dir);
    }
  });

  it('starts empty each time: nothing is shared between two in-memory stores', () => {
    const a = openStore(':memory:');
    const b = openStore(':memory:');
    try {
      enroll(a, 1);
      expect(b.listClients()).toEqual([]);
    } finally {
      a.close();
      b.close();
    }
  });
});
