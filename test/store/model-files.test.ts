// The content-addressed model file store: layout on disk, idempotent atomic writes, verified reads, crash leftovers.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../shared/src/crypto/hash.js';
import { createModelFileStore } from '../../coordinator/src/store/index.js';
import type { ModelFileStore } from '../../coordinator/src/store/index.js';
import { expectCohortError } from './coordinator-store-contract.js';
import { makeTempDir, removeTempDir, weightBytes } from './fixtures.js';

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

describe('model file store', () => {
  let dir: string;
  let files: ModelFileStore;

  beforeEach(() => {
    dir = makeTempDir('model-files');
    files = createModelFileStore(dir);
  });
  afterEach(() => removeTempDir(dir));

  it('writes a blob to <dir>/<sha[0..2]>/<sha>.bin and returns its SHA-256 and size', () => {
    const bytes = weightBytes(3);
    const stored = files.put(bytes);
    expect(stored).toEqual({ sha256: sha256Hex(bytes), sizeBytes: 40 });
    expect(files.pathOf(stored.sha256)).toBe(path.join(dir, stored.sha256.slice(0, 2), `${stored.sha256}.bin`));
    expect(new Uint8Array(fs.readFileSync(files.pathOf(stored.sha256)))).toEqual(bytes);
    expect(files.has(stored.sha256)).toBe(true);
    expect(files.read(stored.sha256)).toEqual(bytes);
  });

  it('leaves only the final file behind: no temp file survives a completed write', () => {
    const a = files.put(weightBytes(1));
    const b = files.put(weightBytes(2));
    expect(listFiles(dir)).toEqual([a, b].map((s) => path.join(s.sha256.slice(0, 2), `${s.sha256}.bin`)).sort());
  });

  it('is idempotent: writing the same bytes again gives the same address and one file', () => {
    const first = files.put(weightBytes(1));
    const second = files.put(weightBytes(1));
    expect(second).toEqual(first);
    expect(listFiles(dir)).toHaveLength(1);
  });

  it('stores empty blobs', () => {
    const stored = files.put(new Uint8Array(0));
    expect(stored.sizeBytes).toBe(0);
    expect(files.read(stored.sha256)).toEqual(new Uint8Array(0));
  });

  it('refuses to read a corrupted file (INTERNAL naming the file), and a later put of the right bytes repairs it', () => {
    const bytes = weightBytes(5);
    const { sha256 } = files.put(bytes);
    const file = files.pathOf(sha256);
    const corrupted = new Uint8Array(bytes);
    corrupted[7] = corrupted[7]! ^ 0x01;
    fs.writeFileSync(file, corrupted);
    expectCohortError(() => files.read(sha256), 'INTERNAL', new RegExp(`${sha256}\\.bin is corrupt`));
    files.put(bytes);
    expect(files.read(sha256)).toEqual(bytes);
  });

  it('throws MODEL_NOT_FOUND for a blob that was never written', () => {
    const missing = sha256Hex('never written');
    expect(files.has(missing)).toBe(false);
    expectCohortError(() => files.read(missing), 'MODEL_NOT_FOUND', new RegExp(missing));
  });

  it('refuses anything but a SHA-256 hex address, so no path can escape the directory', () => {
    expectCohortError(() => files.pathOf('../../etc/passwd'), 'INVALID_ARGUMENT', /sha256/);
    expectCohortError(() => files.read('A'.repeat(64)), 'INVALID_ARGUMENT', /lowercase/);
    expectCohortError(() => files.has('abc'), 'INVALID_ARGUMENT', /sha256/);
  });

  it('sweepTemporaryFiles removes the leftovers of a crash mid-write and keeps every complete blob', () => {
    const kept = files.put(weightBytes(1));
    const shard = path.dirname(files.pathOf(kept.sha256));
    // What a writer killed between open and rename leaves: a partial temp file next to the blobs.
    const other = sha256Hex('other');
    fs.mkdirSync(path.join(dir, other.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(shard, `.${kept.sha256}.1234.abcdef.tmp`), new Uint8Array(3));
    fs.writeFileSync(path.join(dir, other.slice(0, 2), `.${other}.99.000000.tmp`), new Uint8Array(1));
    expect(files.sweepTemporaryFiles()).toBe(2);
    expect(listFiles(dir)).toEqual([path.join(kept.sha256.slice(0, 2), `${kept.sha256}.bin`)]);
    expect(files.read(kept.sha256)).toEqual(weightBytes(1));
    expect(files.sweepTemporaryFiles()).toBe(0);
  });

  it('a crash before the rename leaves the blob absent, never half-written', () => {
    const bytes = weightBytes(8);
    const sha256 = sha256Hex(bytes);
    // The temp file exists with a prefix of the bytes, as if the process died mid-write.
    fs.mkdirSync(path.dirname(files.pathOf(sha256)), { recursive: true });
    fs.writeFileSync(path.join(path.dirname(files.pathOf(sha256)), `.${sha256}.1.ffffff.tmp`), bytes.subarray(0, 10));
    expect(files.has(sha256)).toBe(false);
    expectCohortError(() => files.read(sha256), 'MODEL_NOT_FOUND');
    files.sweepTemporaryFiles();
    expect(files.put(bytes).sha256).toBe(sha256);
    expect(files.read(sha256)).toEqual(bytes);
  });

  it('reopening the directory finds blobs written before', () => {
    const { sha256 } = files.put(weightBytes(4));
    expect(createModelFileStore(dir).read(sha256)).toEqual(weightBytes(4));
  });
});
