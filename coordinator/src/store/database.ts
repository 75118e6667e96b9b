/**
 * Opening the SQLite database: pragmas, then the committed drizzle migrations. Internal to the store; nothing here
 * is exported past index.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { CohortError } from '../../../shared/src/core/errors.js';
import * as schema from './schema.js';

/** The drizzle handle the repositories use. */
export type Db = BetterSQLite3Database<typeof schema>;

/** An open database: the raw connection (transactions, pragmas) and the drizzle handle over it. */
export interface OpenDatabase {
  sqlite: Database.Database;
  db: Db;
}

/** How long a writer waits for another connection's lock before failing with SQLITE_BUSY, in ms. */
export const BUSY_TIMEOUT_MS = 5_000;

/** Name in the package.json that marks the repository (or installed package) root. */
const PACKAGE_NAME = 'cohort';

/**
 * The migrations folder, found by walking up from this module to the package root. The same code runs as .ts
 * source (vitest, coordinator/src/store/) and compiled (dist/coordinator/src/store/), while the migrations stay
 * in <root>/coordinator/drizzle in both cases.
 */
export function migrationsFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && readPackageName(manifest) === PACKAGE_NAME) {
      return path.join(dir, 'coordinator', 'drizzle');
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new CohortError('INTERNAL', `store: no package.json named "${PACKAGE_NAME}" above ${fileURLToPath(import.meta.url)}; cannot find the migrations`);
    }
    dir = parent;
  }
}

function readPackageName(manifest: string): unknown {
  try {
    return (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: unknown }).name;
  } catch {
    return undefined;
  }
}

/** Opens the database file (":memory:" allowed), sets the pragmas and applies every pending migration. */
export function openDatabase(file: string): OpenDatabase {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const sqlite = new Database(file);
  try {
    // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every commit, so a committed round
    // survives a power loss (NORMAL may lose the last transactions, which would unwind a committed model).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    const db = drizzle(sqlite, { schema });
    // Migrations that rebuild a table (SQLite cannot alter a CHECK constraint) drop and recreate a parent table.
    // They run inside one transaction, where PRAGMA foreign_keys is a no-op, so enforcement is turned off around
    // them and the whole database is checked afterwards: a migration that broke a reference fails the start.
    sqlite.pragma('foreign_keys = OFF');
    migrate(db, { migrationsFolder: migrationsFolder() });
    const broken = sqlite.pragma('foreign_key_check') as unknown[];
    if (broken.length > 0) throw new Error(`database migration left ${broken.length} broken foreign key reference(s): ${JSON.stringify(broken.slice(0, 3))}`);
    sqlite.pragma('foreign_keys = ON');
    return { sqlite, db };
  } catch (error) {
    sqlite.close();
    throw error;
  }
}
