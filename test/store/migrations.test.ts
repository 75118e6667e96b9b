/**
 * Upgrading a database written by an earlier version: migrations apply over existing rows, keep every row and
 * reference, and leave the new constraints in force. Migration 0002 rebuilds `federations` (SQLite cannot alter a
 * CHECK constraint) while rounds and model versions reference it.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrationsFolder, openDatabase } from '../../coordinator/src/store/database.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A database as migrations 0000..(count−1) left it, recorded in drizzle's journal table as the migrator does. */
function databaseAt(count: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cohort-migrate-'));
  dirs.push(dir);
  const file = path.join(dir, 'cohort.db');
  const db = new Database(file);
  const journal = JSON.parse(fs.readFileSync(path.join(migrationsFolder(), 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string; when: number }[] };
  db.exec('CREATE TABLE "__drizzle_migrations" (id INTEGER PRIMARY KEY AUTOINCREMENT, hash text NOT NULL, created_at numeric)');
  for (const entry of journal.entries.slice(0, count)) {
    const text = fs.readFileSync(path.join(migrationsFolder(), `${entry.tag}.sql`), 'utf8');
    for (const statement of text.split('--> statement-breakpoint')) if (statement.trim() !== '') db.exec(statement);
    db.prepare('INSERT INTO "__drizzle_migrations" (hash, created_at) VALUES (?, ?)').run(createHash('sha256').update(text).digest('hex'), entry.when);
  }
  db.close();
  return file;
}

describe('database upgrade', () => {
  it('0001 → current: federations rebuilt with their rounds and model versions intact, and the new status allowed', () => {
    const file = databaseAt(2);
    const old = new Database(file);
    old.pragma('foreign_keys = ON');
    old.prepare(`INSERT INTO federations (id, name, status, spec, topology_json, layout, rounds_target, created_at, updated_at) VALUES ('f1', 'fed', 'running', '{}', '{}', '{"tensors":[],"totalElements":0}', 3, 1, 1)`).run();
    old.prepare(`INSERT INTO rounds (id, federation_id, number, state, started_at, selected, survivors, model_in_version, metrics, config) VALUES ('r1', 'f1', 1, 'committed', 1, '[]', '{}', 0, '{}', '{}')`).run();
    old.prepare(`INSERT INTO model_versions (id, federation_id, version, sha256, size_bytes, round_id, metrics, created_at) VALUES ('m1', 'f1', 1, 'aa', 4, 'r1', '{}', 2)`).run();
    old.close();

    const { sqlite } = openDatabase(file);
    try {
      expect(sqlite.prepare('SELECT id, name, status, rounds_target FROM federations').all()).toEqual([{ id: 'f1', name: 'fed', status: 'running', rounds_target: 3 }]);
      expect(sqlite.prepare('SELECT id, federation_id FROM rounds').all()).toEqual([{ id: 'r1', federation_id: 'f1' }]);
      expect(sqlite.prepare('SELECT id, round_id FROM model_versions').all()).toEqual([{ id: 'm1', round_id: 'r1' }]);
      expect(sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(sqlite.pragma('foreign_key_check')).toEqual([]);
      sqlite.prepare(`UPDATE federations SET status = 'budget-exhausted' WHERE id = 'f1'`).run();
      expect(() => sqlite.prepare(`UPDATE federations SET status = 'bogus' WHERE id = 'f1'`).run()).toThrow(/CHECK constraint failed/);
      // References to the rebuilt table are still enforced.
      expect(() => sqlite.prepare(`INSERT INTO rounds (id, federation_id, number, state, started_at, selected, survivors, model_in_version, metrics, config) VALUES ('r2', 'nope', 1, 'committed', 1, '[]', '{}', 0, '{}', '{}')`).run()).toThrow(/FOREIGN KEY constraint failed/);
      const ledger = (sqlite.prepare(`SELECT name FROM pragma_table_info('privacy_ledger')`).all() as { name: string }[]).map((c) => c.name);
      expect(ledger).toEqual(expect.arrayContaining(['mechanism', 'clip_norm', 'survivors', 'params', 'contributors']));
    } finally {
      sqlite.close();
    }
  });

  it('0002 → current: ledger entries of central rounds keep their figures and read back with empty mechanism parameters', () => {
    const file = databaseAt(3);
    const old = new Database(file);
    old.prepare(`INSERT INTO federations (id, name, status, spec, topology_json, layout, rounds_target, created_at, updated_at) VALUES ('f1', 'fed', 'running', '{}', '{}', '{"tensors":[],"totalElements":0}', 3, 1, 1)`).run();
    old.prepare(`INSERT INTO rounds (id, federation_id, number, state, started_at, selected, survivors, model_in_version, metrics, config) VALUES ('r1', 'f1', 1, 'committed', 1, '[]', '{}', 0, '{}', '{}')`).run();
    old.prepare(
      `INSERT INTO privacy_ledger (round_id, federation_id, round_number, mechanism, noise_multiplier, sampling_rate, clip_norm, survivors, epsilon_after, delta, rdp, at) VALUES ('r1', 'f1', 1, 'central', 1.5, 1, 1, 4, 2.985, 0.00001, '{"2":0.44}', 5)`,
    ).run();
    old.close();

    const { sqlite } = openDatabase(file);
    try {
      expect(sqlite.prepare('SELECT mechanism, noise_multiplier, epsilon_after, rdp, params, contributors FROM privacy_ledger').all()).toEqual([
        { mechanism: 'central', noise_multiplier: 1.5, epsilon_after: 2.985, rdp: '{"2":0.44}', params: '{}', contributors: '[]' },
      ]);
    } finally {
      sqlite.close();
    }
  });
});
