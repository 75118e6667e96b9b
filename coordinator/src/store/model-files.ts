/**
 * Content-addressed blob files (model weights, optimizer state): `<dir>/<sha[0..2]>/<sha>.bin`.
 *
 * A blob becomes visible only complete and durable: it is written to a temp file in the same directory, fsynced,
 * renamed over its final name (atomic on POSIX filesystems), and the directory is fsynced so the rename survives a
 * power loss. A crash mid-write leaves only a temp file, which sweepTemporaryFiles() removes at start-up.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CohortError } from '../../../shared/src/core/errors.js';
import { sha256Hex } from '../../../shared/src/crypto/hash.js';
import type { ModelFileStore } from './types.js';
import { requireSha256 } from './validate.js';

const TEMP_SUFFIX = '.tmp';

/** Opens (creating if needed) a content-addressed file store rooted at `dir`. */
export function createModelFileStore(dir: string): ModelFileStore {
  const root = path.resolve(dir);
  fs.mkdirSync(root, { recursive: true });

  function pathOf(sha256: string): string {
    requireSha256('sha256', sha256);
    return path.join(root, sha256.slice(0, 2), `${sha256}.bin`);
  }

  function readVerified(sha256: string): Uint8Array {
    const file = pathOf(sha256);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new CohortError('MODEL_NOT_FOUND', `model file ${sha256} is not in ${root}`, { sha256 });
      throw error;
    }
    const actual = sha256Hex(bytes);
    if (actual !== sha256) {
      throw new CohortError('INTERNAL', `model file ${file} is corrupt: its SHA-256 is ${actual}`, { sha256, actual });
    }
    // Callers view weights as Float32Array, which needs 4-byte alignment; a pooled Buffer may not provide it.
    return bytes.byteOffset % 8 === 0 ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  }

  return {
    dir: root,
    pathOf,

    put(bytes: Uint8Array): { sha256: string; sizeBytes: number } {
      const sha256 = sha256Hex(bytes);
      const file = pathOf(sha256);
      if (fs.existsSync(file)) {
        try {
          readVerified(sha256);
          return { sha256, sizeBytes: bytes.byteLength };
        } catch (error) {
          // A damaged copy is replaced by the good bytes we hold; anything else is a real failure.
          if (!(error instanceof CohortError && error.code === 'INTERNAL')) throw error;
        }
      }
      const shardDir = path.dirname(file);
      if (!fs.existsSync(shardDir)) {
        fs.mkdirSync(shardDir, { recursive: true });
        fsyncDirectory(root);
      }
      const temp = path.join(shardDir, `.${sha256}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
      try {
        const fd = fs.openSync(temp, 'wx', 0o644);
        try {
          let written = 0;
          while (written < bytes.byteLength) written += fs.writeSync(fd, bytes, written, bytes.byteLength - written);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(temp, file);
      } catch (error) {
        fs.rmSync(temp, { force: true });
        throw error;
      }
      fsyncDirectory(shardDir);
      return { sha256, sizeBytes: bytes.byteLength };
    },

    read: readVerified,

    has(sha256: string): boolean {
      return fs.existsSync(pathOf(sha256));
    },

    sweepTemporaryFiles(): number {
      // Only safe while no put() is in flight (start-up): a live writer's temp file looks the same as a dead one's.
      let removed = 0;
      for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const shardDir = path.join(root, entry.name);
        for (const name of fs.readdirSync(shardDir)) {
          if (name.startsWith('.') && name.endsWith(TEMP_SUFFIX)) {
            fs.rmSync(path.join(shardDir, name), { force: true });
            removed += 1;
          }
        }
      }
      return removed;
    },
  };
}

/** Makes a directory's entries (a rename, a new file) durable. Windows cannot open directories; it has no need to. */
function fsyncDirectory(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
