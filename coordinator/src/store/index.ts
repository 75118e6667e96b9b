/**
 * The coordinator's persistence layer: openStore() and the record types. Nothing drizzle- or better-sqlite3-shaped
 * is exported from here.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CohortError } from '../../../shared/src/core/errors.js';
import { openDatabase } from './database.js';
import { createModelFileStore } from './model-files.js';
import { SqliteCoordinatorStore } from './sqlite-store.js';
import type { CoordinatorStore } from './types.js';

export type * from './types.js';
export { TERMINAL_ROUND_STATES } from './types.js';
export { createModelFileStore } from './model-files.js';
export { GENESIS_HASH, auditEntryHash, canonicalJson } from './audit-chain.js';

/** Options for openStore. */
export interface OpenStoreOptions {
  /**
   * Directory of the content-addressed model files. Default: `<directory of the database file>/models`; for
   * ":memory:", a fresh temporary directory that close() deletes along with the in-memory database.
   */
  modelDir?: string;
}

/**
 * Opens (creating if needed) the coordinator's SQLite store at `path` (":memory:" allowed): sets WAL,
 * synchronous=FULL, foreign keys and a busy timeout, applies the committed migrations from coordinator/drizzle,
 * and opens the model file store. One process should own a store file; other connections may read.
 */
export function openStore(dbPath: string, options: OpenStoreOptions = {}): CoordinatorStore {
  const inMemory = dbPath === ':memory:';
  let modelDir = options.modelDir;
  let ownsModelDir = false;
  if (modelDir === undefined) {
    if (inMemory) {
      modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cohort-models-'));
      ownsModelDir = true;
    } else {
      modelDir = path.join(path.dirname(path.resolve(dbPath)), 'models');
    }
  }
  const removeOwnedDir = (): void => {
    if (ownsModelDir && modelDir !== undefined) fs.rmSync(modelDir, { recursive: true, force: true });
  };
  let conn;
  try {
    conn = openDatabase(dbPath);
  } catch (error) {
    removeOwnedDir();
    if (error instanceof CohortError) throw error;
    throw new CohortError('INTERNAL', `store: cannot open ${dbPath}: ${error instanceof Error ? error.message : String(error)}`, { path: dbPath }, { cause: error });
  }
  try {
    const modelFiles = createModelFileStore(modelDir);
    return new SqliteCoordinatorStore(dbPath, conn, modelFiles, removeOwnedDir);
  } catch (error) {
    conn.sqlite.close();
    removeOwnedDir();
    throw error;
  }
}
